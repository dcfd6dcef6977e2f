package container

import (
	"context"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

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

// TestExecerSuite runs the SDK's Execer suite against the container
// runner, through the gRPC adapters as prox uses it, on the shared Podman
// service. The engine runs on this machine, so the suite checks in /proc
// that a command outliving its context is killed with its child.
func TestExecerSuite(t *testing.T) {
	t.Parallel()
	addr := engineAddr(t)
	sdktest.ExecerSuite(t, func(t *testing.T) sdk.Runner {
		r := New()
		sdktest.Configure(t, r, map[string]any{"host": addr, "label": uniqueLabel(t)})
		return r
	}, sdktest.ExecerSuiteOptions{
		Prepare: func(t *testing.T, cfg *sdk.ProcessConfig) {
			cfg.Settings = sdktest.Settings(t, New(), map[string]any{
				"image": testImage, "pull": PullNever, "network": "none",
			})
		},
		Dir:           func(*testing.T) string { return "/tmp" },
		OutputLimit:   execOutputLimit,
		HostProcesses: true,
	})
}

// The checks below are the container runner's own; ExecerSuite has the
// ones every Execer shares.

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

// fakeProcess is a process of another runner.
type fakeProcess struct{}

func (fakeProcess) PID() int               { return 0 }
func (fakeProcess) Wait() error            { return nil }
func (fakeProcess) Signal(os.Signal) error { return nil }
func (fakeProcess) Stdout() io.Reader      { return strings.NewReader("") }
func (fakeProcess) Stderr() io.Reader      { return strings.NewReader("") }
