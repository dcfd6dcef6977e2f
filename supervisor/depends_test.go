package supervisor

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flipCheck is a HealthCheck the test turns healthy or unhealthy.
type flipCheck struct {
	mu sync.Mutex
	ok bool
}

func (c *flipCheck) set(ok bool) {
	c.mu.Lock()
	c.ok = ok
	c.mu.Unlock()
}

// Probe implements HealthCheck: the check is its own probe.
func (c *flipCheck) Probe(Run) Probe { return c }

func (c *flipCheck) Check(context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok {
		return "fine", nil
	}
	return "", errors.New("not fine")
}

func fastHealth(check HealthCheck) *HealthSpec {
	return &HealthSpec{Check: check, Interval: time.Millisecond, Timeout: time.Second, FailureThreshold: 2}
}

func dependsOn(deps ...Dependency) func(*ProcessSpec) {
	return func(s *ProcessSpec) { s.DependsOn = deps }
}

// eventLog records every event of a manager, in order.
type eventLog struct {
	mu     sync.Mutex
	events []SupervisorEvent
}

func recordEvents(t *testing.T, m *Manager) *eventLog {
	l := &eventLog{}
	ch := m.Subscribe()
	go func() {
		for ev := range ch {
			l.mu.Lock()
			l.events = append(l.events, ev)
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() { m.Unsubscribe(ch) })
	return l
}

// index returns the position of the first event matching f, -1 if none.
func (l *eventLog) index(f func(SupervisorEvent) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, ev := range l.events {
		if f(ev) {
			return i
		}
	}
	return -1
}

func TestDependentWaitsUntilHealthy(t *testing.T) {
	r := newFakeRunner()
	logCheck := &LogCheck{Match: regexp.MustCompile(`ready to accept`)}
	m := New([]ProcessSpec{
		spec("db", r, func(s *ProcessSpec) { s.Health = fastHealth(logCheck) }),
		spec("api", r, dependsOn(Dependency{Name: "db", Condition: policy.ConditionHealthy})),
	}, Options{Logger: testLogger(t)})
	events := recordEvents(t, m)
	require.NoError(t, m.Start(context.Background()))
	t.Cleanup(func() { _ = m.Stop(context.Background()) })

	requireState(t, m, "api", StateStarting)
	require.Eventually(t, func() bool {
		api, _ := m.Process("api")
		return api.Reason == "waiting for db (healthy)"
	}, waitFor, tick)
	db, _ := m.Process("db")
	assert.NotEqual(t, HealthHealthy, db.Health.Status, "no line matched yet")
	assert.Equal(t, 1, r.count(), "api did not start")

	var dbProc *fakeProc
	for _, p := range r.procs {
		if p.name == "db" {
			dbProc = p
		}
	}
	_, err := dbProc.outW.Write([]byte("db is ready to accept connections\n"))
	require.NoError(t, err)

	requireState(t, m, "api", StateRunning)
	var healthy, apiRunning int
	require.Eventually(t, func() bool {
		healthy = events.index(func(ev SupervisorEvent) bool {
			return ev.Process == "db" && ev.Type == EventHealth && ev.Health == HealthHealthy
		})
		apiRunning = events.index(func(ev SupervisorEvent) bool {
			return ev.Process == "api" && ev.To == StateRunning
		})
		return healthy >= 0 && apiRunning >= 0
	}, waitFor, tick)
	assert.Greater(t, apiRunning, healthy, "api ran only after db was healthy")
	db, _ = m.Process("db")
	assert.Equal(t, HealthHealthy, db.Health.Status)
	assert.Contains(t, db.Health.Output, "ready to accept")
}

func TestFailedDependencyLeavesDependentsUnstarted(t *testing.T) {
	failing := newFakeRunner()
	failing.startErr = errBoom
	r := newFakeRunner()
	m := New([]ProcessSpec{
		spec("db", failing),
		spec("api", r, dependsOn(Dependency{Name: "db", Condition: policy.ConditionStarted})),
		spec("worker", r, dependsOn(Dependency{Name: "api", Condition: policy.ConditionStarted})),
	}, Options{Logger: testLogger(t)})
	_ = m.Start(context.Background())
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	api := requireState(t, m, "api", StateFailed)
	assert.Contains(t, api.Reason, `not started: dependency "db" failed`)
	worker := requireState(t, m, "worker", StateFailed)
	assert.Contains(t, worker.Reason, `dependency "api" failed`)
	assert.Equal(t, 0, r.count(), "no dependent was started")
}

func TestCompletedConditions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		exit      error
		condition string
		want      State
	}{
		{"completed_successfully after exit 0", nil, policy.ConditionCompletedSuccessfully, StateRunning},
		{"completed_successfully after exit 1", &sdk.ExitError{Code: 1}, policy.ConditionCompletedSuccessfully, StateFailed},
		{"completed after exit 1", &sdk.ExitError{Code: 1}, policy.ConditionCompleted, StateRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newFakeRunner()
			m := New([]ProcessSpec{
				spec("migrate", r),
				spec("app", r, dependsOn(Dependency{Name: "migrate", Condition: tc.condition})),
			}, Options{Logger: testLogger(t)})
			require.NoError(t, m.Start(context.Background()))
			t.Cleanup(func() { _ = m.Stop(context.Background()) })
			requireState(t, m, "app", StateStarting)
			r.last().exit(tc.exit)
			info := requireState(t, m, "app", tc.want)
			if tc.want == StateFailed {
				assert.Contains(t, info.Reason, "did not complete successfully (exit code 1)")
			}
		})
	}
}

