package container

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runningContainer starts a container that runs until killed, for
// commands to run in.
func runningContainer(t *testing.T, r *Runner, cfg *sdk.ProcessConfig) *started {
	t.Helper()
	p := start(t, r, cfg)
	require.Eventually(t, func() bool { return p.stdout.contains("ready\n") }, waitFor, tick)
	return p
}

// sleeper is a command that prints "ready" and runs until killed.
func sleeper() []string { return sh("echo ready; exec sleep 1000") }

// execIn runs command in p's container with a deadline of waitFor.
func execIn(t *testing.T, r *Runner, p sdk.Process, command ...string) (sdk.ExecResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	return r.Exec(ctx, p, command)
}

func TestExecExitCodesAndOutput(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	p := runningContainer(t, r, processConfig(t, sleeper(), nil))

	res, err := execIn(t, r, p.Process, "echo", "healthy")
	require.NoError(t, err)
	assert.Equal(t, sdk.ExecResult{ExitCode: 0, Output: []byte("healthy\n")}, res)

	// Standard output and standard error both arrive, combined.
	res, err = execIn(t, r, p.Process, "sh", "-c", "echo to stdout; echo to stderr >&2; exit 3")
	require.NoError(t, err)
	assert.Equal(t, 3, res.ExitCode)
	assert.Contains(t, string(res.Output), "to stdout\n")
	assert.Contains(t, string(res.Output), "to stderr\n")
	assert.Len(t, res.Output, len("to stdout\nto stderr\n"))

	// The argv reaches the command untouched: no shell in between.
	res, err = execIn(t, r, p.Process, "printf", "[%s]", "$HOME", "it's", "a b")
	require.NoError(t, err)
	assert.Equal(t, "[$HOME][it's][a b]", string(res.Output))

	// A command the engine cannot start: its exit code and message.
	res, err = execIn(t, r, p.Process, "prox-no-such-command")
	require.NoError(t, err)
	assert.Equal(t, 127, res.ExitCode)
	assert.Contains(t, string(res.Output), "prox-no-such-command")

	// The process is untouched by the commands run beside it.
	assert.False(t, isClosed(p.exited))
}

func TestExecRunsAsTheContainer(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	cfg := processConfig(t, sleeper(), map[string]any{"user": "65534:65534"})
	cfg.Dir = "/tmp"
	cfg.Env = []string{"GREETING=hello there", "PATH=/host/only/bin"}
	p := runningContainer(t, r, cfg)

	res, err := execIn(t, r, p.Process, "sh", "-c", `pwd; id -u; echo "$GREETING"; case "$PATH" in */host/only/bin*) echo host PATH;; *) echo image PATH;; esac`)
	require.NoError(t, err)
	require.Zero(t, res.ExitCode, "output: %s", res.Output)
	assert.Equal(t, "/tmp\n65534\nhello there\nimage PATH\n", string(res.Output))
}

func TestExecOutputCapped(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	p := runningContainer(t, r, processConfig(t, sleeper(), nil))

	// 200,000 bytes are written; the first 64 KiB are kept.
	res, err := execIn(t, r, p.Process, "sh", "-c", `i=0; while [ $i -lt 20000 ]; do echo 123456789; i=$((i+1)); done; exit 4`)
	require.NoError(t, err)
	assert.Equal(t, 4, res.ExitCode)
	require.Len(t, res.Output, execOutputLimit)
	assert.Equal(t, strings.Repeat("123456789\n", 20000)[:execOutputLimit], string(res.Output))
}

// hostProcesses lists the live processes of this machine whose command
// line is cmdline and whose cgroup names the container id.
func hostProcesses(t *testing.T, id, cmdline string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || strings.ReplaceAll(strings.TrimSuffix(string(cmd), "\x00"), "\x00", " ") != cmdline {
			continue
		}
		cg, err := os.ReadFile("/proc/" + e.Name() + "/cgroup")
		if err != nil || !strings.Contains(string(cg), id) {
			continue
		}
		if st, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if i := strings.LastIndexByte(string(st), ')'); i >= 0 && strings.HasPrefix(string(st[i+1:]), " Z") {
				continue // a zombie
			}
		}
		out = append(out, pid)
	}
	return out
}

