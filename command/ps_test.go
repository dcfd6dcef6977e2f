package command

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prox-dev/prox/agent"
	"github.com/prox-dev/prox/supervisor/control"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// twoProcesses is a configuration with a long-running process and one that
// fails at once.
const twoProcesses = `
process "web" { command = ["sh", "-c", "echo web up; exec sleep 600"] }
process "once" { command = ["sh", "-c", "echo once done >&2; exit 3"] }
`

// TestPsAndTheSocket runs one prox up for the ps command and the socket's
// properties: a prox up costs about a second to start.
func TestPsAndTheSocket(t *testing.T) {
	rp := startProx(t, twoProcesses, "web")
	rp.waitState(t, "once", "crashed")
	t.Run("table", func(t *testing.T) { testPsTable(t, rp) })
	t.Run("json", func(t *testing.T) { testPsJSON(t, rp) })
	t.Run("socket from -socket and PROX_SOCKET", func(t *testing.T) { testSocketFromFlagAndEnvironment(t, rp) })
	t.Run("second prox up refused", func(t *testing.T) { testSecondUpIsRefusedWithThePID(t, rp) })
	t.Run("socket permissions, removed on exit", func(t *testing.T) { testSocketPermissions(t, rp) })
}

func testPsTable(t *testing.T, rp *runningProx) {
	web := rp.waitState(t, "web", "running")

	code, out, errOut := rp.run(t, "ps")
	require.Equal(t, 0, code, errOut)
	rows := lines(out)
	require.Len(t, rows, 3, out)
	assert.Regexp(t, `^NAME\s+STATE\s+HEALTH\s+PID\s+RUNNER\s+UPTIME\s+RESTARTS\s+LAST EXIT\s+REASON$`, rows[0])
	assert.Regexp(t, `^web\s+running\s+-\s+`+strconv.Itoa(web.PID)+`\s+exec\s+\d+s\s+0\s+-\s+-$`, rows[1])
	assert.Regexp(t, `^once\s+crashed\s+-\s+-\s+exec\s+-\s+0\s+exit 3\s+exited with code 3$`, rows[2])

	// Only the named processes; an unknown name fails.
	code, out, _ = rp.run(t, "ps", "once")
	require.Equal(t, 0, code)
	assert.Len(t, lines(out), 2)
	code, _, errOut = rp.run(t, "ps", "nope")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `unknown process "nope"`)
}

func testPsJSON(t *testing.T, rp *runningProx) {
	code, out, errOut := rp.run(t, "ps", "-json")
	require.Equal(t, 0, code, errOut)

	var raw []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &raw), out)
	require.Len(t, raw, 2)
	for _, obj := range raw {
		assert.ElementsMatch(t, []string{"name", "group", "state", "pid", "runner", "restarts", "started_at", "uptime_seconds", "last_exit", "health", "reason", "containment"}, keysOf(obj))
	}
	assert.Nil(t, raw[0]["last_exit"])
	assert.ElementsMatch(t, []string{"code", "signal", "runner_died"}, keysOf(raw[1]["last_exit"].(map[string]any)))

	// The same objects as the API's.
	var got []control.Process
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	api, err := rp.client.Processes(context.Background())
	require.NoError(t, err)
	require.Len(t, got, len(api))
	for i := range api {
		assert.Equal(t, api[i].Name, got[i].Name)
		assert.Equal(t, api[i].PID, got[i].PID)
		assert.Equal(t, api[i].StartedAt, got[i].StartedAt)
		assert.Equal(t, api[i].LastExit, got[i].LastExit)
	}
	assert.Equal(t, "web", got[0].Name)
	assert.Equal(t, "running", got[0].State)
	assert.Equal(t, "exec", got[0].Runner)
	assert.Greater(t, got[0].UptimeSeconds, 0.0)
	assert.Equal(t, &control.Exit{Code: 3}, got[1].LastExit)
}

