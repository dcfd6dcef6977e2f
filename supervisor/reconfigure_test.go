package supervisor

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fingerprint(fp string) func(*ProcessSpec) {
	return func(s *ProcessSpec) { s.Fingerprint = fp }
}

func names(specs []ProcessSpec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Name
	}
	return out
}

func TestDiffByName(t *testing.T) {
	r := newFakeRunner()
	current := []ProcessSpec{
		spec("web", r, fingerprint("1")), spec("db", r, fingerprint("1")), spec("old", r, fingerprint("1")),
	}
	next := []ProcessSpec{
		spec("worker", r, fingerprint("1"), dependsOn(Dependency{Name: "db"})),
		spec("db", r, fingerprint("2")), spec("web", r, fingerprint("1")),
	}
	p, err := Diff(current, next)
	require.NoError(t, err)
	assert.Equal(t, []string{"worker"}, names(p.Add))
	assert.Equal(t, []string{"db"}, names(p.Restart))
	assert.Equal(t, []string{"old"}, p.Remove)
	assert.Equal(t, []string{"web"}, p.Unchanged)
	assert.Equal(t, []string{"worker", "db", "web"}, p.Order)
	assert.False(t, p.Empty())
	assert.Equal(t, "add 1 (worker), restart 1 (db), remove 1 (old), unchanged 1", p.String())

	same, err := Diff(current, current)
	require.NoError(t, err)
	assert.True(t, same.Empty())
	assert.Equal(t, []string{"web", "db", "old"}, same.Unchanged)
}

// Instances are specs of their own: a new count is instances added or
// removed, the others untouched.
func TestDiffOfANewInstanceCount(t *testing.T) {
	r := newFakeRunner()
	three := []ProcessSpec{spec("web.1", r), spec("web.2", r), spec("web.3", r)}
	p, err := Diff(three, three[:1])
	require.NoError(t, err)
	assert.Equal(t, []string{"web.2", "web.3"}, p.Remove)
	assert.Equal(t, []string{"web.1"}, p.Unchanged)
	p, err = Diff(three[:1], three)
	require.NoError(t, err)
	assert.Equal(t, []string{"web.2", "web.3"}, names(p.Add))
}

func TestDiffRefusesRemovingADependency(t *testing.T) {
	r := newFakeRunner()
	current := []ProcessSpec{spec("db", r), spec("web", r, dependsOn(Dependency{Name: "db"}))}
	_, err := Diff(current, current[1:])
	var de *DependencyError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, DependencyError{Removed: "db", Dependent: "web"}, *de)
	assert.EqualError(t, err, `process "db" cannot be removed: process "web" depends on it`)

	_, err = Diff(current, []ProcessSpec{spec("a", r), spec("a", r)})
	assert.EqualError(t, err, `two processes are named "a"`)
	_, err = Diff(nil, []ProcessSpec{spec("web", r, dependsOn(Dependency{Name: "nope"}))})
	assert.EqualError(t, err, `process "web" depends on "nope", which does not exist`)
}

func TestApplyChangesOnlyWhatChanged(t *testing.T) {
	r := newFakeRunner()
	m := startManager(t, spec("web", r, fingerprint("1")), spec("db", r, fingerprint("1")), spec("old", r, fingerprint("1")))
	web := requireState(t, m, "web", StateRunning)
	db := requireState(t, m, "db", StateRunning)
	requireState(t, m, "old", StateRunning)
	events := m.Subscribe()

	next := []ProcessSpec{
		spec("web", r, fingerprint("1")),
		spec("db", r, fingerprint("2")),
		spec("worker", r, fingerprint("1"), dependsOn(Dependency{Name: "db"})),
	}
	plan, err := Diff(m.Specs(), next)
	require.NoError(t, err)
	require.NoError(t, m.Apply(context.Background(), plan))

	// web: the same run, never signalled.
	after := requireState(t, m, "web", StateRunning)
	assert.Equal(t, web.PID, after.PID)
	assert.Equal(t, web.StartedAt, after.StartedAt)
	assert.NotContains(t, r.signals.list(), "web:SIGTERM")
	// db: a new run of the new spec.
	newDB := requireState(t, m, "db", StateRunning)
	assert.NotEqual(t, db.PID, newDB.PID)
	assert.Equal(t, "2", m.Specs()[1].Fingerprint)
	assert.Contains(t, r.signals.list(), "db:SIGTERM")
	// old: stopped and gone.
	assert.Contains(t, r.signals.list(), "old:SIGTERM")
	_, err = m.Process("old")
	require.ErrorIs(t, err, ErrUnknownProcess)
	// worker: new, started once db ran.
	requireState(t, m, "worker", StateRunning)
	assert.Equal(t, []string{"web", "db", "worker"}, names(m.Specs()))

	var steps []string
	deadline := time.After(waitFor)
	for !slices.Contains(steps, ":reload done") {
		select {
		case ev := <-events:
			if ev.Type == EventReload {
				if ev.Action != "" {
					steps = append(steps, ev.Process+":"+ev.Action)
				} else {
					steps = append(steps, ":"+ev.Reason)
				}
			}
		case <-deadline:
			t.Fatalf("no end of the reload among the events: %v", steps)
		}
	}
	assert.Equal(t, []string{
		":reload started: add 1 (worker), restart 1 (db), remove 1 (old), unchanged 1",
		"old:remove", "db:restart", "worker:add", ":reload done",
	}, steps)
}

