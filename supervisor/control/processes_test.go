package control

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prox-dev/prox/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatus(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"))
	st, err := inst.client.Status(testContext(t))
	require.NoError(t, err)
	assert.Equal(t, os.Getpid(), st.PID)
	assert.Equal(t, "test", st.Version)
	assert.Equal(t, APIVersion, st.APIVersion)
	assert.Equal(t, "running", st.State)
	assert.Equal(t, 1, st.Processes)
	assert.Equal(t, inst.server.Socket(), st.Socket)
	assert.Equal(t, "prox.hcl", st.Config)
}

func TestListAndGetProcesses(t *testing.T) {
	inst := startInstance(t, sh("web", "sleep 60"), sh("once", "exit 3"))
	inst.waitState(t, "once", supervisor.StateCrashed)
	ctx := testContext(t)

	ps, err := inst.client.Processes(ctx)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	assert.Equal(t, []string{"web", "once"}, []string{ps[0].Name, ps[1].Name}, "configuration order")
	web := ps[0]
	assert.Equal(t, "running", web.State)
	assert.NotZero(t, web.PID)
	assert.Equal(t, "exec", web.Runner)
	require.NotNil(t, web.StartedAt)
	assert.Nil(t, web.LastExit)
	assert.Contains(t, []string{"cgroup", "process-group"}, web.Containment, "the exec runner says")
	once := ps[1]
	assert.Equal(t, "crashed", once.State)
	assert.Zero(t, once.PID)
	assert.Nil(t, once.StartedAt)
	assert.Equal(t, web.Containment, once.Containment, "its last run's")
	require.NotNil(t, once.LastExit)
	assert.Equal(t, 3, once.LastExit.Code)

	p, err := inst.client.Process(ctx, "web")
	require.NoError(t, err)
	assert.Equal(t, web.PID, p.PID)

	// The JSON keys are exactly the documented ones.
	resp := get(t, inst, "/v1/processes/once")
	var raw map[string]any
	require.NoError(t, json.Unmarshal(resp, &raw))
	assert.ElementsMatch(t, []string{"name", "group", "state", "pid", "runner", "restarts", "started_at", "uptime_seconds", "last_exit", "health", "reason", "containment"}, keys(raw))
	assert.ElementsMatch(t, []string{"code", "signal", "runner_died"}, keys(raw["last_exit"].(map[string]any)))
}

func TestUnknownProcessIs404(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"))
	ctx := testContext(t)
	for name, call := range map[string]func() error{
		"get":     func() error { _, err := inst.client.Process(ctx, "nope"); return err },
		"start":   func() error { _, err := inst.client.Start(ctx, "nope"); return err },
		"stop":    func() error { _, err := inst.client.Stop(ctx, "nope"); return err },
		"restart": func() error { _, err := inst.client.Restart(ctx, "nope"); return err },
		"signal":  func() error { _, err := inst.client.Signal(ctx, "nope", "HUP"); return err },
		"logs":    func() error { _, err := inst.client.Logs(ctx, LogQuery{Processes: []string{"nope"}}); return err },
		"follow":  func() error { _, err := inst.client.FollowLogs(ctx, LogQuery{Processes: []string{"nope"}}); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, http.StatusNotFound, ae.Status)
			assert.Equal(t, CodeUnknownProcess, ae.Code)
			assert.Contains(t, ae.Message, `"nope"`)
		})
	}
	// The raw answer is the documented error object.
	resp, err := inst.client.http.Get("http://prox/v1/processes/nope")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var body map[string]map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	assert.Equal(t, CodeUnknownProcess, body["error"]["code"])
	assert.NotEmpty(t, body["error"]["message"])
}

func TestUnknownRouteIs404(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"))
	resp, err := inst.client.http.Get("http://prox/v2/processes")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.True(t, IsCode(decodeError(resp), CodeNotFound))
}

func TestRestartChangesPIDAndCount(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"))
	ctx := testContext(t)
	before, err := inst.client.Process(ctx, "a")
	require.NoError(t, err)
	after, err := inst.client.Restart(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, "running", after.State)
	assert.NotEqual(t, before.PID, after.PID)
	assert.Equal(t, before.Restarts+1, after.Restarts)
}

