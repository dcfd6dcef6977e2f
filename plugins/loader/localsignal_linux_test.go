package loader

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	execrunner "github.com/prox-dev/prox/plugins/runner/exec"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startThrough starts command through a RelaunchingRunner over a new exec
// runner plugin, as prox up does.
func startThrough(t *testing.T, command ...string) (*Instance, sdk.Process) {
	t.Helper()
	return startThroughEnv(t, nil, command...)
}

// startThroughEnv is startThrough with env added to the plugin's
// environment.
func startThroughEnv(t *testing.T, env []string, command ...string) (*Instance, sdk.Process) {
	t.Helper()
	l := newLoader(t, selfOptions(t, "exec", env...))
	inst, err := l.Launch(context.Background(), sdk.KindRunner, execrunner.Name)
	require.NoError(t, err)
	p, err := NewRelaunchingRunner(l, inst).Start(context.Background(), &sdk.ProcessConfig{
		Name: "p", Command: command, Env: testEnv(),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		if alive(p.PID()) {
			_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		}
	})
	return inst, p
}

// A stop signal reaches the process group of a built-in runner's process
// from prox itself: even a plugin that cannot answer does not hold it up,
// and the plugin still reports the exit.
func TestLocalGroupIsSignalledByTheHost(t *testing.T) {
	t.Parallel()
	inst, p := startThrough(t, "sh", "-c", "sleep 100 & wait")
	requireAlive(t, p.PID(), "sh")
	_, isLocal := p.(*localGroupProcess)
	require.True(t, isLocal, "a process of the built-in exec runner is signalled locally")
	waited := waitAsync(p)

	// A stopped plugin answers no call.
	require.NoError(t, syscall.Kill(inst.PID(), syscall.SIGSTOP))
	t.Cleanup(func() { _ = syscall.Kill(inst.PID(), syscall.SIGCONT) })
	require.NoError(t, p.Signal(syscall.SIGTERM))
	requireGone(t, p.PID(), "sh") // a zombie of the stopped plugin

	require.NoError(t, syscall.Kill(inst.PID(), syscall.SIGCONT))
	var exitErr *sdk.ExitError
	require.ErrorAs(t, waitResult(t, waited), &exitErr)
	assert.Equal(t, "SIGTERM", exitErr.Signal)
	// The leader is reaped: the group is the plugin's business again, and
	// signalling a process that has exited is not an error.
	require.NoError(t, p.Signal(syscall.SIGTERM))
	require.NoError(t, p.Signal(syscall.SIGKILL))
}

// SIGKILL, prox's answer to a process that outlives its stop timeout,
// takes the same path.
func TestLocalGroupSIGKILL(t *testing.T) {
	t.Parallel()
	_, p := startThrough(t, "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done")
	stdout := bufio.NewReader(p.Stdout())
	line, err := stdout.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	out := collect(stdout)
	_ = collect(p.Stderr())
	waited := waitAsync(p)
	require.NoError(t, p.Signal(syscall.SIGTERM)) // ignored, by sleep too
	require.NoError(t, p.Signal(syscall.SIGKILL))
	var exitErr *sdk.ExitError
	require.ErrorAs(t, waitResult(t, waited), &exitErr)
	assert.Equal(t, "SIGKILL", exitErr.Signal)
	_, err = out.result(t)
	require.NoError(t, err)
}

// A process whose leader has exited is signalled through the plugin, and
// its pidfd is let go once the exit is known.
func TestLocalGroupAfterExit(t *testing.T) {
	t.Parallel()
	_, p := startThrough(t, "sh", "-c", "exit 3")
	var exitErr *sdk.ExitError
	require.ErrorAs(t, p.Wait(), &exitErr)
	assert.Equal(t, 3, exitErr.Code)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	if lp, ok := p.(*localGroupProcess); ok {
		lp.mu.Lock()
		defer lp.mu.Unlock()
		assert.Nil(t, lp.pidfd)
	}
}