func TestControlCommandsWithoutProx(t *testing.T) {
	t.Setenv(agent.SocketEnv, "")
	dir := t.TempDir()
	config := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(config, []byte(twoProcesses), 0o644))
	for _, cmd := range [][]string{
		{"ps"}, {"logs"}, {"logs", "-f"}, {"start", "web"}, {"stop", "-all"}, {"restart", "web"},
		{"signal", "web", "HUP"}, {"events"},
	} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			code, out, errOut := runCommand(t, cmd[0], append([]string{"-config", config}, cmd[1:]...)...)
			assert.Equal(t, 1, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, "prox is not running here: nothing listens on "+filepath.Join(dir, ".prox", "prox.sock"))
		})
	}
}

func testSocketFromFlagAndEnvironment(t *testing.T, rp *runningProx) {
	elsewhere := t.TempDir() // no prox.hcl here: only the socket finds it

	code, out, errOut := runCommand(t, "ps", "-config", filepath.Join(elsewhere, "prox.hcl"), "-socket", rp.socket)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "web")

	t.Setenv(agent.SocketEnv, rp.socket)
	code, out, errOut = runCommand(t, "ps", "-config", filepath.Join(elsewhere, "prox.hcl"))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "web")

	// -socket wins over the environment.
	code, _, errOut = runCommand(t, "ps", "-socket", filepath.Join(elsewhere, "none.sock"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "none.sock")
}

func testSocketPermissions(t *testing.T, rp *runningProx) {
	dir, err := os.Stat(filepath.Dir(rp.socket))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), dir.Mode().Perm(), "only the user may enter .prox")
	sock, err := os.Lstat(rp.socket)
	require.NoError(t, err)
	assert.NotZero(t, sock.Mode()&os.ModeSocket)
	assert.Equal(t, os.FileMode(0o600), sock.Mode().Perm())
	pid, err := os.ReadFile(filepath.Join(filepath.Dir(rp.socket), "prox.pid"))
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(os.Getpid()), strings.TrimSpace(string(pid)))

	// A clean exit leaves neither the socket nor the PID file behind.
	require.Equal(t, 0, rp.stop(t))
	assert.NoFileExists(t, rp.socket)
	assert.NoFileExists(t, filepath.Join(filepath.Dir(rp.socket), "prox.pid"))
}

func testSecondUpIsRefusedWithThePID(t *testing.T, rp *runningProx) {
	code, out, errOut := runCommand(t, "up", "-config", rp.config)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, fmt.Sprintf("another prox is already running on %s (PID %d)", rp.socket, os.Getpid()))
	assert.NotContains(t, out, "web up", "the second instance started nothing")

	// The first one is untouched.
	code, out, _ = rp.run(t, "ps")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "running")
}

