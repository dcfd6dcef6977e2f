package supervisor

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const waitFor = 10 * time.Second
const tick = time.Millisecond

// testLogger is an hclog logger writing through t.Log.
func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: tWriter{t}, Level: hclog.Debug, Name: "supervisor_test"})
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func spec(name string, r *fakeRunner, mods ...func(*ProcessSpec)) ProcessSpec {
	s := ProcessSpec{Name: name, Runner: r, RunnerName: "fake", StopTimeout: time.Minute, Config: sdk.ProcessConfig{Name: name}}
	for _, m := range mods {
		m(&s)
	}
	return s
}

func restartPolicy(p RestartPolicy) func(*ProcessSpec) {
	return func(s *ProcessSpec) { s.Restart = p }
}

// startManager starts a Manager and stops it at the end of the test.
func startManager(t *testing.T, specs ...ProcessSpec) *Manager {
	t.Helper()
	m := New(specs, Options{Logger: testLogger(t)})
	require.NoError(t, m.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // kill at once
		_ = m.Stop(ctx)
	})
	return m
}

func stateOf(m *Manager, name string) State {
	info, _ := m.Process(name)
	return info.State
}

func requireState(t *testing.T, m *Manager, name string, want State) ProcessInfo {
	t.Helper()
	require.Eventually(t, func() bool { return stateOf(m, name) == want }, waitFor, tick,
		"process %q never reached %s (is %s)", name, want, stateOf(m, name))
	info, _ := m.Process(name)
	return info
}

// stateEvents reads the state events of process until it reaches last.
func stateEvents(t *testing.T, ch <-chan SupervisorEvent, process string, last State) []SupervisorEvent {
	t.Helper()
	var seen []SupervisorEvent
	deadline := time.After(waitFor)
	for {
		select {
		case ev := <-ch:
			if ev.Process != process || ev.Type != EventState {
				continue
			}
			seen = append(seen, ev)
			if ev.To == last {
				return seen
			}
		case <-deadline:
			t.Fatalf("no event to %s; saw %v", last, seen)
		}
	}
}

// collect reads the state events of process until it reaches last, as
// "from>to".
func collect(t *testing.T, ch <-chan SupervisorEvent, process string, last State) []string {
	t.Helper()
	var out []string
	for _, ev := range stateEvents(t, ch, process, last) {
		out = append(out, string(ev.From)+">"+string(ev.To))
	}
	return out
}

func TestTransitionDiagram(t *testing.T) {
	allowed := map[string]bool{
		"stopped>starting": true, "stopped>backoff": true, "stopped>failed": true,
		"starting>running": true, "starting>failed": true, "starting>backoff": true, "starting>stopped": true,
		"running>stopping": true, "running>crashed": true, "running>stopped": true,
		"stopping>stopped": true, "stopping>crashed": true,
		"crashed>starting": true, "crashed>backoff": true, "crashed>failed": true,
		"backoff>starting": true, "backoff>stopped": true,
		"failed>starting": true,
	}
	states := []State{StateStopped, StateStarting, StateRunning, StateStopping, StateCrashed, StateBackoff, StateFailed}
	for _, from := range states {
		for _, to := range states {
			key := string(from) + ">" + string(to)
			assert.Equal(t, allowed[key], canTransition(from, to), key)
		}
	}
}

func TestTransitionOutsideTheDiagramIsRefused(t *testing.T) {
	bus := newEventBus(1)
	ch := bus.subscribe()
	m := newManagedProcess(ProcessSpec{Name: "p"}, hclog.NewNullLogger(), func([]logs.LogEntry, *logs.Block) {}, bus, func() {})
	for _, to := range []State{StateRunning, StateStopping, StateCrashed, StateStopped} {
		m.transition(to, nil, "")
		assert.Equal(t, StateStopped, m.state, "stopped -> %s must be refused", to)
	}
	assert.Empty(t, ch, "a refused transition publishes nothing")
	m.transition(StateStarting, nil, "")
	assert.Equal(t, StateStarting, m.state)
	m.transition(StateStopping, nil, "")
	assert.Equal(t, StateStarting, m.state, "starting -> stopping must be refused")
	assert.Len(t, ch, 1)
}