// fakeProcess is an sdk.Process that records the signals it is asked to
// deliver.
type fakeProcess struct {
	pid, pgid int
	signals   atomic.Int32
}

func (f *fakeProcess) PID() int               { return f.pid }
func (f *fakeProcess) LocalProcessGroup() int { return f.pgid }
func (f *fakeProcess) Wait() error            { return nil }
func (f *fakeProcess) Stdout() io.Reader      { return nil }
func (f *fakeProcess) Stderr() io.Reader      { return nil }
func (f *fakeProcess) Signal(os.Signal) error { f.signals.Add(1); return nil }
func (f *fakeProcess) Exec(context.Context, []string) (sdk.ExecResult, error) {
	return sdk.ExecResult{ExitCode: 7}, nil
}
func (f *fakeProcess) Stats(context.Context) (sdk.ProcessStats, error) {
	return sdk.ProcessStats{MemoryBytes: 4242}, nil
}

// startChild starts `sleep 100` as a child of the test, leading its own
// process group or not.
func startChild(t *testing.T, ownGroup bool) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "100")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: ownGroup}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// Only the leader of its own group, a child of the plugin, is signalled
// by prox: anything else goes through the plugin.
func TestSignalLocallyChecksTheProcess(t *testing.T) {
	t.Parallel()
	leader := startChild(t, true)
	member := startChild(t, false)
	self := os.Getpid()

	for _, tc := range []struct {
		name      string
		p         *fakeProcess
		pluginPID int
	}{
		{"not a child of the plugin", &fakeProcess{pid: leader.Process.Pid, pgid: leader.Process.Pid}, self + 1},
		{"not the leader of its group", &fakeProcess{pid: member.Process.Pid, pgid: member.Process.Pid}, self},
		{"no local group", &fakeProcess{pid: leader.Process.Pid}, self},
		{"another group's ID", &fakeProcess{pid: leader.Process.Pid, pgid: syscall.Getpgrp()}, self},
		{"no plugin PID", &fakeProcess{pid: leader.Process.Pid, pgid: leader.Process.Pid}, 0},
	} {
		got := signalLocally(tc.p, tc.pluginPID)
		assert.Same(t, tc.p, got, tc.name)
	}

	f := &fakeProcess{pid: leader.Process.Pid, pgid: leader.Process.Pid}
	p := signalLocally(f, self)
	require.IsType(t, &localGroupProcess{}, p)
	res, err := p.(sdk.ProcessExecer).Exec(context.Background(), []string{"true"})
	require.NoError(t, err)
	assert.Equal(t, 7, res.ExitCode, "Exec goes through the plugin's process")
	st, err := p.(sdk.ProcessStatter).Stats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, uint64(4242), st.MemoryBytes, "Stats go through the plugin's process")
	require.NoError(t, p.Signal(syscall.SIGTERM))
	assert.Zero(t, f.signals.Load(), "the signal went to the group directly")
	err = leader.Wait()
	var exitErr *exec.ExitError
	require.True(t, errors.As(err, &exitErr), "%v", err)
	assert.Equal(t, syscall.SIGTERM, exitErr.Sys().(syscall.WaitStatus).Signal())

	// The leader has exited: the plugin is asked.
	require.NoError(t, p.Signal(syscall.SIGTERM))
	assert.EqualValues(t, 1, f.signals.Load())
	require.NoError(t, p.Wait())
}

