package ssh

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOutputOnBothStreams(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	p := start(t, r, &sdk.ProcessConfig{Command: sh("echo out 1; echo err 1 >&2; echo out 2; echo err 2 >&2")})
	assert.Equal(t, "out 1\nout 2\n", p.stdout.all(t))
	assert.Equal(t, "err 1\nerr 2\n", p.stderr.all(t))
	require.NoError(t, p.wait(t))
}

func TestStreamsSeparatedAndOrdered(t *testing.T) {
	const n = 20000
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	p := start(t, r, &sdk.ProcessConfig{Command: sh(fmt.Sprintf(`
		i=0; while [ $i -lt %[1]d ]; do echo "out $i"; i=$((i+1)); done &
		i=0; while [ $i -lt %[1]d ]; do echo "err $i" >&2; i=$((i+1)); done &
		wait`, n))})
	stdout, stderr := p.stdout.all(t), p.stderr.all(t)
	require.NoError(t, p.wait(t))
	check := func(name, got string) {
		lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		require.Len(t, lines, n, name)
		for i, l := range lines {
			require.Equal(t, fmt.Sprintf("%s %d", name, i), l)
		}
	}
	check("out", stdout)
	check("err", stderr)
}

func TestPIDIsRemoteGroupLeader(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	p := start(t, r, &sdk.ProcessConfig{Command: []string{"sleep", "3600"}})
	// The marker was consumed: the PID is the command's own, it leads its
	// group, and it runs as the remote user.
	group := waitForGroup(t, p.PID(), "sleep 3600")
	assert.Equal(t, p.PID(), pidOf(t, group, "sleep 3600"))
	assert.Equal(t, testUID(t), uidOf(p.PID()))
	require.NoError(t, p.Signal(syscall.SIGKILL))
	require.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGKILL"}, p.wait(t))
	assert.Empty(t, p.stdout.all(t))
}

func TestExitStatus(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	for _, tc := range []struct {
		name   string
		script string
		want   error
	}{
		{"zero", "exit 0", nil},
		{"code", "echo crashing >&2; exit 3", &sdk.ExitError{Code: 3}},
		{"high code", "exit 200", &sdk.ExitError{Code: 200}},
		{"signal", "kill -s USR1 $$", &sdk.ExitError{Code: -1, Signal: "SIGUSR1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, r, &sdk.ProcessConfig{Command: sh(tc.script)})
			err := p.wait(t)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, tc.want, err)
			// Every call returns the same result.
			assert.Same(t, err, p.Wait())
		})
	}
}

func TestTerminatingSignalReported(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	p := start(t, r, &sdk.ProcessConfig{Command: sh("echo ready; exec sleep 3600")})
	require.Eventually(t, func() bool { return p.stdout.contains("ready\n") }, waitFor, tick)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	err := p.wait(t)
	require.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGTERM"}, err)
	assert.Equal(t, "killed by SIGTERM", err.Error())
}

func TestArgvQuotedSafely(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	args := []string{
		"plain", "two words", "", "it's", `"double"`, `$HOME`, "`id`", "$(id)",
		"a;b", "a|b", "*", "~", "back\\slash", "new\nline", "'", "''", `'\''`, "-n", "--",
	}
	p := start(t, r, &sdk.ProcessConfig{Command: append([]string{"printf", "[%s]\\n"}, args...)})
	var want strings.Builder
	for _, a := range args {
		want.WriteString("[" + a + "]\n")
	}
	assert.Equal(t, want.String(), p.stdout.all(t))
	assert.Empty(t, p.stderr.all(t))
	require.NoError(t, p.wait(t))
}

func TestEnvExportedExceptLocalOnly(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	nasty := "it's \"quoted\" $HOME `id` $(id) \\ ; * \n second line"
	p := start(t, r, &sdk.ProcessConfig{
		Command: sh(`printf '%s|' "$NASTY" "$EMPTY" "$LANG" "$LC_ALL" "$HOME" "$USER" "$PATH" "${SSH_AUTH_SOCK-unset}" "${XDG_RUNTIME_DIR-unset}" "$DUP"`),
		Env: []string{
			"PATH=/local/only/bin", "HOME=/root", "USER=root", "SSH_AUTH_SOCK=/tmp/agent.sock",
			"XDG_RUNTIME_DIR=/run/user/0", "LANG=C.UTF-8", "LC_ALL=C", "NASTY=" + nasty, "EMPTY=",
			"BAD-NAME=x", "DUP=first", "DUP=last",
		},
	})
	require.NoError(t, p.wait(t))
	got := strings.Split(p.stdout.all(t), "|")
	require.Len(t, got, 11)
	assert.Equal(t, nasty, got[0])
	assert.Empty(t, got[1])
	assert.Equal(t, "C.UTF-8", got[2], "LANG is exported")
	assert.Equal(t, "C", got[3], "LC_* is exported")
	assert.Equal(t, "/home/"+testUser, got[4], "HOME is the remote user's")
	assert.Equal(t, testUser, got[5], "USER is the remote user's")
	assert.NotContains(t, got[6], "/local/only/bin", "PATH is the remote login's")
	assert.Equal(t, "unset", got[7], "SSH_* is not exported")
	assert.Equal(t, "unset", got[8], "XDG_* is not exported")
	assert.Equal(t, "last", got[9], "a later duplicate wins")
	assert.Empty(t, p.stderr.all(t))
}