func TestApplyOfANewOrderOnly(t *testing.T) {
	r := newFakeRunner()
	m := startManager(t, spec("a", r), spec("b", r))
	a := requireState(t, m, "a", StateRunning)
	plan, err := Diff(m.Specs(), []ProcessSpec{spec("b", r), spec("a", r)})
	require.NoError(t, err)
	require.True(t, plan.Empty())
	require.NoError(t, m.Apply(context.Background(), plan))
	assert.Equal(t, []string{"b", "a"}, names(m.Specs()))
	assert.Equal(t, a.PID, requireState(t, m, "a", StateRunning).PID)
}

func TestApplyStopsDependentsFirst(t *testing.T) {
	r := newFakeRunner()
	m := startManager(t, spec("db", r, fingerprint("1")), spec("web", r, fingerprint("1"), dependsOn(Dependency{Name: "db"})))
	requireState(t, m, "web", StateRunning)
	plan, err := Diff(m.Specs(), []ProcessSpec{spec("db", r, fingerprint("2")), spec("web", r, fingerprint("2"), dependsOn(Dependency{Name: "db"}))})
	require.NoError(t, err)
	require.NoError(t, m.Apply(context.Background(), plan))
	assert.Equal(t, []string{"web:SIGTERM", "db:SIGTERM"}, r.signals.list())
	requireState(t, m, "db", StateRunning)
	requireState(t, m, "web", StateRunning)
}

func TestApplyDuringAStopIsRefused(t *testing.T) {
	r := newFakeRunner()
	r.ignoreTERM = true // the stop waits for its timeout
	m := New([]ProcessSpec{spec("web", r)}, Options{Logger: testLogger(t)})
	require.NoError(t, m.Start(context.Background()))
	stopCtx, kill := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- m.Stop(stopCtx) }()
	require.Eventually(t, func() bool { return m.Status().State == "stopping" }, waitFor, tick)

	plan, err := Diff(m.Specs(), []ProcessSpec{spec("web", r), spec("worker", r)})
	require.NoError(t, err)
	require.ErrorIs(t, m.Apply(context.Background(), plan), ErrStopping)
	_, err = m.Process("worker")
	require.ErrorIs(t, err, ErrUnknownProcess)
	kill()
	require.NoError(t, <-stopped)
	require.ErrorIs(t, m.Apply(context.Background(), plan), ErrStopping)
}

func TestApplyRefusesAPlanThatDoesNotFit(t *testing.T) {
	r := newFakeRunner()
	m := startManager(t, spec("web", r))
	require.ErrorIs(t, m.Apply(context.Background(), Plan{Remove: []string{"nope"}, Order: nil}), ErrUnknownProcess)
	err := m.Apply(context.Background(), Plan{Add: []ProcessSpec{spec("web", r)}, Order: []string{"web"}})
	require.EqualError(t, err, `reload: add: process "web" exists already`)
	err = m.Apply(context.Background(), Plan{Add: []ProcessSpec{spec("x", r)}, Order: []string{"x"}})
	require.EqualError(t, err, `reload: the plan says nothing of process "web"`)
	err = m.Apply(context.Background(), Plan{Order: []string{"web", "ghost"}})
	require.EqualError(t, err, `reload: the plan's order does not fit process "ghost"`)
	err = m.Apply(context.Background(), Plan{Order: []string{"web", "web"}})
	require.EqualError(t, err, `reload: the plan's order does not fit process "web"`)
	requireState(t, m, "web", StateRunning)
}

func TestApplyBeforeStartIsRefused(t *testing.T) {
	m := New(nil, Options{Logger: testLogger(t)})
	require.ErrorIs(t, m.Apply(context.Background(), Plan{}), ErrNotRunning)
}

// A request to a process that a reload removes ends, it does not hang.
func TestRequestToARemovedProcess(t *testing.T) {
	r := newFakeRunner()
	m := startManager(t, spec("web", r), spec("old", r))
	requireState(t, m, "old", StateRunning)
	plan, err := Diff(m.Specs(), []ProcessSpec{spec("web", r)})
	require.NoError(t, err)
	require.NoError(t, m.Apply(context.Background(), plan))
	err = m.RestartProcess(context.Background(), "old")
	require.ErrorIs(t, err, ErrUnknownProcess)
	assert.Equal(t, 1, len(m.Processes()))
}

