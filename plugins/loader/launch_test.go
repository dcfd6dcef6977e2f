package loader

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/plugins/builtin"
	execrunner "github.com/prox-dev/prox/plugins/runner/exec"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExecBuiltinRunsOutOfProcess(t *testing.T) {
	t.Parallel()
	l := newLoader(t, selfOptions(t, "exec"))
	ctx := context.Background()

	inst, err := l.Launch(ctx, sdk.KindRunner, execrunner.Name)
	require.NoError(t, err)
	assert.Equal(t, "runner.exec", inst.ID())
	assert.True(t, inst.Source.Builtin)
	assert.Equal(t, selfPath(t), inst.Source.Path)
	assert.Equal(t, []string{"plugin-serve", "runner", "exec"}, inst.Source.Args)
	require.NotNil(t, inst.Info)
	assert.Equal(t, sdk.KindRunner, inst.Info.Kind)
	assert.Equal(t, execrunner.Name, inst.Info.Name)
	assert.Equal(t, builtin.PluginName, inst.Info.Plugin)
	assert.Equal(t, sdk.APIVersions[len(sdk.APIVersions)-1], inst.APIVersion)
	assert.NotNil(t, inst.Base)
	require.NotNil(t, inst.Runner)
	assert.Nil(t, inst.Sink)
	// The schemas are the ones the exec runner declares.
	var runner any = execrunner.New()
	if c, ok := runner.(sdk.Configurable); ok {
		assert.Equal(t, c.ConfigSchema(), inst.ConfigSchema)
	} else {
		assert.Nil(t, inst.ConfigSchema)
	}
	if c, ok := runner.(sdk.ProcessConfigurable); ok {
		assert.Equal(t, c.ProcessSchema(), inst.ProcessSchema)
	} else {
		assert.Nil(t, inst.ProcessSchema)
	}
	values, diags := Decode(nil, inst.ConfigSchema, nil, missingRange, "runner \"exec\" block")
	require.False(t, diags.HasErrors(), diags.Error())
	require.NoError(t, inst.Configure(ctx, values))

	p, err := inst.Runner.Start(ctx, &sdk.ProcessConfig{
		Name:    "hi",
		Command: []string{"sh", "-c", "echo hi; echo err >&2; exit 3"},
		Env:     testEnv(),
	})
	require.NoError(t, err)
	stdout, stderr := collect(p.Stdout()), collect(p.Stderr())
	err = waitResult(t, waitAsync(p))
	var exitErr *sdk.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 3, exitErr.Code)
	assert.Empty(t, exitErr.Signal)
	out, outErr := stdout.result(t)
	require.NoError(t, outErr)
	assert.Equal(t, "hi\n", out)
	errOut, errErr := stderr.result(t)
	require.NoError(t, errErr)
	assert.Equal(t, "err\n", errOut)

	// The runner lives in the plugin process: the test binary, re-executed,
	// is the parent of the process it starts.
	pluginPID := inst.PID()
	require.Positive(t, pluginPID)
	require.NotEqual(t, os.Getpid(), pluginPID)
	requireAlive(t, pluginPID, "plugin")
	assert.False(t, inst.Exited())
	sleeper := startSleep(t, inst)
	sleepWait := waitAsync(sleeper)
	_, ppid, ok := procStat(sleeper.PID())
	require.True(t, ok)
	assert.Equal(t, pluginPID, ppid, "the parent of sleep is not the plugin")
	_, ppid, ok = procStat(pluginPID)
	require.True(t, ok)
	assert.Equal(t, os.Getpid(), ppid, "the parent of the plugin is not the test")

	// Closing the loader ends the plugin and what it started.
	require.NoError(t, l.Close(ctx))
	requireGone(t, pluginPID, "plugin")
	requireGone(t, sleeper.PID(), "sleep")
	require.Error(t, waitResult(t, sleepWait))
	assert.True(t, inst.Exited())
}

func TestStrayStdoutFailsTheLaunch(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	l := newLoader(t, selfOptions(t, "stray-stdout", pidFileEnv+"="+pidFile))
	err := launchErr(t, l, sdk.KindRunner, execrunner.Name)
	t.Log(err)
	require.ErrorIs(t, err, ErrLaunch)
	assert.NotErrorIs(t, err, ErrIncompatible)
	msg := err.Error()
	assert.Contains(t, msg, "runner.exec")
	assert.Contains(t, msg, selfPath(t))
	assert.Contains(t, msg, "Unrecognized remote plugin message: hello from a broken plugin")
	assert.Contains(t, msg, "wrote to stdout before serving")
	requireGone(t, readPIDFile(t, pidFile), "broken plugin")
}

