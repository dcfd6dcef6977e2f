package supervisor

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readyCheck is a health check of the test's own, as a third party would
// write one: each run gets a probe of its own, which passes once the run
// printed "ready".
type readyCheck struct {
	mu    sync.Mutex
	procs []sdk.Process // the process of each run probed
}

func (c *readyCheck) Probe(run Run) Probe {
	c.mu.Lock()
	c.procs = append(c.procs, run.Process)
	c.mu.Unlock()
	return &readyProbe{}
}

func (c *readyCheck) runs() []sdk.Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sdk.Process(nil), c.procs...)
}

type readyProbe struct {
	mu    sync.Mutex
	ready bool
}

func (p *readyProbe) ObserveLine(line []byte) {
	if bytes.Equal(line, []byte("ready")) {
		p.mu.Lock()
		p.ready = true
		p.mu.Unlock()
	}
}

func (p *readyProbe) Check(context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ready {
		return "ready", nil
	}
	return "", errors.New("not ready yet")
}

func healthOf(m *Manager, name string) HealthStatus {
	info, _ := m.Process(name)
	if info.Health == nil {
		return ""
	}
	return info.Health.Status
}

// TestHealthCheckProbesEachRun: any HealthCheck gets a probe per run, with
// that run's process, and a probe that observes lines sees the run's
// output; what it saw does not carry over to the next run.
func TestHealthCheckProbesEachRun(t *testing.T) {
	r := newFakeRunner()
	check := &readyCheck{}
	m := startManager(t, spec("web", r, func(s *ProcessSpec) { s.Health = fastHealth(check) }))
	requireState(t, m, "web", StateRunning)
	first := r.last()
	require.Eventually(t, func() bool { return healthOf(m, "web") == HealthUnhealthy }, waitFor, tick)
	_, err := first.outW.Write([]byte("starting\nready\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return healthOf(m, "web") == HealthHealthy }, waitFor, tick)

	require.NoError(t, m.RestartProcess(context.Background(), "web"))
	second := r.last()
	require.NotSame(t, first, second)
	// The new run's probe has seen nothing: unhealthy until it prints.
	require.Eventually(t, func() bool { return healthOf(m, "web") == HealthUnhealthy }, waitFor, tick)
	_, err = second.outW.Write([]byte("ready\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return healthOf(m, "web") == HealthHealthy }, waitFor, tick)

	runs := check.runs()
	require.Len(t, runs, 2)
	assert.Same(t, first, runs[0].(*fakeProc))
	assert.Same(t, second, runs[1].(*fakeProc))
}