func TestStartAndStop(t *testing.T) {
	r := newFakeRunner()
	m := New([]ProcessSpec{spec("a", r), spec("b", r)}, Options{Logger: testLogger(t)})
	events := m.Subscribe()
	require.NoError(t, m.Start(context.Background()))
	for _, p := range m.Processes() {
		assert.Equal(t, StateRunning, p.State)
		assert.NotZero(t, p.PID)
		assert.Equal(t, "fake", p.Runner)
		assert.False(t, p.StartedAt.IsZero())
	}
	assert.Equal(t, "running", m.Status().State)
	require.NoError(t, m.Stop(context.Background()))
	assert.Equal(t, []string{"stopped>starting", "starting>running", "running>stopping", "stopping>stopped"}, collect(t, events, "a", StateStopped))
	st := m.Status()
	assert.Equal(t, "stopped", st.State)
	for _, p := range st.Processes {
		assert.Equal(t, StateStopped, p.State)
		require.NotNil(t, p.LastExit, "every exit status is collected")
		assert.Equal(t, "SIGTERM", p.LastExit.Signal)
		assert.Zero(t, p.PID)
	}
	assert.ErrorIs(t, m.StartProcess(context.Background(), "a"), ErrNotRunning)
}

func TestUnknownProcess(t *testing.T) {
	m := startManager(t, spec("a", newFakeRunner()))
	_, err := m.Process("nope")
	assert.ErrorIs(t, err, ErrUnknownProcess)
	assert.ErrorIs(t, m.RestartProcess(context.Background(), "nope"), ErrUnknownProcess)
	assert.ErrorIs(t, m.StopProcess(context.Background(), "nope"), ErrUnknownProcess)
	assert.ErrorIs(t, m.StartProcess(context.Background(), "nope"), ErrUnknownProcess)
}

func TestUserStopIsNeverACrashNorRestarted(t *testing.T) {
	r := newFakeRunner()
	m := startManager(t, spec("a", r, restartPolicy(RestartPolicy{Policy: policy.RestartAlways})))
	require.NoError(t, m.StopProcess(context.Background(), "a"))
	info := requireState(t, m, "a", StateStopped)
	assert.Equal(t, 0, info.Restarts)
	assert.Equal(t, 1, r.count(), "no restart after a user stop")
	// Starting it again by hand works.
	require.NoError(t, m.StartProcess(context.Background(), "a"))
	assert.Equal(t, StateRunning, stateOf(m, "a"))
	assert.Equal(t, 2, r.count())
}

func TestRestartPolicies(t *testing.T) {
	cases := []struct {
		name        string
		policy      RestartPolicy
		exit        error
		wantState   State
		wantRestart bool
	}{
		{"never after failure", RestartPolicy{Policy: policy.RestartNever}, &sdk.ExitError{Code: 1}, StateCrashed, false},
		{"never after success", RestartPolicy{Policy: policy.RestartNever}, nil, StateStopped, false},
		{"on-failure after failure", RestartPolicy{Policy: policy.RestartOnFailure, MaxRestarts: 5}, &sdk.ExitError{Code: 1}, StateRunning, true},
		{"on-failure after a signal", RestartPolicy{Policy: policy.RestartOnFailure, MaxRestarts: 5}, &sdk.ExitError{Code: -1, Signal: "SIGSEGV"}, StateRunning, true},
		{"on-failure after success", RestartPolicy{Policy: policy.RestartOnFailure, MaxRestarts: 5}, nil, StateStopped, false},
		{"on-failure, exit 3 is a success code", RestartPolicy{Policy: policy.RestartOnFailure, MaxRestarts: 5, SuccessCodes: []int{0, 3}}, &sdk.ExitError{Code: 3}, StateStopped, false},
		{"always after success", RestartPolicy{Policy: policy.RestartAlways, MaxRestarts: 5}, nil, StateRunning, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newFakeRunner()
			m := startManager(t, spec("a", r, restartPolicy(tc.policy)))
			r.last().exit(tc.exit)
			if tc.wantRestart {
				require.Eventually(t, func() bool { return r.count() == 2 }, waitFor, tick)
			}
			info := requireState(t, m, "a", tc.wantState)
			require.NotNil(t, info.LastExit)
			if tc.wantRestart {
				assert.Equal(t, 1, info.Restarts)
			} else {
				assert.Equal(t, 1, r.count(), "no restart")
				assert.Equal(t, 0, info.Restarts)
			}
		})
	}
}

