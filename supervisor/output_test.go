package supervisor

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// outputHarness is a Manager whose logs and lines the test reads.
type outputHarness struct {
	*Manager
	log   *lockedBuffer
	mu    sync.Mutex
	lines []string
}

func (h *outputHarness) seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.lines...)
}

// newOutputHarness returns a Manager of specs with the given output grace;
// emit, when set, runs before each batch is recorded (it may block).
func newOutputHarness(t *testing.T, grace time.Duration, emit func(), specs ...ProcessSpec) *outputHarness {
	t.Helper()
	h := &outputHarness{log: &lockedBuffer{}}
	logger := hclog.New(&hclog.LoggerOptions{Output: io.MultiWriter(tWriter{t}, h.log), Level: hclog.Debug, Name: "supervisor_test"})
	h.Manager = New(specs, Options{Logger: logger, OutputGrace: grace, OutputBatch: func(entries []logs.LogEntry, _ *logs.Block) {
		if emit != nil {
			emit()
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, e := range entries {
			h.lines = append(h.lines, e.Process+"/"+e.Stream.String()+"/"+string(e.Line))
		}
	}})
	return h
}

// An exit comes from Wait, not from the end of the output: a process whose
// descendant left its group and holds its output open is seen to exit, its
// restart policy acts, the lines read before the grace ended are all
// delivered, the output is then abandoned, and the log says so once.
func TestExitSeenWhileADescendantHoldsTheOutput(t *testing.T) {
	r := newFakeRunner()
	h := newOutputHarness(t, 300*time.Millisecond, nil,
		spec("esc", r, restartPolicy(RestartPolicy{Policy: policy.RestartOnFailure, MaxRestarts: 5})))
	events := h.Subscribe()
	require.NoError(t, h.Start(context.Background()))
	t.Cleanup(func() {
		r.mu.Lock()
		procs := append([]*fakeProc(nil), r.procs...)
		r.mu.Unlock()
		for _, p := range procs {
			p.exit(nil)
		}
		_ = h.Stop(context.Background())
	})
	collect(t, events, "esc", StateRunning)

	first := r.last()
	_, err := first.outW.Write([]byte("before the exit\n"))
	require.NoError(t, err)
	first.finish(&sdk.ExitError{Code: 1})
	// The descendant goes on writing, within the grace.
	_, err = first.errW.Write([]byte("from the descendant\n"))
	require.NoError(t, err)

	require.Eventually(t, func() bool { return r.count() == 2 }, waitFor, tick, "the restart policy never acted")
	info := requireState(t, h.Manager, "esc", StateRunning)
	assert.Equal(t, 1, info.Restarts)
	require.NotNil(t, info.LastExit)
	assert.Equal(t, 1, info.LastExit.Code)
	assert.Equal(t, []string{"running>crashed", "crashed>backoff", "backoff>starting", "starting>running"},
		collect(t, events, "esc", StateRunning), "the exit, then the restart")

	assert.EqualValues(t, 1, first.outputClosed.Load(), "the output was abandoned")
	_, err = first.outW.Write([]byte("too late\n"))
	require.ErrorIs(t, err, io.ErrClosedPipe, "nobody reads the old run's output any more")
	assert.Equal(t, 2, strings.Count(h.log.String(), "output ended with an error"), "both framers ended")
	assert.ElementsMatch(t, []string{"esc/stdout/before the exit", "esc/stderr/from the descendant"}, h.seen())
	assert.Equal(t, 1, strings.Count(h.log.String(), "output cut off"), h.log.String())
	assert.Regexp(t, `\[WARN\]  supervisor_test\.supervisor: output cut off: .*process=esc`, h.log.String())
}

// A stop never waits on a pipe: the process exited while a descendant
// holds its output, and a stop requested then completes, without SIGKILL.
func TestStopEndsWhileADescendantHoldsTheOutput(t *testing.T) {
	r := newFakeRunner()
	h := newOutputHarness(t, 200*time.Millisecond, nil, spec("esc", r))
	require.NoError(t, h.Start(context.Background()))
	p := r.last()
	t.Cleanup(func() { p.exit(nil) })

	p.finish(&sdk.ExitError{Code: 1})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, h.Stop(ctx))
	require.NoError(t, ctx.Err(), "the stop needed its context's end")
	info, err := h.Process("esc")
	require.NoError(t, err)
	assert.Contains(t, []State{StateStopped, StateCrashed}, info.State)
	require.NotNil(t, info.LastExit)
	assert.Equal(t, 1, info.LastExit.Code)
	assert.NotContains(t, r.signals.list(), "esc:SIGKILL")
	assert.NotContains(t, h.log.String(), "sending SIGKILL")
	assert.EqualValues(t, 1, p.outputClosed.Load())
}

// The grace counts the time the output is waited for, not the time its
// lines wait for the log manager: a process that exits with lines still
// in its pipes while a sink holds the reader up (overflow "block") loses
// none of them.
func TestSlowLogManagerDoesNotUseUpTheGrace(t *testing.T) {
	const grace = 300 * time.Millisecond
	r := newFakeRunner()
	blocked := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	h := newOutputHarness(t, grace, func() {
		once.Do(func() {
			close(blocked)
			<-release // the first batch waits for the log manager
		})
	}, spec("slow", r))
	require.NoError(t, h.Start(context.Background()))
	p := r.last()
	t.Cleanup(func() { p.exit(nil) })

	_, err := p.outW.Write([]byte("first\n"))
	require.NoError(t, err)
	<-blocked
	second := make(chan error, 1)
	go func() {
		// Still in the pipe when the process exits.
		_, err := p.outW.Write([]byte("second\n"))
		second <- err
	}()
	events := h.Subscribe()
	p.finish(nil)
	// Held up for several graces past the exit: the exit is not reported
	// meanwhile (it waits for the lines), and the output is not cut.
	deadline := time.Now().Add(4 * grace)
	for time.Now().Before(deadline) {
		select {
		case ev := <-events:
			t.Fatalf("the exit came before the lines: %+v", ev)
		case <-time.After(time.Until(deadline)):
		}
	}
	close(release)
	require.NoError(t, <-second)
	p.exit(nil) // the output ends
	requireState(t, h.Manager, "slow", StateStopped)
	assert.Equal(t, []string{"slow/stdout/first", "slow/stdout/second"}, h.seen())
	assert.Zero(t, p.outputClosed.Load())
	assert.NotContains(t, h.log.String(), "output cut off")
	require.NoError(t, h.Stop(context.Background()))
}

// A runner whose output cannot be abandoned: the exit is still reported
// after the grace; its streams are read on until they end.
func TestExitSeenWhenTheOutputCannotBeAbandoned(t *testing.T) {
	r := newFakeRunner()
	r.noOutputCloser = true
	h := newOutputHarness(t, 100*time.Millisecond, nil, spec("esc", r))
	require.NoError(t, h.Start(context.Background()))
	p := r.last()
	t.Cleanup(func() { p.exit(nil) })

	p.finish(&sdk.ExitError{Code: 2})
	info := requireState(t, h.Manager, "esc", StateCrashed)
	assert.Equal(t, 2, info.LastExit.Code)
	assert.Contains(t, h.log.String(), "output not ended")
	_, err := p.outW.Write([]byte("later\n"))
	require.NoError(t, err, "still read")
	p.exit(nil)
	require.Eventually(t, func() bool { return len(h.seen()) == 1 }, waitFor, tick)
	assert.Equal(t, []string{"esc/stdout/later"}, h.seen())
	require.NoError(t, h.Stop(context.Background()))
}