func TestExitAtStartFailsTheLaunch(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	l := newLoader(t, selfOptions(t, "exit-at-start", pidFileEnv+"="+pidFile))
	err := launchErr(t, l, sdk.KindRunner, execrunner.Name)
	t.Log(err)
	require.ErrorIs(t, err, ErrLaunch)
	msg := err.Error()
	assert.Contains(t, msg, "runner.exec")
	assert.Contains(t, msg, "the plugin exited before the handshake")
	assert.NotContains(t, msg, "stdout", "the plugin did not write to stdout")
	assert.Contains(t, msg, "exit status 3")
	// What the plugin said is in the error, though the logger discards it.
	assert.Contains(t, msg, "fatal: cannot read /etc/broken-plugin.conf")
	requireGone(t, readPIDFile(t, pidFile), "plugin")
}

func TestHangingPluginTimesOutAndIsKilled(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	opts := selfOptions(t, "hang", pidFileEnv+"="+pidFile)
	opts.StartTimeout = 2 * time.Second
	l := newLoader(t, opts)
	err := launchErr(t, l, sdk.KindRunner, execrunner.Name)
	t.Log(err)
	require.ErrorIs(t, err, ErrLaunch)
	assert.Contains(t, err.Error(), "timeout while waiting for plugin to start")
	requireGone(t, readPIDFile(t, pidFile), "hung plugin")
}

func TestWrongProtocolIsIncompatible(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	l := newLoader(t, selfOptions(t, "wrong-protocol", pidFileEnv+"="+pidFile))
	err := launchErr(t, l, sdk.KindRunner, execrunner.Name)
	t.Log(err)
	require.ErrorIs(t, err, ErrLaunch)
	require.ErrorIs(t, err, ErrIncompatible)
	assert.Contains(t, err.Error(), fmt.Sprintf("Plugin version: %d", sdk.ProtocolVersion+41))
	assert.Contains(t, err.Error(), fmt.Sprintf("prox speaks plugin protocol %d", sdk.ProtocolVersion))
	requireGone(t, readPIDFile(t, pidFile), "plugin")
}

func TestUnknownBuiltinComponentFails(t *testing.T) {
	t.Parallel()
	// Self claims to serve runner.nope, which the catalog does not have.
	opts := selfOptions(t, "exec")
	opts.Builtin = func(sdk.Kind, string) bool { return true }
	l := newLoader(t, opts)
	err := launchErr(t, l, sdk.KindRunner, "nope")
	t.Log(err)
	require.ErrorIs(t, err, ErrLaunch)
	assert.Contains(t, err.Error(), `no built-in runner named "nope"`)
}