func TestDirHonoured(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	// A directory the remote user may enter, with an awkward name.
	dir := filepath.Join(srv.Dir, "it's a dir")
	require.NoError(t, os.Mkdir(dir, 0o755))
	p := start(t, r, &sdk.ProcessConfig{Command: sh("pwd -P"), Dir: dir})
	require.NoError(t, p.wait(t))
	want, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)
	assert.Equal(t, want+"\n", p.stdout.all(t))

	// Without Dir: the login directory.
	p = start(t, r, &sdk.ProcessConfig{Command: []string{"pwd"}})
	require.NoError(t, p.wait(t))
	assert.Equal(t, "/home/"+testUser+"\n", p.stdout.all(t))
}

func TestStartErrors(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	ctx := context.Background()

	_, err := r.Start(ctx, &sdk.ProcessConfig{Name: "web", Command: []string{"prox-no-such-command"}})
	require.ErrorIs(t, err, osexec.ErrNotFound)
	assert.EqualError(t, err, `remote command "prox-no-such-command": executable file not found in $PATH`)

	_, err = r.Start(ctx, &sdk.ProcessConfig{Name: "web", Command: []string{"true"}, Dir: "/nonexistent/dir"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `remote working directory: `)
	assert.Contains(t, err.Error(), "/nonexistent/dir")

	_, err = r.Start(ctx, &sdk.ProcessConfig{Name: "web"})
	require.EqualError(t, err, `command is required`)

	// The failures left the connection usable.
	p := start(t, r, &sdk.ProcessConfig{Command: []string{"echo", "still fine"}})
	assert.Equal(t, "still fine\n", p.stdout.all(t))
	require.NoError(t, p.wait(t))
}

func TestStartNotConfigured(t *testing.T) {
	_, err := New().Start(context.Background(), &sdk.ProcessConfig{Name: "web", Command: []string{"true"}})
	require.EqualError(t, err, `runner is not configured`)
}

func TestGracefulStopKillsGroupWithGrandchild(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	p := start(t, r, &sdk.ProcessConfig{Command: sh("sleep 300 & sleep 301; wait")})
	group := waitForGroup(t, p.PID(), "sleep 300", "sleep 301")
	for _, proc := range group {
		assert.Equal(t, testUID(t), uidOf(proc.pid), "remote processes run as %s", testUser)
	}

	require.NoError(t, p.Signal(syscall.SIGTERM))
	require.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGTERM"}, p.wait(t))
	require.Eventually(t, func() bool { return allGone(group) }, waitFor, tick)
	assert.Empty(t, groupMembers(p.PID()))
	// Signalling a process that has exited is not an error.
	require.NoError(t, p.Signal(syscall.SIGTERM))
}

// TestStopEscalation stops a process that ignores SIGTERM the way the
// supervisor does: SIGTERM, and SIGKILL when it is still running.
func TestStopEscalation(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	p := start(t, r, &sdk.ProcessConfig{Command: sh(`
		trap 'echo got TERM' TERM
		(trap '' TERM; exec sleep 303) &
		echo ready
		while :; do wait; done`)})
	require.Eventually(t, func() bool { return p.stdout.contains("ready\n") }, waitFor, tick)
	group := waitForGroup(t, p.PID(), "sleep 303")

	require.NoError(t, p.Signal(syscall.SIGTERM))
	// The leader saw the signal and carried on; so did its child.
	require.Eventually(t, func() bool { return p.stdout.contains("got TERM\n") }, waitFor, tick)
	assert.False(t, p.isDone())
	for _, proc := range group {
		assert.True(t, proc.alive(), "process %d (%s) is gone", proc.pid, cmdline(proc.pid))
	}

	require.NoError(t, p.Signal(syscall.SIGKILL))
	require.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGKILL"}, p.wait(t))
	require.Eventually(t, func() bool { return allGone(group) }, waitFor, tick)
}

// TestSignalReachesGroupAsRoot: OpenSSH ignores SSH signal requests for
// root logins; the runner's kill in a second session does not depend on
// them.
func TestSignalReachesGroupAsRoot(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config("root"))
	p := start(t, r, &sdk.ProcessConfig{Command: sh("sleep 304 & sleep 305; wait")})
	group := waitForGroup(t, p.PID(), "sleep 304", "sleep 305")
	assert.Equal(t, 0, uidOf(p.PID()))

	require.NoError(t, p.Signal(syscall.SIGTERM))
	require.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGTERM"}, p.wait(t))
	require.Eventually(t, func() bool { return allGone(group) }, waitFor, tick)
}

