package agent

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatedWriter is a terminal that takes a token from gate for each write.
type gatedWriter struct {
	gate chan struct{}
	to   *syncBuffer
}

func (w gatedWriter) Write(p []byte) (int, error) {
	<-w.gate
	return w.to.Write(p)
}

func TestSyncTerminalWaitsForEarlierLinesButNotForever(t *testing.T) {
	var got syncBuffer
	gate := make(chan struct{}, 1)
	out := newLineTerminal(gatedWriter{gate, &got})
	p, err := startPipeline(&stack{cfg: &config.Config{}}, hclog.NewNullLogger(), out, false)
	require.NoError(t, err)

	gate <- struct{}{}
	p.logs.WriteStableBatch([]logs.LogEntry{{Timestamp: time.Now(), Process: "p", Line: []byte("one")}}, nil)
	p.syncTerminal()
	assert.Equal(t, "p | one\n", got.String(), "printed before syncTerminal returned")

	// A stalled terminal holds a log line back for terminalSyncWait only.
	p.logs.WriteStableBatch([]logs.LogEntry{{Timestamp: time.Now(), Process: "p", Line: []byte("two")}}, nil)
	returned := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		p.syncTerminal()
		returned <- time.Since(start)
	}()
	select {
	case waited := <-returned:
		assert.GreaterOrEqual(t, waited, terminalSyncWait)
	case <-time.After(30 * time.Second):
		t.Fatal("syncTerminal hung on a stalled terminal")
	}
	assert.Equal(t, "p | one\n", got.String())
	// While it stays stalled, log lines do not wait for it again.
	assert.True(t, p.termStalled.Load())

	// Once it writes again, log lines wait for it again.
	gate <- struct{}{}
	require.Eventually(t, func() bool { return !p.termStalled.Load() }, 10*time.Second, time.Millisecond)
	assert.Equal(t, "p | one\np | two\n", got.String())
	p.logs.WriteStableBatch([]logs.LogEntry{{Timestamp: time.Now(), Process: "p", Line: []byte("three")}}, nil)
	gate <- struct{}{}
	p.syncTerminal()
	assert.Equal(t, "p | one\np | two\np | three\n", got.String(), "printed before syncTerminal returned")

	close(gate)
	p.close(context.Background(), hclog.NewNullLogger())
	assert.Equal(t, "p | one\np | two\np | three\n", got.String())
	p.syncTerminal() // after close: returns at once
}

func TestSyncTerminalWithoutATerminal(t *testing.T) {
	var got syncBuffer
	out := newLineTerminal(&got)
	p, err := startPipeline(&stack{cfg: &config.Config{}}, hclog.NewNullLogger(), out, true)
	require.NoError(t, err)
	p.logs.WriteStableBatch([]logs.LogEntry{{Timestamp: time.Now(), Process: "p", Line: []byte("one")}}, nil)
	p.syncTerminal()
	p.close(context.Background(), hclog.NewNullLogger())
	assert.Empty(t, got.String(), "quiet")
}

func TestTerminalSaysWhereItSkippedLines(t *testing.T) {
	var got syncBuffer
	gate := make(chan struct{})
	out := newLineTerminal(gatedWriter{gate, &got})
	p, err := startPipeline(&stack{cfg: &config.Config{}}, hclog.NewNullLogger(), out, false)
	require.NoError(t, err)

	// The terminal is stuck in its first write while the process goes on.
	p.logs.WriteStableBatch([]logs.LogEntry{{Timestamp: time.Now(), Process: "p", Line: []byte("first")}}, nil)
	for i := range 2 * terminalBuffer {
		p.logs.WriteStableBatch([]logs.LogEntry{{Timestamp: time.Now(), Process: "p", Line: []byte(fmt.Sprint("line ", i))}}, nil)
	}
	dropped := p.logs.Dropped(p.termID)
	require.Positive(t, dropped, "the terminal fell behind")
	close(gate)
	p.close(context.Background(), hclog.NewNullLogger())

	text := got.String()
	assert.Contains(t, text, fmt.Sprintf("(prox: %d lines not shown here: the terminal fell behind; the sinks and `prox logs` have them)\n", dropped))
	assert.Equal(t, 1, strings.Count(text, "lines not shown"), "one notice for one gap")
	shown := strings.Count(text, "p | ")
	assert.Equal(t, 1+2*terminalBuffer, shown+int(dropped), "every line is shown or counted")
}

