package ssh

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExecerSuite runs the SDK's Execer suite against the ssh runner,
// through the gRPC adapters as prox uses it, with one private sshd and a
// fresh runner (and so connection) per check. The remote host is this
// machine, so the suite checks in /proc that a command outliving its
// context is killed with its child.
func TestExecerSuite(t *testing.T) {
	srv := startSSHD(t)
	sdktest.ExecerSuite(t, func(t *testing.T) sdk.Runner {
		r := New()
		sdktest.Configure(t, r, map[string]any(srv.config(testUser)))
		return r
	}, sdktest.ExecerSuiteOptions{
		// A folder the test user may enter, with a quote in its name.
		Dir: func(t *testing.T) string {
			dir := filepath.Join(srv.Dir, "it's "+strings.ReplaceAll(t.Name(), "/", "_"))
			require.NoError(t, os.MkdirAll(dir, 0o755))
			resolved, err := filepath.EvalSymlinks(dir)
			require.NoError(t, err)
			return resolved
		},
		OutputLimit:   execOutputLimit,
		HostProcesses: true,
	})
}

// TestExec checks the ssh runner's own Exec properties (ExecerSuite has
// the ones every Execer shares) against one private sshd, with one runner
// (and so one connection) for all the checks.
func TestExec(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	for _, tc := range []struct {
		name  string
		check func(t *testing.T, srv *sshd, r *Runner)
	}{
		{"ExitCodesAndOutput", testExecExitCodesAndOutput},
		{"RunsLikeTheProcess", testExecRunsLikeTheProcess},
		{"OnTheProcessConnection", testExecOnTheProcessConnection},
		{"StragglersKilledWhenCommandExits", testExecStragglersKilledWhenCommandExits},
		{"FailuresBeforeTheCommand", testExecFailuresBeforeTheCommand},
		{"DirGone", testExecDirGone},
		{"AfterExit", testExecAfterExit},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, srv, r) })
	}
}

// running starts a process that runs until killed, for commands to run
// beside it.
func running(t *testing.T, r *Runner, cfg *sdk.ProcessConfig) *started {
	t.Helper()
	if cfg.Command == nil {
		cfg.Command = sh("echo ready; exec sleep 3600")
	}
	p := start(t, r, cfg)
	require.Eventually(t, func() bool { return p.stdout.contains("ready\n") }, waitFor, tick)
	return p
}

// execCtx runs command beside p with a deadline of waitFor.
func execCtx(t *testing.T, r *Runner, p sdk.Process, command ...string) (sdk.ExecResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	return r.Exec(ctx, p, command)
}

// remotePIDs lists the live processes of the test user running cmd.
func remotePIDs(t *testing.T, cmd string) []int {
	t.Helper()
	uid := testUID(t)
	var out []int
	for _, pid := range pids() {
		if st, ok := readStat(pid); ok && st.State != "Z" && cmdline(pid) == cmd && uidOf(pid) == uid {
			out = append(out, pid)
		}
	}
	return out
}

func testExecExitCodesAndOutput(t *testing.T, _ *sshd, r *Runner) {
	p := running(t, r, &sdk.ProcessConfig{})

	// Standard output and standard error come combined, in the order the
	// command wrote them.
	res, err := execCtx(t, r, p.Process, "sh", "-c", "echo one; echo two >&2; echo three; echo four >&2; exit 3")
	require.NoError(t, err)
	assert.Equal(t, 3, res.ExitCode)
	assert.Equal(t, "one\ntwo\nthree\nfour\n", string(res.Output))

	// A command killed by a signal exits 128+N, as a shell reports it.
	res, err = execCtx(t, r, p.Process, "sh", "-c", "kill -s KILL $$")
	require.NoError(t, err)
	assert.Equal(t, 128+9, res.ExitCode)

	// The process is untouched by the commands beside it.
	assert.False(t, p.isDone())
}