func TestShutdownInReverseDependencyOrder(t *testing.T) {
	r := newFakeRunner()
	m := New([]ProcessSpec{
		spec("db", r),
		spec("cache", r),
		spec("api", r, dependsOn(Dependency{Name: "db"}, Dependency{Name: "cache"})),
		spec("worker", r, dependsOn(Dependency{Name: "api"})),
	}, Options{Logger: testLogger(t)})
	require.NoError(t, m.Start(context.Background()))
	requireState(t, m, "worker", StateRunning)
	require.NoError(t, m.Stop(context.Background()))
	sigs := r.signals.list()
	require.Len(t, sigs, 4)
	assert.Equal(t, "worker:SIGTERM", sigs[0])
	assert.Equal(t, "api:SIGTERM", sigs[1])
	assert.ElementsMatch(t, []string{"db:SIGTERM", "cache:SIGTERM"}, sigs[2:])
}

func TestStopWhileWaitingForDependencies(t *testing.T) {
	r := newFakeRunner()
	check := &flipCheck{}
	m := startManager(t,
		spec("db", r, func(s *ProcessSpec) { s.Health = fastHealth(check) }),
		spec("api", r, dependsOn(Dependency{Name: "db", Condition: policy.ConditionHealthy})),
	)
	requireState(t, m, "api", StateStarting)
	require.NoError(t, m.StopProcess(context.Background(), "api"))
	requireState(t, m, "api", StateStopped)
	check.set(true)
	require.Eventually(t, func() bool {
		db, _ := m.Process("db")
		return db.Health.Status == HealthHealthy
	}, waitFor, tick)
	assert.Equal(t, StateStopped, stateOf(m, "api"), "a stopped dependent is not started by its dependencies")
}

func TestLivenessFailureRestarts(t *testing.T) {
	r := newFakeRunner()
	check := &flipCheck{ok: true}
	m := startManager(t, spec("web", r,
		func(s *ProcessSpec) {
			s.Health = fastHealth(check)
			s.Health.Restart = true
		},
		restartPolicy(RestartPolicy{Policy: policy.RestartOnFailure, MaxRestarts: 5})))
	events := recordEvents(t, m)
	require.Eventually(t, func() bool {
		info, _ := m.Process("web")
		return info.Health.Status == HealthHealthy
	}, waitFor, tick)
	check.set(false)
	require.Eventually(t, func() bool { return r.count() >= 2 }, waitFor, tick, "the unhealthy process was restarted")
	check.set(true)
	info := requireState(t, m, "web", StateRunning)
	assert.GreaterOrEqual(t, info.Restarts, 1)
	require.Eventually(t, func() bool {
		return events.index(func(ev SupervisorEvent) bool {
			return ev.Process == "web" && ev.To == StateCrashed && strings.HasPrefix(ev.Reason, "unhealthy")
		}) >= 0
	}, waitFor, tick, "the liveness failure is a crash with its reason")
	assert.Equal(t, "web:SIGTERM", r.signals.list()[0])
}

func TestReadinessOnlyDoesNotRestart(t *testing.T) {
	r := newFakeRunner()
	check := &flipCheck{ok: true}
	m := startManager(t, spec("web", r, func(s *ProcessSpec) { s.Health = fastHealth(check) },
		restartPolicy(RestartPolicy{Policy: policy.RestartAlways, MaxRestarts: 5})))
	require.Eventually(t, func() bool {
		info, _ := m.Process("web")
		return info.Health.Status == HealthHealthy
	}, waitFor, tick)
	check.set(false)
	require.Eventually(t, func() bool {
		info, _ := m.Process("web")
		return info.Health.Status == HealthUnhealthy
	}, waitFor, tick)
	assert.Equal(t, StateRunning, stateOf(m, "web"))
	assert.Equal(t, 1, r.count())
}

func TestHTTPAndTCPChecks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx := context.Background()
	out, err := (&HTTPCheck{URL: srv.URL + "/ok", Status: 200}).Check(ctx)
	assert.NoError(t, err)
	assert.Contains(t, out, "200 OK")
	_, err = (&HTTPCheck{URL: srv.URL + "/down", Status: 200}).Check(ctx)
	assert.ErrorContains(t, err, "503")

	_, err = (&TCPCheck{Address: srv.Listener.Addr().String()}).Check(ctx)
	assert.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	_, err = (&TCPCheck{Address: addr}).Check(ctx)
	assert.Error(t, err)

	out, err = (&LocalExecCheck{Command: []string{"sh", "-c", "echo fine"}}).Check(ctx)
	assert.NoError(t, err)
	assert.Equal(t, "fine", out)
	_, err = (&LocalExecCheck{Command: []string{"sh", "-c", "exit 3"}}).Check(ctx)
	assert.Error(t, err)
}

func TestLevels(t *testing.T) {
	r := newFakeRunner()
	m := New([]ProcessSpec{
		spec("a", r), spec("b", r, dependsOn(Dependency{Name: "a"})),
		spec("c", r, dependsOn(Dependency{Name: "b"}, Dependency{Name: "a"})), spec("d", r),
	}, Options{})
	lv := levels(m.procs, m.byName)
	names := func(ps []*managedProcess) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.spec.Name)
		}
		return out
	}
	require.Len(t, lv, 3)
	assert.Equal(t, []string{"a", "d"}, names(lv[0]))
	assert.Equal(t, []string{"b"}, names(lv[1]))
	assert.Equal(t, []string{"c"}, names(lv[2]))
}