func TestBurstLimitTurnsFailedAndManualStartRecovers(t *testing.T) {
	r := newFakeRunner()
	r.exitAtOnce = &sdk.ExitError{Code: 1}
	m := New([]ProcessSpec{spec("loop", r, restartPolicy(RestartPolicy{Policy: policy.RestartAlways, MaxRestarts: 3, Window: time.Hour}))}, Options{Logger: testLogger(t)})
	events := m.Subscribe()
	require.NoError(t, m.Start(context.Background()))
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	info := requireState(t, m, "loop", StateFailed)
	assert.Equal(t, 3, info.Restarts)
	assert.Equal(t, 4, r.count(), "the first run and three restarts")
	assert.Contains(t, info.Reason, "restart limit reached: 3 restarts within 1h0m0s")
	seen := collect(t, events, "loop", StateFailed)
	assert.Contains(t, seen, "running>crashed")
	assert.Contains(t, seen, "crashed>backoff")
	assert.Contains(t, seen, "backoff>starting")
	assert.Equal(t, "crashed>failed", seen[len(seen)-1])

	// failed stays until a manual start, which resets the burst count.
	r.mu.Lock()
	r.exitAtOnce = nil
	r.mu.Unlock()
	require.NoError(t, m.StartProcess(context.Background(), "loop"))
	assert.Equal(t, StateRunning, stateOf(m, "loop"))
}

// TestUnsetRestartLimitIsTheDefault: a policy built in Go without
// MaxRestarts or Window gets policy.DefaultMaxRestarts restarts in
// policy.DefaultWindow, as the config file does; it is not failed at its
// first crash.
func TestUnsetRestartLimitIsTheDefault(t *testing.T) {
	r := newFakeRunner()
	r.exitAtOnce = &sdk.ExitError{Code: 1}
	m := New([]ProcessSpec{spec("loop", r, restartPolicy(RestartPolicy{Policy: policy.RestartAlways}))}, Options{Logger: testLogger(t)})
	require.NoError(t, m.Start(context.Background()))
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	info := requireState(t, m, "loop", StateFailed)
	assert.Equal(t, policy.DefaultMaxRestarts, info.Restarts)
	assert.Equal(t, policy.DefaultMaxRestarts+1, r.count(), "the first run and the default number of restarts")
	assert.Contains(t, info.Reason, fmt.Sprintf("restart limit reached: %d restarts within %s", policy.DefaultMaxRestarts, policy.DefaultWindow))
}

// TestNoRestartsFailsAtTheFirstCrash: policy.NoRestarts (max_restarts = 0
// in the config file) allows no restart.
func TestNoRestartsFailsAtTheFirstCrash(t *testing.T) {
	r := newFakeRunner()
	r.exitAtOnce = &sdk.ExitError{Code: 1}
	m := New([]ProcessSpec{spec("once", r, restartPolicy(RestartPolicy{Policy: policy.RestartAlways, MaxRestarts: policy.NoRestarts}))}, Options{Logger: testLogger(t)})
	require.NoError(t, m.Start(context.Background()))
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	info := requireState(t, m, "once", StateFailed)
	assert.Equal(t, 0, info.Restarts)
	assert.Equal(t, 1, r.count())
	assert.Contains(t, info.Reason, "restart limit reached: 0 restarts within 1m0s")
}