// TestSinkEventsSpeakTheSDKVocabulary: every event the sinks get has a
// type and a state of the SDK's vocabulary, for each change the
// supervisor makes.
func TestSinkEventsSpeakTheSDKVocabulary(t *testing.T) {
	exit := &supervisor.ExitStatus{Code: 1}
	cases := []struct {
		ev    supervisor.SupervisorEvent
		typ   sdk.EventType
		state sdk.ProcessState
	}{
		{supervisor.SupervisorEvent{Type: supervisor.EventState, From: supervisor.StateStopped, To: supervisor.StateStarting}, sdk.EventStarting, sdk.StateStarting},
		{supervisor.SupervisorEvent{Type: supervisor.EventState, From: supervisor.StateStarting, To: supervisor.StateRunning}, sdk.EventStarted, sdk.StateRunning},
		{supervisor.SupervisorEvent{Type: supervisor.EventState, From: supervisor.StateRunning, To: supervisor.StateStopping}, sdk.EventStopping, sdk.StateStopping},
		{supervisor.SupervisorEvent{Type: supervisor.EventState, From: supervisor.StateStopping, To: supervisor.StateStopped}, sdk.EventStopped, sdk.StateStopped},
		{supervisor.SupervisorEvent{Type: supervisor.EventState, From: supervisor.StateRunning, To: supervisor.StateStopped, Exit: exit}, sdk.EventExited, sdk.StateStopped},
		{supervisor.SupervisorEvent{Type: supervisor.EventState, From: supervisor.StateRunning, To: supervisor.StateCrashed, Exit: exit}, sdk.EventCrashed, sdk.StateCrashed},
		{supervisor.SupervisorEvent{Type: supervisor.EventState, From: supervisor.StateCrashed, To: supervisor.StateBackoff}, sdk.EventRestarting, sdk.StateBackoff},
		{supervisor.SupervisorEvent{Type: supervisor.EventState, From: supervisor.StateCrashed, To: supervisor.StateFailed}, sdk.EventFailed, sdk.StateFailed},
		{supervisor.SupervisorEvent{Type: supervisor.EventHealth, From: supervisor.StateRunning, To: supervisor.StateRunning, Health: supervisor.HealthHealthy}, sdk.EventHealth, sdk.StateHealthy},
		{supervisor.SupervisorEvent{Type: supervisor.EventHealth, From: supervisor.StateRunning, To: supervisor.StateRunning, Health: supervisor.HealthUnhealthy}, sdk.EventHealth, sdk.StateUnhealthy},
		{supervisor.SupervisorEvent{Type: supervisor.EventHealth, From: supervisor.StateStopping, To: supervisor.StateStopping, Health: supervisor.HealthUnknown}, sdk.EventHealth, sdk.StateHealthUnknown},
	}
	for _, c := range cases {
		got := sinkEvent(c.ev)
		assert.Equal(t, c.typ, got.Type, "%s -> %s", c.ev.From, c.ev.To)
		assert.Equal(t, c.state, got.State, "%s -> %s", c.ev.From, c.ev.To)
		assert.Equal(t, sdk.ProcessState(c.ev.From), got.PreviousState)
	}
	// A step of a reload is no change of state: its type says reload.
	got := sinkEvent(supervisor.SupervisorEvent{Type: supervisor.EventReload, Process: "web", From: supervisor.StateStopped,
		To: supervisor.StateStopped, Action: supervisor.ActionRestart, Reason: "its configuration changed: restarting"})
	assert.Equal(t, sdk.Event{Process: "web", Type: "reload", Message: "its configuration changed: restarting"}, got)
}