func TestExecTimeoutHonoured(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	p := runningContainer(t, r, processConfig(t, sleeper(), nil))

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	type result struct {
		res sdk.ExecResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		// A command with a child of its own, neither of which ends.
		res, err := r.Exec(ctx, p.Process, []string{"sh", "-c", "sleep 1003 & sleep 1004"})
		done <- result{res, err}
	}()
	require.Eventually(t, func() bool {
		return len(hostProcesses(t, p.id, "sleep 1003")) == 1 && len(hostProcesses(t, p.id, "sleep 1004")) == 1
	}, waitFor, tick, "the command and its child run in the container")
	var got result
	select {
	case got = <-done:
	case <-time.After(waitFor):
		t.Fatal("Exec did not return after its deadline")
	}
	require.ErrorIs(t, got.err, context.DeadlineExceeded)
	assert.Contains(t, got.err.Error(), "the command did not finish")
	// The engine is on this machine: the command and its child are killed.
	require.Eventually(t, func() bool {
		return len(hostProcesses(t, p.id, "sleep 1003")) == 0 && len(hostProcesses(t, p.id, "sleep 1004")) == 0
	}, waitFor, tick, "the command outlived its deadline")

	// The container runs on, and takes the next command.
	assert.False(t, isClosed(p.exited))
	res, err := execIn(t, r, p.Process, "echo", "next")
	require.NoError(t, err)
	assert.Equal(t, "next\n", string(res.Output))
}

func TestExecAfterExit(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	p := start(t, r, processConfig(t, []string{"true"}, nil))
	require.NoError(t, p.wait(t))

	_, err := execIn(t, r, p.Process, "echo", "hello")
	require.ErrorIs(t, err, errNotRunning)
	assert.EqualError(t, err, `exec "echo" in container `+p.name+`: the container is not running`)
}

func TestExecWhileExiting(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	p := runningContainer(t, r, processConfig(t, sleeper(), nil))
	require.NoError(t, p.Signal(syscall.SIGKILL))
	// Whenever the command comes relative to the exit, it either ran or
	// failed naming the reason: never a hang, never a silent success.
	for !isClosed(p.done) {
		res, err := execIn(t, r, p.Process, "echo", "hello")
		if err != nil {
			require.ErrorContains(t, err, `exec "echo" in container `+p.name)
			break
		}
		require.Equal(t, "hello\n", string(res.Output))
	}
	require.Error(t, p.wait(t))
	_, err := execIn(t, r, p.Process, "echo", "hello")
	require.ErrorIs(t, err, errNotRunning)
}

func TestExecRefusals(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	p := runningContainer(t, r, processConfig(t, sleeper(), nil))

	_, err := execIn(t, r, p.Process)
	require.EqualError(t, err, "exec: command is required")

	_, err = execIn(t, r, fakeProcess{}, "true")
	require.ErrorContains(t, err, "is not a process of the container runner")
}

func TestExecThroughTheHarness(t *testing.T) {
	t.Parallel()
	host := sdktest.NewRunnerHarness(t, newRunner(t))
	p, err := host.Start(context.Background(), processConfig(t, sleeper(), nil))
	require.NoError(t, err)
	out := collect(p.Stdout())
	collect(p.Stderr())
	require.Eventually(t, func() bool { return out.contains("ready\n") }, waitFor, tick)

	// prox sees the process as one it can run commands beside.
	ex, ok := p.(sdk.ProcessExecer)
	require.True(t, ok, "the host's process is a ProcessExecer")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	res, err := ex.Exec(ctx, []string{"sh", "-c", "echo fine; exit 2"})
	require.NoError(t, err)
	assert.Equal(t, sdk.ExecResult{ExitCode: 2, Output: []byte("fine\n")}, res)

	require.NoError(t, p.Signal(syscall.SIGKILL))
	require.Error(t, p.Wait())
	// Once it has exited, there is nothing to run a command in.
	_, err = ex.Exec(ctx, []string{"true"})
	require.Error(t, err)
}

// fakeProcess is a process of another runner.
type fakeProcess struct{}

func (fakeProcess) PID() int               { return 0 }
func (fakeProcess) Wait() error            { return nil }
func (fakeProcess) Signal(os.Signal) error { return nil }
func (fakeProcess) Stdout() io.Reader      { return strings.NewReader("") }
func (fakeProcess) Stderr() io.Reader      { return strings.NewReader("") }
