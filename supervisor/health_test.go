package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

// countingProbe fails every check, each with output of its own: "refused
// 1", "refused 2", ...
type countingProbe struct {
	mu sync.Mutex
	n  int
}

func (p *countingProbe) Probe(Run) Probe { return p }

func (p *countingProbe) Check(context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	return fmt.Sprintf("refused %d", p.n), errors.New("exit status 1")
}

// The health a process shows is its last check's, output and time, also
// while the status stays the same; only a change of status is an event.
func TestHealthShowsTheLastCheck(t *testing.T) {
	r := newFakeRunner()
	probe := &countingProbe{}
	m := startManager(t, spec("db", r, func(s *ProcessSpec) { s.Health = fastHealth(probe) }))
	events := recordEvents(t, m)
	requireState(t, m, "db", StateRunning)
	require.Eventually(t, func() bool { return healthOf(m, "db") == HealthUnhealthy }, waitFor, tick)
	info, _ := m.Process("db")
	first := *info.Health
	assert.Regexp(t, `^exit status 1: refused \d+$`, first.Output, "the error and what the check printed")

	var last HealthInfo
	require.Eventually(t, func() bool {
		info, _ := m.Process("db")
		last = *info.Health
		return last.Output != first.Output
	}, waitFor, tick, "the output of later checks is shown")
	assert.Equal(t, HealthUnhealthy, last.Status)
	assert.Regexp(t, `^exit status 1: refused \d+$`, last.Output)
	assert.True(t, last.CheckedAt.After(first.CheckedAt), "the time of the last check")
	events.mu.Lock()
	defer events.mu.Unlock()
	n := 0
	for _, ev := range events.events {
		if ev.Type == EventHealth && ev.Process == "db" {
			n++
		}
	}
	assert.Equal(t, 1, n, "one health event: the change to unhealthy")
}