func TestBackoffStateShowsNextRestart(t *testing.T) {
	r := newFakeRunner()
	m := startManager(t, spec("a", r, restartPolicy(RestartPolicy{Policy: policy.RestartAlways, Backoff: time.Hour, MaxBackoff: time.Hour, MaxRestarts: 5})))
	before := time.Now()
	r.last().exit(&sdk.ExitError{Code: 2})
	info := requireState(t, m, "a", StateBackoff)
	assert.WithinRange(t, info.NextRestart, before.Add(45*time.Minute), time.Now().Add(75*time.Minute))
	// A stop while waiting cancels the restart.
	require.NoError(t, m.StopProcess(context.Background(), "a"))
	info = requireState(t, m, "a", StateStopped)
	assert.True(t, info.NextRestart.IsZero())
	// A start while in backoff starts at once.
	r2 := newFakeRunner()
	m2 := startManager(t, spec("b", r2, restartPolicy(RestartPolicy{Policy: policy.RestartAlways, Backoff: time.Hour, MaxBackoff: time.Hour, MaxRestarts: 5})))
	r2.last().exit(&sdk.ExitError{Code: 2})
	requireState(t, m2, "b", StateBackoff)
	require.NoError(t, m2.StartProcess(context.Background(), "b"))
	assert.Equal(t, StateRunning, stateOf(m2, "b"))
}

func TestDelay(t *testing.T) {
	p := RestartPolicy{Backoff: time.Second, MaxBackoff: 10 * time.Second}
	mid := func() float64 { return 0.5 } // no jitter
	assert.Equal(t, time.Second, p.delay(0, mid))
	assert.Equal(t, 2*time.Second, p.delay(1, mid))
	assert.Equal(t, 8*time.Second, p.delay(3, mid))
	assert.Equal(t, 10*time.Second, p.delay(4, mid), "capped")
	assert.Equal(t, 10*time.Second, p.delay(1000, mid), "no overflow")
	assert.Equal(t, 750*time.Millisecond, p.delay(0, func() float64 { return 0 }), "-25%")
	assert.Equal(t, 1250*time.Millisecond, p.delay(0, func() float64 { return 1 }), "+25%")
	assert.Equal(t, time.Duration(0), RestartPolicy{Backoff: 0, MaxBackoff: time.Second}.delay(5, nil))
	for i := 0; i < 1000; i++ {
		d := p.delay(2, nil)
		assert.True(t, d >= 3*time.Second && d <= 5*time.Second, "jitter within 25%%: %s", d)
	}
}

func TestBackoffResetsAfterStableUptime(t *testing.T) {
	for _, tc := range []struct {
		name   string
		uptime time.Duration
		want   int
	}{
		{"short run keeps growing", time.Second, 4},
		{"stable run resets", 2 * time.Minute, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := newEventBus(1)
			m := newManagedProcess(ProcessSpec{Name: "p", Restart: RestartPolicy{Policy: policy.RestartAlways, Backoff: time.Hour, MaxRestarts: 100}},
				hclog.NewNullLogger(), func([]logs.LogEntry, *logs.Block) {}, bus, func() {})
			m.state, m.consecutive = StateRunning, 3
			m.startedAt = time.Now().Add(-tc.uptime)
			m.ended(ExitStatus{Code: 1, Time: time.Now()})
			defer m.cancelBackoff()
			assert.Equal(t, StateBackoff, m.state)
			assert.Equal(t, tc.want, m.consecutive)
		})
	}
}