// Reloads and requests at once, under -race: nothing is started twice,
// nothing hangs, the set ends as the last plan says.
func TestApplyConcurrentWithRequests(t *testing.T) {
	r := newFakeRunner()
	m := startManager(t, spec("web", r), spec("a", r, fingerprint("0")))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = m.Processes()
				_ = m.Settled()
				err := m.RestartProcess(context.Background(), "a")
				if err != nil && !errors.Is(err, ErrUnknownProcess) && !errors.Is(err, ErrShutdown) {
					t.Errorf("restart: %v", err)
				}
				_, _ = m.Process("b")
			}
		})
	}
	for i := range 20 {
		fp := string(rune('a' + i))
		next := []ProcessSpec{spec("web", r), spec("a", r, fingerprint(fp))}
		if i%2 == 0 {
			next = append(next, spec("b", r, dependsOn(Dependency{Name: "a"})))
		}
		plan, err := Diff(m.Specs(), next)
		require.NoError(t, err)
		require.NoError(t, m.Apply(context.Background(), plan))
	}
	close(stop)
	wg.Wait()
	assert.Equal(t, []string{"web", "a"}, names(m.Specs()))
	requireState(t, m, "a", StateRunning)
	assert.Equal(t, int32(2), r.live.Load(), "web and a run, nothing else")
}

// A process the supervisor has shut down is not started again by a late
// request: it would outlive the stop (nothing would stop it).
func TestStartDuringTheStopIsRefused(t *testing.T) {
	quick, stubborn := newFakeRunner(), newFakeRunner()
	stubborn.ignoreTERM = true
	m := New([]ProcessSpec{spec("a", quick), spec("b", stubborn)}, Options{Logger: testLogger(t)})
	require.NoError(t, m.Start(context.Background()))
	stopCtx, kill := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- m.Stop(stopCtx) }()
	requireState(t, m, "a", StateStopped)
	require.Equal(t, StateStopping, stateOf(m, "b"))

	err := m.StartProcess(context.Background(), "a")
	require.ErrorIs(t, err, ErrShutdown)
	err = m.RestartProcess(context.Background(), "a")
	require.ErrorIs(t, err, ErrShutdown)
	kill()
	require.NoError(t, <-stopped)
	assert.Zero(t, quick.live.Load(), "nothing of a runs after the stop")
}

func TestRequestedStopsThatNeedSIGKILLAreNoCrash(t *testing.T) {
	// Every stop prox asks for itself, not only prox stop and Ctrl-C: a
	// restart (prox restart, each step of restart -rolling) and a reload
	// that removes a process (a removed block, prox scale down). A
	// process that ignores SIGTERM needs SIGKILL after its timeout, and
	// still ends stopped with the reason, never crashed: a crash alerts.
	r := newFakeRunner()
	r.ignoreTERM = true
	short := func(s *ProcessSpec) { s.StopTimeout = 20 * time.Millisecond }
	m := startManager(t, spec("web.0", r, short, fingerprint("1")), spec("web.1", r, short, fingerprint("1")))
	requireState(t, m, "web.0", StateRunning)
	requireState(t, m, "web.1", StateRunning)
	events := m.Subscribe()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()

	require.NoError(t, m.RestartProcess(ctx, "web.0"))
	assert.Equal(t, []string{
		"running>stopping", "stopping>stopped: killed after the stop timeout (20ms)", "stopped>starting", "starting>running",
	}, changes(t, events, "web.0", StateRunning), "a restart that needed SIGKILL")

	plan, err := Diff(m.Specs(), []ProcessSpec{spec("web.0", r, short, fingerprint("1"))})
	require.NoError(t, err)
	require.Equal(t, []string{"web.1"}, plan.Remove)
	require.NoError(t, m.Apply(ctx, plan))
	assert.Equal(t, []string{"running>stopping", "stopping>stopped: killed after the stop timeout (20ms)"},
		changes(t, events, "web.1", StateStopped), "a removal that needed SIGKILL")
	assert.Equal(t, []string{"web.0:SIGTERM", "web.0:SIGKILL", "web.1:SIGTERM", "web.1:SIGKILL"}, r.signals.list())
}

// changes reads the state events of process until it reaches last:
// "from>to", and ": reason" when there is one.
func changes(t *testing.T, ch <-chan SupervisorEvent, process string, last State) []string {
	t.Helper()
	var out []string
	for _, ev := range stateEvents(t, ch, process, last) {
		s := string(ev.From) + ">" + string(ev.To)
		if ev.Reason != "" {
			s += ": " + ev.Reason
		}
		out = append(out, s)
	}
	return out
}
