package control

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/prox-dev/prox/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// instanceOf is an instance of the process block group.
func instanceOf(group, name, script string) proc {
	return proc{name: name, script: script, group: group}
}

// The group routes act on every instance of a process with replicas; the
// log routes take its name for all of them.
func TestGroupRoutes(t *testing.T) {
	inst := startInstance(t,
		instanceOf("web", "web.0", "echo zero; exec sleep 60"),
		instanceOf("web", "web.1", "echo one; exec sleep 60"),
		sh("db", "echo db; exec sleep 60"))
	before := map[string]int{}
	for _, n := range []string{"web.0", "web.1", "db"} {
		before[n] = inst.waitState(t, n, supervisor.StateRunning).PID
	}
	ctx := testContext(t)

	ps, err := inst.client.Group(ctx, "restart", "web", false)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	for i, p := range ps {
		assert.Equal(t, []string{"web.0", "web.1"}[i], p.Name)
		assert.Equal(t, "web", p.Group)
		assert.Equal(t, "running", p.State)
		assert.NotEqual(t, before[p.Name], p.PID)
	}
	db, err := inst.client.Process(ctx, "db")
	require.NoError(t, err)
	assert.Equal(t, before["db"], db.PID, "another process is left alone")
	assert.Equal(t, "db", db.Group, "a process of one instance is its own group")

	ps, err = inst.client.Group(ctx, "stop", "web", false)
	require.NoError(t, err)
	assert.Equal(t, "stopped", ps[0].State)
	assert.Equal(t, "stopped", ps[1].State)
	ps, err = inst.client.Group(ctx, "start", "web", false)
	require.NoError(t, err)
	assert.Equal(t, "running", ps[0].State)
	assert.Equal(t, "running", ps[1].State)

	inst.waitLines(t, "web.0", 1)
	inst.waitLines(t, "web.1", 1)
	lines, err := inst.client.Logs(ctx, LogQuery{Processes: []string{"web"}})
	require.NoError(t, err)
	var got []string
	for _, l := range lines {
		got = append(got, l.Process+" "+l.Line)
	}
	assert.Subset(t, got, []string{"web.0 zero", "web.1 one"})
	assert.NotContains(t, got, "db db")

	for _, tt := range []struct {
		uri    string
		status int
		code   string
	}{
		{"/v1/groups/nope/restart", http.StatusNotFound, CodeUnknownProcess},
		{"/v1/groups/web/restart?rolling=maybe", http.StatusBadRequest, CodeInvalidArgument},
		{"/v1/groups/web/stop?rolling=true", http.StatusBadRequest, CodeInvalidArgument},
		{"/v1/groups/web/signal", http.StatusNotFound, CodeNotFound},
	} {
		status, body, _ := rawRequest(t, inst.socket, http.MethodPost, tt.uri, "")
		assert.Equal(t, tt.status, status, tt.uri)
		assert.Equal(t, tt.code, body.Error.Code, tt.uri)
	}
}

// A rolling restart stops at an instance that does not come back, and
// leaves the instances after it running as they were.
func TestRollingRestartStopsAtAnInstanceThatDoesNotComeBack(t *testing.T) {
	// web.0's program removes itself: its next start fails.
	program := filepath.Join(t.TempDir(), "once")
	require.NoError(t, os.WriteFile(program, []byte("#!/bin/sh\nrm -f \"$0\"\nexec sleep 60\n"), 0o755))
	inst := startInstance(t,
		proc{name: "web.0", group: "web", command: []string{program}},
		instanceOf("web", "web.1", "exec sleep 60"))
	inst.waitState(t, "web.0", supervisor.StateRunning)
	web1 := inst.waitState(t, "web.1", supervisor.StateRunning)
	require.Eventually(t, func() bool {
		_, err := os.Stat(program)
		return os.IsNotExist(err)
	}, waitFor, tick)

	_, err := inst.client.Group(context.Background(), "restart", "web", true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"web.0"`)
	after, err := inst.sup.Process("web.1")
	require.NoError(t, err)
	assert.Equal(t, web1.PID, after.PID, "web.1 was not restarted")
	assert.Equal(t, 0, after.Restarts)
}