// TestSignalThroughWatchdog: when the server refuses another session (here
// MaxSessions 1, held by the process itself), the signal goes through the
// process's watchdog.
func TestSignalThroughWatchdog(t *testing.T) {
	srv := startSSHD(t, "MaxSessions 1")
	r := newTestRunner(t, srv.config(testUser))
	p := start(t, r, &sdk.ProcessConfig{Command: sh(`trap 'echo got HUP' HUP; sleep 306 & echo ready; while :; do wait; done`)})
	require.Eventually(t, func() bool { return p.stdout.contains("ready\n") }, waitFor, tick)
	group := waitForGroup(t, p.PID(), "sleep 306")

	// The watchdog ignores the signals it relays.
	require.NoError(t, p.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool { return p.stdout.contains("got HUP\n") }, waitFor, tick)

	require.NoError(t, p.Signal(syscall.SIGTERM))
	require.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGTERM"}, p.wait(t))
	require.Eventually(t, func() bool { return allGone(group) }, waitFor, tick)
}

func TestLeaderExitKillsStragglers(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	p := start(t, r, &sdk.ProcessConfig{Command: sh("sleep 307 & echo $!")})
	// The straggler held stdout open: EOF and Wait mean it is gone.
	require.NoError(t, p.wait(t))
	out := strings.TrimSpace(p.stdout.all(t))
	require.NotEmpty(t, out)
	require.Eventually(t, func() bool { return len(groupMembers(p.PID())) == 0 }, waitFor, tick)
}

func TestConcurrentStartsShareOneConnection(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	const n = 8 // below sshd's default MaxSessions (10)
	procs := make([]*Process, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			p, err := r.Start(context.Background(), &sdk.ProcessConfig{Name: fmt.Sprint("p", i), Command: sh(fmt.Sprintf("echo %d; exec sleep 3600", i))})
			if assert.NoError(t, err) {
				procs[i] = p.(*Process)
			}
		})
	}
	wg.Wait()
	require.NotContains(t, procs, (*Process)(nil))
	assert.Len(t, srv.Logins(testUser), 1, "one SSH connection")
	for i, p := range procs {
		assert.Same(t, procs[0].conn, p.conn)
		out := collect(p.Stdout())
		require.Eventually(t, func() bool { return out.contains(fmt.Sprintf("%d\n", i)) }, waitFor, tick)
	}
	for _, p := range procs {
		require.NoError(t, p.Signal(syscall.SIGTERM))
	}
	for _, p := range procs {
		assert.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGTERM"}, p.Wait())
	}
}

// TestProcessesBeyondMaxSessions: a server that allows 2 sessions per
// connection still runs 5 processes of one runner block, over more
// connections, and each keeps working.
func TestProcessesBeyondMaxSessions(t *testing.T) {
	srv := startSSHD(t, "MaxSessions 2")
	r := newTestRunner(t, srv.config(testUser))
	const n = 5
	procs := make([]*started, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			p, err := r.Start(context.Background(), &sdk.ProcessConfig{Name: fmt.Sprint("p", i), Command: sh(fmt.Sprintf("echo %d; exec sleep 3600", i))})
			if assert.NoError(t, err, "start %d", i) {
				proc := p.(*Process)
				t.Cleanup(func() { _ = proc.Signal(syscall.SIGKILL) })
				procs[i] = &started{Process: proc, stdout: collect(p.Stdout()), stderr: collect(p.Stderr())}
			}
		})
	}
	wg.Wait()
	require.NotContains(t, procs, (*started)(nil))
	perConn := map[*conn]int{}
	for i, p := range procs {
		perConn[p.conn]++
		require.Eventually(t, func() bool { return p.stdout.contains(fmt.Sprintf("%d\n", i)) }, waitFor, tick)
	}
	assert.GreaterOrEqual(t, len(perConn), 3, "5 processes at 2 sessions per connection")
	for _, k := range perConn {
		assert.LessOrEqual(t, k, 2)
	}
	assert.Len(t, srv.Logins(testUser), len(perConn), "one login per connection the runner holds")

	// An exec check beside a process whose connection is full runs over
	// another connection to the same server.
	var full *started
	for _, p := range procs {
		if perConn[p.conn] == 2 {
			full = p
			break
		}
	}
	require.NotNil(t, full)
	res, err := r.Exec(context.Background(), full.Process, []string{"echo", "beside"})
	require.NoError(t, err)
	assert.Equal(t, sdk.ExecResult{ExitCode: 0, Output: []byte("beside\n")}, res)

	// Every process stops gracefully, with no session to spare for kill.
	for _, p := range procs {
		require.NoError(t, p.Signal(syscall.SIGTERM))
	}
	for _, p := range procs {
		assert.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGTERM"}, p.wait(t))
	}

	// Their sessions have ended: the next process reuses a connection.
	logins := len(srv.Logins(testUser))
	again := start(t, r, &sdk.ProcessConfig{Command: sh("echo again; exec sleep 3600")})
	require.Eventually(t, func() bool { return again.stdout.contains("again\n") }, waitFor, tick)
	assert.Contains(t, perConn, again.conn, "an existing connection")
	assert.Len(t, srv.Logins(testUser), logins)
}