func TestConcurrentRestartsNeverStartTwoCopies(t *testing.T) {
	r := newFakeRunner()
	m := startManager(t, spec("a", r))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- m.RestartProcess(context.Background(), "a")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, int32(1), r.maxLive.Load(), "never two copies alive at once")
	assert.Equal(t, int32(1), r.live.Load())
	assert.Equal(t, StateRunning, stateOf(m, "a"))
	info, _ := m.Process("a")
	assert.Equal(t, r.count()-1, info.Restarts)
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	r := newFakeRunner()
	r.ignoreTERM = true
	m := startManager(t, spec("stubborn", r, func(s *ProcessSpec) { s.StopTimeout = 20 * time.Millisecond }))
	events := m.Subscribe()
	require.NoError(t, m.StopProcess(context.Background(), "stubborn"))
	// A stop that was asked for is a stop, even when it needed SIGKILL:
	// only an exit nobody asked for is a crash (and alerts).
	info := requireState(t, m, "stubborn", StateStopped)
	assert.Equal(t, []string{"stubborn:SIGTERM", "stubborn:SIGKILL"}, r.signals.list())
	assert.Equal(t, "SIGKILL", info.LastExit.Signal)
	assert.Equal(t, "killed after the stop timeout (20ms)", info.Reason)
	assert.Equal(t, []string{"running>stopping", "stopping>stopped"}, collect(t, events, "stubborn", StateStopped))
	assert.Equal(t, 1, r.count(), "a stop is never restarted, even when it needed SIGKILL")
}

func TestStopSignalsEveryProcessBeforeAnyKill(t *testing.T) {
	r := newFakeRunner()
	r.ignoreTERM = true
	var specs []ProcessSpec
	for i := 0; i < 20; i++ {
		specs = append(specs, spec(fmt.Sprintf("p%02d", i), r, func(s *ProcessSpec) {
			// Long enough that all SIGTERMs are out before the first
			// timer fires, even on a loaded machine.
			s.StopTimeout = time.Second
			s.StopSignal = syscall.SIGTERM
		}))
	}
	m := New(specs, Options{Logger: testLogger(t)})
	require.NoError(t, m.Start(context.Background()))
	require.NoError(t, m.Stop(context.Background()))
	sigs := r.signals.list()
	require.Len(t, sigs, 40)
	for i, s := range sigs[:20] {
		assert.True(t, strings.HasSuffix(s, ":SIGTERM"), "signal %d is %s: every SIGTERM goes out before any SIGKILL", i, s)
	}
	for _, p := range m.Processes() {
		assert.Equal(t, StateStopped, p.State, "a requested stop is no crash")
		assert.Equal(t, "killed after the stop timeout (1s)", p.Reason)
	}
}

func TestStopContextCancelledKillsAtOnce(t *testing.T) {
	r := newFakeRunner()
	r.ignoreTERM = true
	m := New([]ProcessSpec{spec("a", r, func(s *ProcessSpec) { s.StopTimeout = time.Hour })}, Options{Logger: testLogger(t)})
	require.NoError(t, m.Start(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Stop(ctx) }()
	require.Eventually(t, func() bool { return len(r.signals.list()) == 1 }, waitFor, tick)
	cancel()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("Stop did not return after its context was cancelled")
	}
	assert.Equal(t, []string{"a:SIGTERM", "a:SIGKILL"}, r.signals.list())
}

func TestCancellingStartContextShutsDown(t *testing.T) {
	r := newFakeRunner()
	m := New([]ProcessSpec{spec("a", r), spec("b", r)}, Options{Logger: testLogger(t)})
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, m.Start(ctx))
	cancel()
	select {
	case <-m.Done():
	case <-time.After(waitFor):
		t.Fatal("cancelling Start's context did not shut down")
	}
	for _, p := range m.Processes() {
		assert.Equal(t, StateStopped, p.State)
	}
	assert.Equal(t, int32(0), r.live.Load())
}