func TestPluginCrashEndsItsProcesses(t *testing.T) {
	t.Parallel()
	l := newLoader(t, selfOptions(t, "exec"))
	ctx := context.Background()
	inst, err := l.Launch(ctx, sdk.KindRunner, execrunner.Name)
	require.NoError(t, err)
	pluginPID := inst.PID()
	p := startSleep(t, inst)
	stdout, stderr := collect(p.Stdout()), collect(p.Stderr())
	waited := waitAsync(p)

	require.NoError(t, syscall.Kill(pluginPID, syscall.SIGKILL))

	err = waitResult(t, waited)
	require.ErrorIs(t, err, sdk.ErrPluginUnavailable)
	// Every Wait returns the same result.
	require.ErrorIs(t, p.Wait(), sdk.ErrPluginUnavailable)
	_, outErr := stdout.result(t)
	assert.ErrorIs(t, outErr, sdk.ErrPluginUnavailable)
	_, errErr := stderr.result(t)
	assert.ErrorIs(t, errErr, sdk.ErrPluginUnavailable)
	require.Eventually(t, inst.Exited, waitFor, tick, "the plugin is not seen to exit")
	// The exec runner gives its children a parent-death signal.
	requireGone(t, p.PID(), "sleep")

	_, err = inst.Runner.Start(ctx, &sdk.ProcessConfig{Name: "late", Command: []string{"true"}, Env: testEnv()})
	require.ErrorIs(t, err, sdk.ErrPluginUnavailable)
	// Closing a dead plugin does not hang.
	closed := make(chan error, 1)
	go func() { closed <- l.Close(ctx) }()
	select {
	case <-closed:
	case <-time.After(waitFor):
		t.Fatal("Close of a crashed plugin hangs")
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	t.Parallel()
	l := newLoader(t, selfOptions(t, "exec"))
	ctx := context.Background()
	inst, err := l.Launch(ctx, sdk.KindRunner, execrunner.Name)
	require.NoError(t, err)
	p := startSleep(t, inst)

	require.NoError(t, inst.Close(ctx))
	requireGone(t, inst.PID(), "plugin")
	requireGone(t, p.PID(), "sleep")
	require.NoError(t, inst.Close(ctx))
	require.NoError(t, l.Close(ctx))
	require.NoError(t, l.Close(ctx))
	require.NoError(t, inst.Close(ctx))
}

func TestLoaderClosesPluginsInParallel(t *testing.T) {
	t.Parallel()
	const n = 3
	barrier := t.TempDir()
	l := newLoader(t, selfOptions(t, "barrier", fmt.Sprintf("%s=%s:%d", barrierEnv, barrier, n)))
	ctx := context.Background()
	var insts []*Instance
	var procs []sdk.Process
	for range n {
		inst, err := l.Launch(ctx, sdk.KindRunner, execrunner.Name)
		require.NoError(t, err)
		insts = append(insts, inst)
		procs = append(procs, startSleep(t, inst))
	}

	// Each plugin's Shutdown fails unless all n are shutting down at once.
	require.NoError(t, l.Close(ctx))
	entries, err := os.ReadDir(barrier)
	require.NoError(t, err)
	assert.Len(t, entries, n)
	for i, inst := range insts {
		requireGone(t, inst.PID(), "plugin")
		requireGone(t, procs[i].PID(), "sleep")
		require.NoError(t, inst.Close(ctx))
	}
	require.NoError(t, l.Close(ctx))
}

func TestLoaderLaunchesPluginsInParallel(t *testing.T) {
	t.Parallel()
	const n = 3
	barrier := t.TempDir()
	l := newLoader(t, selfOptions(t, "start-barrier", fmt.Sprintf("%s=%s:%d", barrierEnv, barrier, n)))
	// Each plugin completes its handshake only once all n have started: a
	// loader that waits for one handshake before it starts the next plugin
	// fails every launch.
	insts := make([]*Instance, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { insts[i], errs[i] = l.Launch(context.Background(), sdk.KindRunner, execrunner.Name) })
	}
	wg.Wait()
	pids := map[int]bool{}
	for i := range n {
		require.NoError(t, errs[i])
		requireAlive(t, insts[i].PID(), "plugin")
		pids[insts[i].PID()] = true
		// Each still gets its processes started and stopped.
		p := startSleep(t, insts[i])
		require.NoError(t, p.Signal(syscall.SIGTERM))
		require.Error(t, waitResult(t, waitAsync(p)))
	}
	assert.Len(t, pids, n)
	entries, err := os.ReadDir(barrier)
	require.NoError(t, err)
	assert.Len(t, entries, n)
	require.NoError(t, l.Close(context.Background()))
	for _, inst := range insts {
		requireGone(t, inst.PID(), "plugin")
	}
}

func TestCloseKindClosesOnlyThatKind(t *testing.T) {
	t.Parallel()
	l := newLoader(t, selfOptions(t, "exec"))
	ctx := context.Background()
	runner, err := l.Launch(ctx, sdk.KindRunner, execrunner.Name)
	require.NoError(t, err)
	sink, err := l.Launch(ctx, sdk.KindSink, "file")
	require.NoError(t, err)
	p := startSleep(t, runner)

	require.NoError(t, l.CloseKind(ctx, sdk.KindRunner))
	requireGone(t, runner.PID(), "runner plugin")
	requireGone(t, p.PID(), "sleep")
	requireAlive(t, sink.PID(), "sink plugin")

	// The loader stays open; Close ends the rest, the later launch too.
	later, err := l.Launch(ctx, sdk.KindRunner, execrunner.Name)
	require.NoError(t, err)
	require.NoError(t, l.Close(ctx))
	requireGone(t, sink.PID(), "sink plugin")
	requireGone(t, later.PID(), "runner plugin")
}

func TestLaunchAfterCloseFails(t *testing.T) {
	t.Parallel()
	l := newLoader(t, selfOptions(t, "exec"))
	require.NoError(t, l.Close(context.Background()))
	err := launchErr(t, l, sdk.KindRunner, execrunner.Name)
	t.Log(err)
	require.ErrorIs(t, err, ErrLaunch)
	assert.Contains(t, err.Error(), "closed")
}