func testExecRunsLikeTheProcess(t *testing.T, srv *sshd, r *Runner) {
	dir := filepath.Join(srv.Dir, "it's the dir")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	want, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)
	p := running(t, r, &sdk.ProcessConfig{
		Dir: dir,
		Env: []string{"GREETING=hello there", "PATH=/local/only/bin", "SSH_AUTH_SOCK=/tmp/agent.sock"},
	})

	res, err := execCtx(t, r, p.Process, "sh", "-c", `pwd -P; echo "$GREETING"; id -un; echo "${SSH_AUTH_SOCK-unset}"; case "$PATH" in */local/only/bin*) echo local PATH;; *) echo remote PATH;; esac`)
	require.NoError(t, err)
	require.Zero(t, res.ExitCode, "output: %s", res.Output)
	assert.Equal(t, want+"\nhello there\n"+testUser+"\nunset\nremote PATH\n", string(res.Output))
}

func testExecOnTheProcessConnection(t *testing.T, srv *sshd, r *Runner) {
	p := running(t, r, &sdk.ProcessConfig{})
	require.Len(t, srv.Logins(testUser), 1)

	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			res, err := execCtx(t, r, p.Process, "sh", "-c", "echo check $0", strings.Repeat("x", i+1))
			if assert.NoError(t, err) {
				assert.Equal(t, "check "+strings.Repeat("x", i+1)+"\n", string(res.Output))
			}
		})
	}
	wg.Wait()
	assert.Len(t, srv.Logins(testUser), 1, "the commands ran over the process's connection")
}

func testExecStragglersKilledWhenCommandExits(t *testing.T, _ *sshd, r *Runner) {
	p := running(t, r, &sdk.ProcessConfig{})

	// The background child holds the output open: only the kill of the
	// group after the command's exit ends the session.
	res, err := execCtx(t, r, p.Process, "sh", "-c", "sleep 323 & echo started")
	require.NoError(t, err)
	assert.Equal(t, "started\n", string(res.Output))
	require.Eventually(t, func() bool { return len(remotePIDs(t, "sleep 323")) == 0 }, waitFor, tick)
}

func testExecFailuresBeforeTheCommand(t *testing.T, _ *sshd, r *Runner) {
	p := running(t, r, &sdk.ProcessConfig{})

	res, err := execCtx(t, r, p.Process, "prox-no-such-command", "x")
	require.NoError(t, err)
	assert.Equal(t, exitNotFound, res.ExitCode)
	assert.Equal(t, "prox-ssh: prox-no-such-command: command not found\n", string(res.Output))

	_, err = execCtx(t, r, p.Process)
	require.EqualError(t, err, "exec: command is required")

	_, err = execCtx(t, r, fakeProcess{}, "true")
	require.ErrorContains(t, err, "is not a process of the ssh runner")
}

func testExecDirGone(t *testing.T, srv *sshd, r *Runner) {
	dir := filepath.Join(srv.Dir, "work")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	p := running(t, r, &sdk.ProcessConfig{Dir: dir})
	require.NoError(t, os.RemoveAll(dir))

	res, err := execCtx(t, r, p.Process, "true")
	require.NoError(t, err)
	assert.Equal(t, exitDirFailed, res.ExitCode)
	assert.Contains(t, string(res.Output), dir)
}

func testExecAfterExit(t *testing.T, _ *sshd, r *Runner) {
	p := start(t, r, &sdk.ProcessConfig{Command: []string{"true"}})
	require.NoError(t, p.wait(t))

	_, err := execCtx(t, r, p.Process, "echo", "hello")
	require.ErrorIs(t, err, errNotRunning)
	assert.EqualError(t, err, `exec "echo" beside remote process group `+strconv.Itoa(p.PID())+`: the process has exited`)
}

// fakeProcess is a process of another runner.
type fakeProcess struct{}

func (fakeProcess) PID() int               { return 0 }
func (fakeProcess) Wait() error            { return nil }
func (fakeProcess) Signal(os.Signal) error { return nil }
func (fakeProcess) Stdout() io.Reader      { return strings.NewReader("") }
func (fakeProcess) Stderr() io.Reader      { return strings.NewReader("") }