// A built-in runner's process, wrapped to be signalled locally, can still
// have its output abandoned: a descendant that left the process group
// holds the pipes open after the exit, and the host gives up on them. (A
// cgroup or the subreaper would kill it: the runner does without.)
func TestLocalGroupOutputCanBeAbandoned(t *testing.T) {
	t.Parallel()
	_, p := startThroughEnv(t, []string{execrunner.ContainmentEnv + "=process-group"},
		"sh", "-c", "setsid sh -c 'echo $$; exec sleep 3600' & sleep 1; exit 3")
	require.IsType(t, &localGroupProcess{}, p)
	line, err := bufio.NewReader(p.Stdout()).ReadString('\n')
	require.NoError(t, err)
	descendant, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Kill(descendant, syscall.SIGKILL) })

	var exitErr *sdk.ExitError
	require.ErrorAs(t, waitResult(t, waitAsync(p)), &exitErr)
	assert.Equal(t, 3, exitErr.Code)
	requireAlive(t, descendant, "the escaped descendant")
	out, errOut := collect(p.Stdout()), collect(p.Stderr())
	oc, ok := p.(sdk.OutputCloser)
	require.True(t, ok, "the wrapper passes CloseOutput on")
	oc.CloseOutput()
	_, err = out.result(t)
	require.ErrorIs(t, err, sdk.ErrOutputClosed)
	_, err = errOut.result(t)
	require.ErrorIs(t, err, sdk.ErrOutputClosed)
}

// escapeScript starts a descendant in a session of its own (setsid), out
// of the process group, prints its PID and waits.
const escapeScript = `setsid sh -c 'echo $$; exec sleep 3600' & wait`

// startEscape starts escapeScript through a built-in exec runner plugin
// and returns the process, its cgroup and its escaped descendant's PID.
// It skips the test where the runner has no cgroups.
func startEscape(t *testing.T) (*Instance, *localGroupProcess, int) {
	t.Helper()
	inst, p := startThrough(t, "sh", "-c", escapeScript)
	lp, ok := p.(*localGroupProcess)
	require.True(t, ok, "a process of the built-in exec runner is signalled locally")
	stdout := bufio.NewReader(p.Stdout())
	line, err := stdout.ReadString('\n')
	require.NoError(t, err)
	escaped, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)
	t.Cleanup(func() {
		if alive(escaped) {
			_ = syscall.Kill(escaped, syscall.SIGKILL)
		}
	})
	_ = collect(stdout)
	_ = collect(p.Stderr())
	requireAlive(t, escaped, "the setsid descendant")
	if lp.LocalCgroup() == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the exec runner has no cgroups (containment %q)", lp.Containment())
		}
		t.Skipf("the exec runner has no cgroups here (containment %q)", lp.Containment())
	}
	assert.Equal(t, "cgroup", lp.Containment())
	return inst, lp, escaped
}

// SIGKILL from prox kills the whole cgroup itself: a descendant that left
// the process group dies too, even while the plugin cannot answer.
func TestLocalCgroupIsKilledByTheHost(t *testing.T) {
	t.Parallel()
	inst, p, escaped := startEscape(t)
	waited := waitAsync(p)
	require.NoError(t, syscall.Kill(inst.PID(), syscall.SIGSTOP))
	t.Cleanup(func() { _ = syscall.Kill(inst.PID(), syscall.SIGCONT) })

	require.NoError(t, p.Signal(syscall.SIGKILL))
	requireGone(t, escaped, "the setsid descendant")

	require.NoError(t, syscall.Kill(inst.PID(), syscall.SIGCONT))
	var exitErr *sdk.ExitError
	require.ErrorAs(t, waitResult(t, waited), &exitErr)
	assert.Equal(t, "SIGKILL", exitErr.Signal)
}

// When the runner plugin dies (kill -9), prox kills what is left in each of
// its processes' cgroups and removes them, with the runner's folder.
func TestPluginDeathEmptiesTheCgroups(t *testing.T) {
	t.Parallel()
	inst, p, escaped := startEscape(t)
	dir := p.LocalCgroup()
	require.DirExists(t, dir)
	waited := waitAsync(p)

	require.NoError(t, syscall.Kill(inst.PID(), syscall.SIGKILL))
	require.ErrorIs(t, waitResult(t, waited), sdk.ErrPluginUnavailable)
	// Wait returns once the cgroup is empty.
	assert.False(t, alive(escaped), "the setsid descendant (pid %d) survived the plugin", escaped)
	assert.NoDirExists(t, dir)
	assert.NoDirExists(t, filepath.Dir(dir), "the runner's cgroup folder")
}