func TestServerWithoutSessionsFailsTheStart(t *testing.T) {
	// MaxSessions 0 allows no session: another connection would not help,
	// and the start says so instead of dialing again and again.
	srv := startSSHD(t, "MaxSessions 0")
	r := newTestRunner(t, srv.config(testUser))
	_, err := r.Start(context.Background(), &sdk.ProcessConfig{Name: "p", Command: []string{"true"}})
	require.ErrorIs(t, err, errNoSessions)
	assert.ErrorContains(t, err, "MaxSessions")
	assert.Len(t, srv.Logins(testUser), 1, "one connection tried")
}

func TestShutdownKillsRemoteProcesses(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	a := start(t, r, &sdk.ProcessConfig{Command: []string{"sleep", "308"}})
	b := start(t, r, &sdk.ProcessConfig{Command: sh("trap '' TERM; sleep 309 & wait")})
	groupA := waitForGroup(t, a.PID(), "sleep 308")
	groupB := waitForGroup(t, b.PID(), "sleep 309")

	require.NoError(t, r.Shutdown())
	assert.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGKILL"}, a.wait(t))
	assert.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGKILL"}, b.wait(t))
	require.Eventually(t, func() bool { return allGone(groupA) && allGone(groupB) }, waitFor, tick)

	_, err := r.Start(context.Background(), &sdk.ProcessConfig{Name: "late", Command: []string{"true"}})
	require.EqualError(t, err, `runner is shut down`)
}

func TestStartCancelled(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Start(ctx, &sdk.ProcessConfig{Name: "web", Command: []string{"true"}})
	require.ErrorIs(t, err, context.Canceled)
}

// TestStartTimesOut: a session that never runs the command (here sshd's
// ForceCommand replaces it with one that waits for input) fails the start
// after connect_timeout instead of hanging it.
func TestStartTimesOut(t *testing.T) {
	srv := startSSHD(t, "ForceCommand read line")
	cfg := srv.config(testUser)
	cfg["connect_timeout"] = "1s"
	r := newTestRunner(t, cfg)
	_, err := r.Start(context.Background(), &sdk.ProcessConfig{Name: "web", Command: []string{"true"}})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "the remote command did not start within connect_timeout (1s)")
	// Closing the session ended the forced command's input, hence it.
	require.Eventually(t, func() bool {
		for _, pid := range descendants(srv.PID) {
			if comm(pid) != "sshd" {
				return false
			}
		}
		return true
	}, waitFor, tick)
}

// A normal stop closes the connections without a warning: only a
// connection lost while in use is one.
func TestShutdownLogsNoWarning(t *testing.T) {
	srv := startSSHD(t)
	var logs syncBuffer
	r := newRunner(hclog.New(&hclog.LoggerOptions{Name: Name, Output: &logs, Level: hclog.Debug}))
	raw, err := json.Marshal(srv.config(testUser))
	require.NoError(t, err)
	require.NoError(t, r.Configure(&sdk.Config{APIVersion: 1, Values: raw}))
	p := start(t, r, &sdk.ProcessConfig{Command: []string{"sleep", "310"}})
	waitForGroup(t, p.PID(), "sleep 310")

	require.NoError(t, r.Shutdown())
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), "connection closed") || strings.Contains(logs.String(), "connection ended")
	}, waitFor, tick, "the end of the connection is logged:\n%s", logs.String())
	assert.NotContains(t, logs.String(), "[WARN]", "a normal stop is no warning")
}