// A host killed with SIGKILL takes its plugins along (their parent-death
// signal), and they take their processes along.
func TestHostDeathEndsPlugins(t *testing.T) {
	t.Parallel()
	host := exec.Command(selfPath(t))
	host.Env = append(os.Environ(), modeEnv+"=host")
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, host.Start())
	t.Cleanup(func() {
		_ = host.Process.Kill()
		_ = host.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
	}()
	var pluginPID, childPID int
	select {
	case s := <-line:
		_, err := fmt.Sscanf(strings.TrimSpace(s), "%d %d", &pluginPID, &childPID)
		require.NoError(t, err, "host printed %q", s)
	case <-time.After(waitFor):
		t.Fatal("the host did not report its plugin")
	}
	_, ppid, ok := procStat(pluginPID)
	require.True(t, ok)
	require.Equal(t, host.Process.Pid, ppid)
	requireAlive(t, childPID, "sleep")

	require.NoError(t, host.Process.Kill())
	_ = host.Wait()
	requireGone(t, pluginPID, "plugin")
	requireGone(t, childPID, "sleep")
}

// syncBuffer is a bytes.Buffer for a logger that goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// At the info level, go-plugin's chatter about every start and exit is
// left out, without changing the level of the host's logger.
func TestLoggerAtInfo(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Info, IndependentLevels: true})
	opts := selfOptions(t, "exec")
	opts.Logger = logger
	l := newLoader(t, opts)
	inst, err := l.Launch(context.Background(), sdk.KindRunner, execrunner.Name)
	require.NoError(t, err)
	require.NoError(t, l.Close(context.Background()))
	requireGone(t, inst.PID(), "plugin")
	assert.Equal(t, hclog.Info, logger.GetLevel())
	assert.NotContains(t, buf.String(), "starting plugin")
	assert.NotContains(t, buf.String(), "plugin process exited")
}

// A plugin's log line reaches prox's log with one time and one name: the
// component's, not go-plugin's name of the binary, and without the
// plugin's own timestamp and hclog's @module as arguments.
func TestPluginLogLineHasOneTimeAndOneName(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	logger := hclog.New(&hclog.LoggerOptions{Name: "prox", Output: &buf, Level: hclog.Info, IndependentLevels: true})
	opts := selfOptions(t, "exec")
	opts.Logger = logger
	l := newLoader(t, opts)
	ctx := context.Background()
	inst, err := l.Launch(ctx, sdk.KindSink, "syslog")
	require.NoError(t, err)
	// Port 1 on loopback: nobody listens, so the sink logs an error at once.
	require.NoError(t, inst.Configure(ctx, []byte(`{"address":"tcp://127.0.0.1:1"}`)))
	var line string
	require.Eventually(t, func() bool {
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.Contains(l, "syslog server unreachable") {
				line = l
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "the plugin's log line reaches the host's logger:\n%s", buf.String())
	require.NoError(t, l.Close(ctx))
	assert.Regexp(t, `^\S+ \[ERROR\] prox\.sink\.syslog: syslog server unreachable`, line)
	assert.Len(t, regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d`).FindAllString(line, -1), 1, "one timestamp: %s", line)
	for _, noise := range []string{"timestamp=", "@module=", "component=", "prox.plugin"} {
		assert.NotContains(t, line, noise)
	}
	assert.Contains(t, line, "address=tcp://127.0.0.1:1", "the plugin's own arguments stay")
}

// A runner plugin frozen by SIGSTOP answers nothing, not even go-plugin's
// own shutdown call, which has no deadline: Close gives it shutdownTimeout
// to answer, then kills it, and returns; the plugin's process is gone, and
// the process it ran with it.
func TestCloseKillsAFrozenPlugin(t *testing.T) {
	t.Parallel()
	l := newLoader(t, selfOptions(t, "exec"))
	inst, err := l.Launch(context.Background(), sdk.KindRunner, execrunner.Name)
	require.NoError(t, err)
	pluginPID := inst.PID()
	p := startSleep(t, inst)
	waited := waitAsync(p)
	require.NoError(t, syscall.Kill(pluginPID, syscall.SIGSTOP))
	t.Cleanup(func() { _ = syscall.Kill(pluginPID, syscall.SIGKILL) }) // if Close failed to

	closed := make(chan error, 1)
	start := time.Now()
	go func() { closed <- l.Close(context.Background()) }()
	select {
	case err = <-closed:
	case <-time.After(shutdownTimeout + killTimeout + waitFor):
		t.Fatal("Close of a frozen plugin hangs")
	}
	t.Logf("Close returned after %s", time.Since(start).Round(10*time.Millisecond))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "runner.exec did not answer its shutdown within 5s, killed")
	requireGone(t, pluginPID, "the frozen plugin")
	require.ErrorIs(t, waitResult(t, waited), sdk.ErrPluginUnavailable)
	requireGone(t, p.PID(), "sleep")
}