func TestStopOneLeavesTheOthers(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"), sh("b", "sleep 60"))
	ctx := testContext(t)
	b, err := inst.client.Process(ctx, "b")
	require.NoError(t, err)
	a, err := inst.client.Stop(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, "stopped", a.State)
	assert.Zero(t, a.PID)
	require.NotNil(t, a.LastExit)
	assert.Equal(t, "SIGTERM", a.LastExit.Signal)
	b2, err := inst.client.Process(ctx, "b")
	require.NoError(t, err)
	assert.Equal(t, "running", b2.State)
	assert.Equal(t, b.PID, b2.PID, "b was not touched")

	a, err = inst.client.Start(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, "running", a.State)
	assert.NotZero(t, a.PID)
}

func TestActionsOnEveryProcess(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"), sh("b", "sleep 60"))
	ctx := testContext(t)
	ps, err := inst.client.All(ctx, "stop")
	require.NoError(t, err)
	for _, p := range ps {
		assert.Equal(t, "stopped", p.State, p.Name)
	}
	ps, err = inst.client.All(ctx, "start")
	require.NoError(t, err)
	for _, p := range ps {
		assert.Equal(t, "running", p.State, p.Name)
	}
	ps, err = inst.client.All(ctx, "restart")
	require.NoError(t, err)
	for _, p := range ps {
		assert.Equal(t, "running", p.State, p.Name)
		assert.Equal(t, 1, p.Restarts, p.Name)
	}
}

func TestStartFailureIsReported(t *testing.T) {
	inst := startInstance(t, proc{name: "ghost", command: []string{"no-such-program-here"}})
	inst.waitState(t, "ghost", supervisor.StateFailed)
	_, err := inst.client.Start(testContext(t), "ghost")
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusInternalServerError, ae.Status)
	assert.Equal(t, CodeActionFailed, ae.Code)
	assert.Contains(t, ae.Message, "no-such-program-here")
}

func TestSignal(t *testing.T) {
	inst := startInstance(t,
		sh("trap", `trap 'echo got HUP' HUP; echo ready; while :; do sleep 0.01; done`),
		sh("done", "true"),
	)
	inst.waitLines(t, "trap", 1)
	ctx := testContext(t)
	p, err := inst.client.Signal(ctx, "trap", "HUP")
	require.NoError(t, err)
	assert.Equal(t, "running", p.State)
	require.Eventually(t, func() bool {
		lines, err := inst.client.Logs(ctx, LogQuery{Processes: []string{"trap"}, Contains: "got HUP"})
		return err == nil && len(lines) == 1
	}, waitFor, tick, "the process's trap ran")

	_, err = inst.client.Signal(ctx, "trap", "SIGNOPE")
	assert.True(t, IsCode(err, CodeInvalidSignal), "%v", err)
	_, err = inst.client.Signal(ctx, "trap", "")
	assert.True(t, IsCode(err, CodeInvalidSignal), "%v", err)

	inst.waitState(t, "done", supervisor.StateStopped)
	_, err = inst.client.Signal(ctx, "done", "TERM")
	assert.True(t, IsCode(err, CodeNotRunning), "%v", err)

	// A number works too: 15 is SIGTERM, which ends the loop.
	_, err = inst.client.Signal(ctx, "trap", "15")
	require.NoError(t, err)
	inst.waitState(t, "trap", supervisor.StateCrashed)
}

// plainSupervisor hides the Manager's SignalProcess: a Supervisor that
// cannot signal processes.
type plainSupervisor struct{ Supervisor }

func TestSignalWithoutSignallerIs501(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"))
	sock := filepath.Join(t.TempDir(), "plain.sock")
	ln, err := Listen(sock)
	require.NoError(t, err)
	srv := Serve(ln, Options{Supervisor: plainSupervisor{inst.sup}, Logs: inst.logs, Version: "test"})
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	client := NewClient(sock)
	defer client.Close()
	_, err = client.Signal(testContext(t), "a", "HUP")
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusNotImplemented, ae.Status)
	assert.Equal(t, CodeNotImplemented, ae.Code)
}

func TestSignalBadBody(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"))
	resp, err := inst.client.http.Post("http://prox/v1/processes/a/signal", "application/json", strings.NewReader("HUP"))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.True(t, IsCode(decodeError(resp), CodeInvalidArgument))
}

func TestNoServer(t *testing.T) {
	c := NewClient(t.TempDir() + "/prox.sock")
	defer c.Close()
	_, err := c.Processes(testContext(t))
	require.ErrorIs(t, err, ErrNoServer)
	assert.Contains(t, err.Error(), "nothing listens on")
}

// get returns the body of a GET that must succeed.
func get(t *testing.T, inst *instance, path string) []byte {
	t.Helper()
	resp, err := inst.client.http.Get("http://prox" + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// keys returns a map's keys.
func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