func TestStartFailure(t *testing.T) {
	r := newFakeRunner()
	r.startErr = errBoom
	m := New([]ProcessSpec{spec("a", r)}, Options{Logger: testLogger(t)})
	err := m.Start(context.Background())
	require.ErrorIs(t, err, errBoom)
	assert.Contains(t, err.Error(), `failed to start "a"`)
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	info, _ := m.Process("a")
	assert.Equal(t, StateFailed, info.State)
	// The runner returns the cause; the supervisor names the process once.
	assert.Equal(t, `failed to start "a": `+errBoom.Error(), info.Reason)
	assert.Equal(t, 1, strings.Count(err.Error(), `failed to start "a"`), err.Error())

	// With a restart policy, a start failure is retried, then failed.
	r2 := newFakeRunner()
	r2.startErr = errBoom
	m2 := New([]ProcessSpec{spec("b", r2, restartPolicy(RestartPolicy{Policy: policy.RestartOnFailure, MaxRestarts: 2}))}, Options{Logger: testLogger(t)})
	_ = m2.Start(context.Background())
	t.Cleanup(func() { _ = m2.Stop(context.Background()) })
	info = requireState(t, m2, "b", StateFailed)
	assert.Contains(t, info.Reason, "restart limit reached")
}

func TestRunnerDeathIsACrashNamingTheRunner(t *testing.T) {
	r := newFakeRunner()
	m := startManager(t, spec("a", r))
	r.last().exit(fmt.Errorf("wait: %w: connection reset", sdk.ErrPluginUnavailable))
	info := requireState(t, m, "a", StateCrashed)
	// One clear line: what died first, then the error.
	assert.Equal(t, "runner fake: its plugin died: wait: plugin unavailable: connection reset", info.Reason)
	assert.Contains(t, info.LastExit.Error, "plugin unavailable")
	assert.True(t, info.LastExit.RunnerDied, "the exit says its runner plugin died")
}

func TestSlowSubscriberLosesEventsButNeverBlocks(t *testing.T) {
	r := newFakeRunner()
	r.exitAtOnce = &sdk.ExitError{Code: 1}
	m := New([]ProcessSpec{spec("loop", r, restartPolicy(RestartPolicy{Policy: policy.RestartAlways, MaxRestarts: 200, Window: time.Hour}))}, Options{Logger: testLogger(t)})
	slow := m.Subscribe() // never read
	require.NoError(t, m.Start(context.Background()))
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	requireState(t, m, "loop", StateFailed)
	assert.Len(t, slow, eventBuffer)
	assert.Greater(t, m.Status().DroppedEvents, uint64(0))
	dropped := m.Unsubscribe(slow)
	assert.Equal(t, m.Status().DroppedEvents, dropped)
}

func TestEventBufferGrowsWithTheProcesses(t *testing.T) {
	assert.Equal(t, eventBuffer, cap(newEventBus(1).subscribe()))
	// 200 processes stopped at once make 400 events in a burst.
	assert.GreaterOrEqual(t, cap(newEventBus(200).subscribe()), 3*200)
}

