package tui

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sampleMetrics = `# HELP prox_process_cpu_seconds_total CPU time the running process used.
# TYPE prox_process_cpu_seconds_total counter
prox_process_cpu_seconds_total{process="web",replica=""} 12.5
prox_process_cpu_seconds_total{process="api",replica="1"} 0.25
prox_process_cpu_seconds_total{process="we\"ird\\name",replica=""} 1
# TYPE prox_process_memory_bytes gauge
prox_process_memory_bytes{process="web",replica=""} 1.048576e+07
prox_process_memory_bytes{process="api",replica="1"} 524288
prox_process_restarts_total{process="web",replica=""} 3
prox_process_memory_bytes{process="broken" 5
`

func TestParseUsage(t *testing.T) {
	u := parseUsage([]byte(sampleMetrics))
	require.Len(t, u, 3)
	assert.Equal(t, usage{cpuSeconds: 12.5, memBytes: 10485760, hasCPU: true, hasMem: true}, u["web"])
	assert.Equal(t, usage{cpuSeconds: 0.25, memBytes: 524288, hasCPU: true, hasMem: true}, u["api.1"], "an instance is NAME.REPLICA")
	assert.Equal(t, usage{cpuSeconds: 1, hasCPU: true}, u[`we"ird\name`], "escapes in a label's value")
}

func TestTableShowsCPUAndMemory(t *testing.T) {
	m := newTestModel(t, Config{})
	m.Update(processesMsg{ps: sampleProcesses()})
	m.Update(usageMsg{at: t0, u: map[string]usage{"web": {cpuSeconds: 10, memBytes: 50 << 20, hasCPU: true, hasMem: true}, "db": {cpuSeconds: 3, hasCPU: true}}})
	v := m.View()
	assert.Regexp(t, `web +● running +healthy +101 +– +50M `, lineOf(v, "web"), "one reading: memory, no CPU percentage yet")
	m.Update(usageMsg{at: t0.Add(2 * time.Second), u: map[string]usage{"web": {cpuSeconds: 11, memBytes: 1536 << 10, hasCPU: true, hasMem: true}, "db": {cpuSeconds: 7, hasCPU: true}}})
	v = m.View()
	assert.Regexp(t, `web +● running +healthy +101 +50\.0 +1\.5M `, lineOf(v, "web"), "1 s of CPU in 2 s: 50 %")
	assert.Regexp(t, `db +● running +- +55 +200 +– `, lineOf(v, "db"), "two cores' worth; no memory figure")
	assert.Regexp(t, `worker +✗ crashed +- +- +– +– `, lineOf(v, "worker"), "not running: no figures")
	// The next poll keeps them.
	m.Update(processesMsg{ps: sampleProcesses()})
	assert.Regexp(t, `web +● running +healthy +101 +50\.0 +1\.5M `, lineOf(m.View(), "web"))
	// A prox without /metrics: dashes.
	m.Update(usageMsg{at: t0.Add(3 * time.Second)})
	assert.Regexp(t, `web +● running +healthy +101 +– +– `, lineOf(m.View(), "web"))
}