func TestStaleSocketIsReplaced(t *testing.T) {
	t.Setenv(agent.SocketEnv, "")
	dir := t.TempDir()
	socket := filepath.Join(dir, ".prox", "prox.sock")
	require.NoError(t, os.Mkdir(filepath.Dir(socket), 0o700))
	// What a prox killed with SIGKILL leaves: a socket nobody listens on,
	// and its PID file.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	require.NoError(t, err)
	old.SetUnlinkOnClose(false)
	require.NoError(t, old.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".prox", "prox.pid"), []byte("4194304\n"), 0o600))

	rp := startProxIn(t, dir, twoProcesses, "web")
	code, out, errOut := rp.run(t, "ps")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "web")
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// prox ps says why: the health of a process with a check, with the failing
// check's output, and what a starting process waits for; prox events first
// prints each process's current state.
func TestPsSaysWhy(t *testing.T) {
	rp := startProx(t, `
process "db" {
  command = ["sleep", "600"]
  health {
    exec { command = ["sh", "-c", "echo connection refused; exit 1"] }
    interval = "100ms"
  }
}
process "worker" {
  command = ["sleep", "600"]
  depends_on "db" { condition = "healthy" }
}
process "cache" {
  command = ["sleep", "600"]
  health {
    exec { command = ["true"] }
    interval = "100ms"
  }
}
process "once" { command = ["sh", "-c", "exit 3"] }
process "slow" {
  command = ["sleep", "600"]
  health {
    exec { command = ["sleep", "600"] }
    timeout = "1h"
  }
}
process "flaky" {
  command = ["sh", "-c", "exit 4"]
  restart {
    policy       = "on-failure"
    backoff      = "10ms"
    max_restarts = 1
  }
}
`, "db", "cache", "slow")
	rp.waitState(t, "once", "crashed")
	rp.waitState(t, "flaky", "failed")
	var ps []control.Process
	require.Eventually(t, func() bool {
		var err error
		ps, err = rp.client.Processes(context.Background())
		require.NoError(t, err)
		return ps[0].Health != nil && ps[0].Health.Status == "unhealthy" && ps[2].Health != nil && ps[2].Health.Status == "healthy"
	}, ctlWait, ctlTick, "the checks reach a verdict")

	// The API.
	assert.Equal(t, "running", ps[0].State)
	assert.Equal(t, "exit status 1: connection refused", ps[0].Health.Output, "the error and what the check printed")
	assert.NotNil(t, ps[0].Health.CheckedAt)
	assert.Equal(t, "starting", ps[1].State)
	assert.Nil(t, ps[1].Health, "no check, no health")
	assert.Equal(t, "waiting for db (healthy)", ps[1].Reason)
	assert.Equal(t, "exited with code 3", ps[3].Reason)
	require.NotNil(t, ps[4].Health)
	assert.Equal(t, control.Health{Status: "checking"}, *ps[4].Health, "running, its first check not over")
	assert.Equal(t, "failed", ps[5].State)
	assert.Regexp(t, `^restart limit reached: 1 restarts? within \S+$`, ps[5].Reason)

	// The table.
	code, out, errOut := rp.run(t, "ps")
	require.Equal(t, 0, code, errOut)
	rows := lines(out)
	require.Len(t, rows, 7, out)
	assert.Regexp(t, `^NAME\s+STATE\s+HEALTH\s+PID\s+RUNNER\s+UPTIME\s+RESTARTS\s+LAST EXIT\s+REASON$`, rows[0])
	assert.Regexp(t, `^db\s+running\s+unhealthy\s+\d+\s+exec\s+\d+s\s+0\s+-\s+health check: exit status 1: connection refused$`, rows[1])
	assert.Regexp(t, `^worker\s+starting\s+-\s+-\s+exec\s+-\s+0\s+-\s+waiting for db \(healthy\)$`, rows[2])
	assert.Regexp(t, `^cache\s+running\s+healthy\s+\d+\s+exec\s+\d+s\s+0\s+-\s+-$`, rows[3])
	assert.Regexp(t, `^once\s+crashed\s+-\s+-\s+exec\s+-\s+0\s+exit 3\s+exited with code 3$`, rows[4])
	assert.Regexp(t, `^slow\s+running\s+checking\s+\d+\s+exec\s+\d+s\s+0\s+-\s+-$`, rows[5])
	assert.Regexp(t, `^flaky\s+failed\s+-\s+-\s+exec\s+-\s+1\s+exit 4\s+restart limit reached: 1 restarts? within \S+$`, rows[6])

	// ps -json: the same objects.
	code, out, errOut = rp.run(t, "ps", "-json")
	require.Equal(t, 0, code, errOut)
	var got []control.Process
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, "waiting for db (healthy)", got[1].Reason)
	assert.Equal(t, "unhealthy", got[0].Health.Status)
	assert.Equal(t, "checking", got[4].Health.Status)
	assert.Equal(t, ps[5].Reason, got[5].Reason)

	// prox events: the current states first.
	evOut, stop := startEvents(t, rp)
	require.Eventually(t, func() bool { return len(lines(evOut.String())) >= 6 }, ctlWait, ctlTick)
	assert.Equal(t, 0, stop())
	rows = lines(evOut.String())
	assert.Equal(t, "db is running, unhealthy: health check: exit status 1: connection refused", rows[0][13:])
	assert.Equal(t, "worker is starting: waiting for db (healthy)", rows[1][13:])
	assert.Equal(t, "cache is running, healthy", rows[2][13:])
	assert.Equal(t, "once is crashed: exited with code 3", rows[3][13:])
	assert.Equal(t, "slow is running, checking", rows[4][13:])
	assert.Regexp(t, `^flaky is failed restarts=1: restart limit reached: 1 restarts? within \S+$`, rows[5][13:])
}