func TestOutputReachesTheCallback(t *testing.T) {
	r := newFakeRunner()
	var mu sync.Mutex
	var lines []string
	m := New([]ProcessSpec{spec("a", r)}, Options{Logger: testLogger(t), OutputBatch: func(entries []logs.LogEntry, _ *logs.Block) {
		mu.Lock()
		for _, e := range entries {
			lines = append(lines, e.Process+"/"+e.Stream.String()+"/"+string(e.Line))
		}
		mu.Unlock()
	}})
	require.NoError(t, m.Start(context.Background()))
	p := r.last()
	go func() {
		_, _ = p.outW.Write([]byte("one\ntwo"))
		_, _ = p.errW.Write([]byte("oops\n"))
		p.exit(nil)
	}()
	requireState(t, m, "a", StateStopped)
	require.NoError(t, m.Stop(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	assert.ElementsMatch(t, []string{"a/stdout/one", "a/stdout/two", "a/stderr/oops"}, lines)
}

func TestOutputBatchReceivesEachReadInOrder(t *testing.T) {
	r := newFakeRunner()
	var mu sync.Mutex
	var lines []string
	calls := 0
	m := New([]ProcessSpec{spec("a", r)}, Options{Logger: testLogger(t),
		OutputBatch: func(entries []logs.LogEntry, _ *logs.Block) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			for _, e := range entries {
				lines = append(lines, e.Process+"/"+e.Stream.String()+"/"+string(e.Line))
			}
		}})
	require.NoError(t, m.Start(context.Background()))
	p := r.last()
	go func() {
		// One write of three lines is one read, so one call.
		_, _ = p.outW.Write([]byte("one\ntwo\nthree\n"))
		p.exit(nil)
	}()
	requireState(t, m, "a", StateStopped)
	require.NoError(t, m.Stop(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"a/stdout/one", "a/stdout/two", "a/stdout/three"}, lines)
	assert.Equal(t, 1, calls)
}

func TestSignalProcess(t *testing.T) {
	r := newFakeRunner()
	r.ignoreTERM = true
	m := startManager(t, spec("a", r, restartPolicy(RestartPolicy{Policy: policy.RestartOnFailure, MaxRestarts: 5}),
		func(s *ProcessSpec) { s.StopTimeout = 10 * time.Millisecond }))
	assert.False(t, m.ManuallyControlled())
	require.NoError(t, m.SignalProcess(context.Background(), "a", syscall.SIGHUP))
	assert.Equal(t, StateRunning, stateOf(m, "a"), "a signal is not a stop")
	require.NoError(t, m.SignalProcess(context.Background(), "a", syscall.SIGKILL))
	// Dying of a signal is a crash, restarted by the policy.
	require.Eventually(t, func() bool { return r.count() == 2 }, waitFor, tick)
	assert.Equal(t, []string{"a:SIGHUP", "a:SIGKILL"}, r.signals.list())
	assert.ErrorIs(t, m.SignalProcess(context.Background(), "nope", syscall.SIGHUP), ErrUnknownProcess)

	require.NoError(t, m.StopProcess(context.Background(), "a"))
	requireState(t, m, "a", StateStopped) // it ignores SIGTERM: SIGKILL after the timeout, still a stop
	assert.True(t, m.ManuallyControlled())
	assert.ErrorIs(t, m.SignalProcess(context.Background(), "a", syscall.SIGHUP), ErrNotRunningProcess)
}

// A runner that never reports the exit after SIGKILL (its plugin is
// frozen) does not hang a stop: the process is given up on KillWait after
// SIGKILL, stopped with a reason that says so, and the run's late exit,
// when the runner answers at last, changes nothing and blocks nothing.
func TestStopGivesUpOnARunnerThatNeverReportsTheExit(t *testing.T) {
	r := newFakeRunner()
	r.frozen = true
	const stopTimeout, killWait = 50 * time.Millisecond, 100 * time.Millisecond
	m := New([]ProcessSpec{spec("a", r, func(s *ProcessSpec) { s.StopTimeout = stopTimeout })},
		Options{Logger: testLogger(t), KillWait: killWait})
	require.NoError(t, m.Start(context.Background()))
	events := m.Subscribe()
	done := make(chan error, 1)
	go func() { done <- m.Stop(context.Background()) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(waitFor):
		t.Fatal("Stop hung on a runner that never reports the exit")
	}
	assert.Equal(t, []string{"a:SIGTERM", "a:SIGKILL"}, r.signals.list())
	info, err := m.Process("a")
	require.NoError(t, err)
	assert.Equal(t, StateStopped, info.State, "a requested stop is no crash")
	assert.Equal(t, "killed after the stop timeout (50ms); its runner fake did not report the exit within 100ms of SIGKILL", info.Reason)
	require.NotNil(t, info.LastExit)
	assert.Contains(t, info.LastExit.Error, "exit not reported")
	assert.Equal(t, []string{"running>stopping", "stopping>stopped"}, collect(t, events, "a", StateStopped))
	// The runner answers at last: the watcher's late report must not
	// block (the owner has ended) nor change anything.
	p := r.last()
	p.exit(&sdk.ExitError{Code: -1, Signal: "SIGKILL"})
	require.Eventually(t, func() bool { return r.live.Load() == 0 }, waitFor, tick)
	info, _ = m.Process("a")
	assert.Equal(t, StateStopped, info.State)
	assert.Contains(t, info.LastExit.Error, "exit not reported")
}

// A run given up on while the supervisor goes on (prox stop a) can be
// started again, and the old run's late exit does not end the new run.
func TestLateExitOfAnAbandonedRunDoesNotEndTheNextRun(t *testing.T) {
	r := newFakeRunner()
	r.frozen = true
	m := New([]ProcessSpec{spec("a", r, func(s *ProcessSpec) { s.StopTimeout = 20 * time.Millisecond })},
		Options{Logger: testLogger(t), KillWait: 50 * time.Millisecond})
	require.NoError(t, m.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = m.Stop(ctx)
		for _, p := range r.procs {
			p.exit(nil)
		}
	})
	old := r.last()
	require.NoError(t, m.StopProcess(context.Background(), "a"))
	requireState(t, m, "a", StateStopped)
	r.mu.Lock()
	r.frozen = false
	r.mu.Unlock()
	require.NoError(t, m.StartProcess(context.Background(), "a"))
	require.Equal(t, 2, r.count())
	old.exit(&sdk.ExitError{Code: -1, Signal: "SIGKILL"})
	require.Eventually(t, func() bool { return r.live.Load() == 1 }, waitFor, tick)
	// Taken for the new run's, the late exit would end it at once.
	assert.Never(t, func() bool { return stateOf(m, "a") != StateRunning }, 300*time.Millisecond, tick,
		"the old run's late exit ended the new run")
	info := requireState(t, m, "a", StateRunning)
	assert.Equal(t, r.last().pid, info.PID, "the new run still runs")
}

