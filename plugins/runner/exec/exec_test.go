package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/internal/pluginhost"
	"github.com/prox-dev/prox/internal/runnertag"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEchoHello(t *testing.T) {
	p := start(t, New(), &sdk.ProcessConfig{Command: []string{script(t, "echo_hello.sh")}, Env: testEnv()})
	assert.Equal(t, "hello from echo_hello\n", p.stdout.all(t))
	assert.Equal(t, "hello on stderr\n", p.stderr.all(t))
	require.NoError(t, p.wait(t))
}

func TestStreamsSeparatedAndOrdered(t *testing.T) {
	const n = 10000
	p := start(t, New(), &sdk.ProcessConfig{Env: testEnv(), Command: sh(fmt.Sprintf(`
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

func TestExitCode(t *testing.T) {
	p := start(t, New(), &sdk.ProcessConfig{Command: []string{script(t, "crash_after_1s.sh")}, Env: testEnv()})
	err := p.wait(t)
	var ee *sdk.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, &sdk.ExitError{Code: 3}, ee)
	assert.Equal(t, "crash_after_1s started\n", p.stdout.all(t))
	assert.Equal(t, "crashing\n", p.stderr.all(t))
}

func TestTerminatingSignalReported(t *testing.T) {
	p := start(t, New(), &sdk.ProcessConfig{Command: sh("echo ready; exec sleep 100"), Env: testEnv()})
	require.Eventually(t, func() bool { return p.stdout.contains("ready") }, waitFor, tick)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	err := p.wait(t)
	var ee *sdk.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGTERM"}, ee)
	assert.Equal(t, "killed by SIGTERM", err.Error())
}

func TestLongRunningExitsCleanlyOnSIGTERM(t *testing.T) {
	p := start(t, New(), &sdk.ProcessConfig{Command: []string{script(t, "long_running.sh")}, Env: testEnv()})
	require.Eventually(t, func() bool { return p.stdout.contains("tick 2\n") }, waitFor, tick)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	require.NoError(t, p.wait(t))
	out := p.stdout.all(t)
	assert.True(t, strings.HasPrefix(out, "long_running started\ntick 1\n"), out)
	assert.True(t, strings.HasSuffix(out, "long_running got SIGTERM\n"), out)
}

// waitComm waits until every pid runs the program comm.
func waitComm(t *testing.T, comm string, pids ...int) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, pid := range pids {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if err != nil || strings.TrimSpace(string(b)) != comm {
				return false
			}
		}
		return true
	}, waitFor, tick)
}

func TestSignalReachesWholeGroup(t *testing.T) {
	p := start(t, New(), &sdk.ProcessConfig{Command: sh("sleep 100 & sleep 100 & wait"), Env: testEnv()})
	pgid := p.PID()
	var sleeps []int
	require.Eventually(t, func() bool {
		sleeps = slices.DeleteFunc(groupMembers(t, pgid), func(pid int) bool { return pid == pgid })
		return len(sleeps) == 2
	}, waitFor, tick)
	waitComm(t, "sleep", sleeps...)

	require.NoError(t, p.Signal(syscall.SIGTERM))
	require.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGTERM"}, p.wait(t))
	require.Eventually(t, func() bool { return len(groupMembers(t, pgid)) == 0 }, waitFor, tick)
	// Signalling a gone group is not an error.
	require.NoError(t, p.Signal(syscall.SIGTERM))
	require.NoError(t, killGroup(pgid, syscall.SIGTERM))
}

// TestSignalReachesChildrenItself shows that the children die of the
// SIGTERM, not of the SIGKILL Wait sends: the leader survives (it traps
// TERM) and sees them exit.
func TestSignalReachesChildrenItself(t *testing.T) {
	p := start(t, New(), &sdk.ProcessConfig{Env: testEnv(), Command: sh(`
		trap 'echo leader got TERM' TERM
		sleep 100 & echo $!
		sleep 100 & echo $!
		wait; wait
		echo children gone
		exec sleep 100`)})
	var sleeps []int
	require.Eventually(t, func() bool {
		sleeps = pidsFrom(t, p.stdout.String())
		return len(sleeps) == 2
	}, waitFor, tick)
	waitComm(t, "sleep", sleeps...)

	require.NoError(t, p.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool { return p.stdout.contains("children gone\n") }, waitFor, tick)
	assert.True(t, p.stdout.contains("leader got TERM\n"))
	assert.False(t, alive(sleeps[0]))
	assert.False(t, alive(sleeps[1]))
	assert.False(t, exited(p.Process))

	require.NoError(t, p.Signal(syscall.SIGKILL))
	require.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGKILL"}, p.wait(t))
}

func TestWaitKillsBackgroundedGrandchild(t *testing.T) {
	p := start(t, New(), &sdk.ProcessConfig{Command: sh("sleep 100 & echo $!"), Env: testEnv()})
	require.NoError(t, p.wait(t))
	// The grandchild held stdout open: EOF means it is gone.
	pids := pidsFrom(t, p.stdout.all(t))
	require.Len(t, pids, 1)
	require.Eventually(t, func() bool { return !alive(pids[0]) }, waitFor, tick)
	require.Empty(t, groupMembers(t, p.PID()))
}

func TestWaitConcurrentCallersGetSameResult(t *testing.T) {
	p := start(t, New(), &sdk.ProcessConfig{Command: sh("exit 7"), Env: testEnv()})
	const callers = 16
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { errs[i] = p.Wait() })
	}
	wg.Wait()
	require.Equal(t, &sdk.ExitError{Code: 7}, errs[0])
	for _, err := range errs[1:] {
		require.Same(t, errs[0], err)
	}
	require.Same(t, errs[0], p.Wait())
}

func TestEnvIsExactlyCfgEnv(t *testing.T) {
	envBin, err := osexec.LookPath("env")
	require.NoError(t, err)
	t.Setenv("PROX_EXEC_TEST_LEAK", "leaked")

	env := []string{"PATH=" + os.Getenv("PATH"), "FOO=bar", "EMPTY="}
	p := start(t, New(), &sdk.ProcessConfig{Command: []string{"env"}, Env: env, Dir: t.TempDir()})
	require.NoError(t, p.wait(t))
	assert.ElementsMatch(t, env, strings.Split(strings.TrimSuffix(p.stdout.all(t), "\n"), "\n"))

	for _, empty := range [][]string{nil, {}} {
		p := start(t, New(), &sdk.ProcessConfig{Command: []string{envBin}, Env: empty})
		require.NoError(t, p.wait(t))
		assert.Empty(t, p.stdout.all(t))
	}
}

// In the plugin, every process carries the tags prox gave the runner
// (PROX_RUNNER_TAG), added to those cfg.Env holds: prox finds what the
// process left by them once the plugin is gone.
func TestPluginsProcessesCarryItsTags(t *testing.T) {
	t.Setenv(runnertag.Env, "outer:mine")
	require.Equal(t, []string{"outer", "mine"}, NewForPlugin().tags)

	r := newRunner(hclog.NewNullLogger(), false)
	r.tags = []string{"outer", "mine"}
	env := []string{"PATH=" + os.Getenv("PATH"), "FOO=bar", runnertag.Env + "=user"}
	p := start(t, r, &sdk.ProcessConfig{Command: []string{"env"}, Env: env})
	require.NoError(t, p.wait(t))
	assert.ElementsMatch(t, []string{env[0], env[1], runnertag.Env + "=user:outer:mine"},
		strings.Split(strings.TrimSuffix(p.stdout.all(t), "\n"), "\n"))
}

// Capped at the process group, the runner tags nothing: what leaves a
// process's group may outlive it, also the plugin.
func TestProcessGroupContainmentCarriesNoTag(t *testing.T) {
	t.Setenv(ContainmentEnv, containGroup)
	r := newRunner(hclog.NewNullLogger(), true)
	r.tags = []string{"mine"}
	env := []string{"PATH=" + os.Getenv("PATH")}
	p := start(t, r, &sdk.ProcessConfig{Command: []string{"env"}, Env: env})
	require.NoError(t, p.wait(t))
	assert.Equal(t, env[0]+"\n", p.stdout.all(t))
}

func TestCommandLookedUpInCfgEnvPath(t *testing.T) {
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "prox-exec-tool"), []byte("#!/bin/sh\necho tool ran\n"), 0o755))

	p := start(t, New(), &sdk.ProcessConfig{Command: []string{"prox-exec-tool"}, Env: []string{"PATH=/nonexistent:" + bin}})
	require.NoError(t, p.wait(t))
	assert.Equal(t, "tool ran\n", p.stdout.all(t))

	// sh is on the test's PATH but not on the process's.
	_, err := New().Start(context.Background(), &sdk.ProcessConfig{Name: "web", Command: []string{"sh"}, Env: []string{"PATH=" + bin}})
	require.ErrorIs(t, err, osexec.ErrNotFound)
}

func TestDirHonoured(t *testing.T) {
	dir := t.TempDir()
	want, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)
	p := start(t, New(), &sdk.ProcessConfig{Command: sh("pwd -P"), Env: testEnv(), Dir: dir})
	require.NoError(t, p.wait(t))
	assert.Equal(t, want+"\n", p.stdout.all(t))

	// A command with a slash is relative to Dir.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "local.sh"), []byte("#!/bin/sh\necho local ran\n"), 0o755))
	p = start(t, New(), &sdk.ProcessConfig{Command: []string{"./local.sh"}, Env: testEnv(), Dir: dir})
	require.NoError(t, p.wait(t))
	assert.Equal(t, "local ran\n", p.stdout.all(t))
}

func TestStartErrors(t *testing.T) {
	r := New()
	_, err := r.Start(context.Background(), &sdk.ProcessConfig{Name: "web", Command: []string{"nosuch"}, Env: testEnv()})
	require.EqualError(t, err, `exec: "nosuch": executable file not found in $PATH`)
	require.ErrorIs(t, err, osexec.ErrNotFound)

	_, err = r.Start(context.Background(), &sdk.ProcessConfig{Name: "web", Env: testEnv()})
	require.EqualError(t, err, `command is required`)

	_, err = r.Start(context.Background(), &sdk.ProcessConfig{Name: "web", Command: []string{"./nosuch"}, Env: testEnv(), Dir: t.TempDir()})
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "nosuch")

	_, err = r.Start(context.Background(), &sdk.ProcessConfig{Name: "web", Command: []string{"true"}, Env: testEnv(), Dir: "/nonexistent/dir"})
	require.ErrorIs(t, err, os.ErrNotExist)
	require.ErrorContains(t, err, "/nonexistent/dir")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = r.Start(ctx, &sdk.ProcessConfig{Name: "web", Command: []string{"true"}, Env: testEnv()})
	require.ErrorIs(t, err, context.Canceled)
}

func TestIgnoreSigtermSurvivesTermDiesOnKill(t *testing.T) {
	p := start(t, New(), &sdk.ProcessConfig{Command: []string{script(t, "ignore_sigterm.sh")}, Env: testEnv()})
	require.Eventually(t, func() bool { return p.stdout.contains("ignore_sigterm started\n") }, waitFor, tick)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool { return p.stdout.contains("ignoring SIGTERM\n") }, waitFor, tick)
	assert.True(t, alive(p.PID()))
	assert.False(t, exited(p.Process))

	require.NoError(t, p.Signal(syscall.SIGKILL))
	require.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGKILL"}, p.wait(t))
	p.stdout.all(t)
	p.stderr.all(t)
}

func TestShutdownKillsEverything(t *testing.T) {
	r := New()
	procs := []*started{
		start(t, r, &sdk.ProcessConfig{Command: sh("sleep 100 & sleep 100 & echo ready; wait"), Env: testEnv()}),
		start(t, r, &sdk.ProcessConfig{Command: []string{script(t, "ignore_sigterm.sh")}, Env: testEnv()}),
		start(t, r, &sdk.ProcessConfig{Command: []string{script(t, "long_running.sh")}, Env: testEnv()}),
	}
	for _, p := range procs {
		require.Eventually(t, func() bool { return p.stdout.String() != "" }, waitFor, tick)
	}
	require.NoError(t, r.Shutdown())
	for _, p := range procs {
		require.True(t, exited(p.Process))
		require.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGKILL"}, p.Wait())
		require.Eventually(t, func() bool { return len(groupMembers(t, p.PID())) == 0 }, waitFor, tick)
		p.stdout.all(t)
		p.stderr.all(t)
	}
	r.mu.Lock()
	assert.Empty(t, r.procs)
	r.mu.Unlock()

	_, err := r.Start(context.Background(), &sdk.ProcessConfig{Name: "late", Command: []string{"true"}, Env: testEnv()})
	require.ErrorContains(t, err, "shut down")
}

func TestSignalUnsupported(t *testing.T) {
	p := start(t, New(), &sdk.ProcessConfig{Command: sh("exit 0"), Env: testEnv()})
	require.Error(t, p.Signal(fakeSignal{}))
	require.NoError(t, p.wait(t))
}

type fakeSignal struct{}

func (fakeSignal) String() string { return "fake" }
func (fakeSignal) Signal()        {}

func TestExitResult(t *testing.T) {
	// The outcome is unknown when wait4 fails: here, on a process that is
	// not a child.
	err := waitExit(os.Getpid())
	require.ErrorIs(t, err, syscall.ECHILD)
	require.EqualError(t, err, "wait: wait4: no child processes")
	var ee *sdk.ExitError
	require.False(t, errors.As(err, &ee))

	// Linux wait statuses: the exit code in bits 8-15, or the terminating
	// signal in bits 0-6 with 0x80 for a core dump.
	for _, c := range []struct {
		ws   syscall.WaitStatus
		want error
	}{
		{0, nil},
		{3 << 8, &sdk.ExitError{Code: 3}},
		{255 << 8, &sdk.ExitError{Code: 255}},
		{syscall.WaitStatus(syscall.SIGTERM), &sdk.ExitError{Code: -1, Signal: "SIGTERM"}},
		{syscall.WaitStatus(syscall.SIGSEGV) | 0x80, &sdk.ExitError{Code: -1, Signal: "SIGSEGV"}},
		{40, &sdk.ExitError{Code: -1, Signal: "signal 40"}},
	} {
		assert.Equal(t, c.want, statusResult(c.ws), "wait status %#x", uint32(c.ws))
	}
}

func TestDefaultPathWithoutPATH(t *testing.T) {
	p := start(t, New(), &sdk.ProcessConfig{Command: sh("echo ok"), Env: nil})
	require.NoError(t, p.wait(t))
	assert.Equal(t, "ok\n", p.stdout.all(t))
}

func TestConcurrentStarts(t *testing.T) {
	r := New()
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			p, err := r.Start(context.Background(), &sdk.ProcessConfig{Name: fmt.Sprint("p", i), Command: sh(fmt.Sprintf("echo %d; exit %d", i, i)), Env: testEnv()})
			if !assert.NoError(t, err) {
				return
			}
			out := collect(p.Stdout())
			errOut := collect(p.Stderr())
			err = p.Wait()
			if i == 0 {
				assert.NoError(t, err)
			} else {
				assert.Equal(t, &sdk.ExitError{Code: i}, err)
			}
			// all may not be used off the test goroutine: it calls FailNow.
			for _, c := range []*collector{out, errOut} {
				select {
				case <-c.Done():
				case <-time.After(waitFor):
					assert.Fail(t, "stream not at EOF")
					return
				}
			}
			assert.Equal(t, fmt.Sprintf("%d\n", i), out.String())
			assert.Empty(t, errOut.String())
		})
	}
	wg.Wait()
	require.NoError(t, r.Shutdown())
}

func TestOutputFilesAreThePipes(t *testing.T) {
	// The SDK hands these to prox (sdk.OutputFiler), which then reads the
	// output itself: they must be the read ends of the output pipes.
	p, err := New().Start(context.Background(), &sdk.ProcessConfig{Name: t.Name(), Command: sh("echo out; echo err >&2"), Env: testEnv()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Signal(syscall.SIGKILL) })
	of, ok := p.(sdk.OutputFiler)
	require.True(t, ok, "the exec runner's processes offer their pipes")
	stdout, stderr := of.OutputFiles()
	require.NotNil(t, stdout)
	require.NotNil(t, stderr)
	for _, f := range []*os.File{stdout, stderr} {
		fi, err := f.Stat()
		require.NoError(t, err)
		assert.Equal(t, os.ModeNamedPipe, fi.Mode().Type(), "%s is a pipe", f.Name())
	}
	out := collect(stdout)
	errOut := collect(stderr)
	assert.Equal(t, "out\n", out.all(t))
	assert.Equal(t, "err\n", errOut.all(t))
	require.NoError(t, p.Wait())
}

// TestInfoDeclaresLocal: the exec runner's processes run on prox's host,
// and its Info says so (prox then gives them its environment).
func TestInfoDeclaresLocal(t *testing.T) {
	d, stop, err := pluginhost.Serve(&sdk.ServeConfig{Name: "test", Version: "0.0.0", Runners: map[string]sdk.Runner{"exec": New()}}, "")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, stop()) })
	info, err := d.Base.Info(context.Background())
	require.NoError(t, err)
	assert.Contains(t, info.Capabilities, sdk.CapabilityLocal)
	assert.NotContains(t, info.Capabilities, sdk.CapabilityExec)
}