// A start that its runner never answers (a frozen plugin; this one even
// ignores its context) does not hang a stop either: it is given up on
// after the stop timeout plus KillWait, and what it starts after all is
// killed.
func TestStopGivesUpOnAStartThatNeverReturns(t *testing.T) {
	r := newFakeRunner()
	m := New([]ProcessSpec{spec("a", r, func(s *ProcessSpec) { s.StopTimeout = 20 * time.Millisecond })},
		Options{Logger: testLogger(t), KillWait: 50 * time.Millisecond})
	require.NoError(t, m.Start(context.Background()))
	require.NoError(t, m.StopProcess(context.Background(), "a"))
	hold := make(chan struct{})
	r.mu.Lock()
	r.hold = hold
	r.mu.Unlock()
	started := make(chan error, 1)
	go func() { started <- m.StartProcess(context.Background(), "a") }()
	requireState(t, m, "a", StateStarting)

	done := make(chan error, 1)
	go func() { done <- m.Stop(context.Background()) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(waitFor):
		close(hold)
		t.Fatal("Stop hung on a start that never returns")
	}
	info, _ := m.Process("a")
	assert.Equal(t, StateStopped, info.State)
	assert.Equal(t, "its runner fake did not answer the start within 70ms of the stop", info.Reason)
	require.Error(t, <-started)

	close(hold) // the runner answers at last: its process is killed
	require.Eventually(t, func() bool { return r.count() == 2 && r.live.Load() == 0 }, waitFor, tick)
	assert.Equal(t, "a:SIGKILL", r.signals.list()[len(r.signals.list())-1])
}
