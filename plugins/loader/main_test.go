package loader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/prox-dev/prox/plugins/builtin"
	execrunner "github.com/prox-dev/prox/plugins/runner/exec"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
)

// The test binary doubles as a plugin: when modeEnv is set, TestMain acts
// as the plugin process of that mode instead of running the tests.
const (
	modeEnv    = "PROX_LOADER_TEST_PLUGIN"
	pidFileEnv = "PROX_LOADER_TEST_PIDFILE" // a plugin writes its PID there
	barrierEnv = "PROX_LOADER_TEST_BARRIER" // DIR:N, see barrierRunner
	markerEnv  = "PROX_TINY_MARKER"         // see testdata/tinyrunner
)

const (
	waitFor = 20 * time.Second
	tick    = 20 * time.Millisecond
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(modeEnv); mode != "" {
		os.Exit(runPlugin(mode))
	}
	code := m.Run()
	plugin.CleanupClients()
	if tinyDir != "" {
		_ = os.RemoveAll(tinyDir)
	}
	os.Exit(code)
}

// runPlugin is the test binary acting as a plugin; it returns the exit code.
func runPlugin(mode string) int {
	if path := os.Getenv(pidFileEnv); path != "" {
		if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	// The loader runs Self with SelfArgs + KIND NAME.
	kind, name := "", ""
	if n := len(os.Args); n >= 3 {
		kind, name = os.Args[n-2], os.Args[n-1]
	}
	switch mode {
	case "exec":
		if err := builtin.Serve(kind, name); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "stray-stdout":
		fmt.Println("hello from a broken plugin")
		if err := builtin.Serve(kind, name); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "exit-at-start":
		fmt.Fprintln(os.Stderr, "fatal: cannot read /etc/broken-plugin.conf")
		return 3
	case "hang":
		// Never handshake; a timer, unlike select{}, is no deadlock.
		time.Sleep(time.Hour)
	case "wrong-protocol":
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig: plugin.HandshakeConfig{
				ProtocolVersion:  sdk.ProtocolVersion + 41,
				MagicCookieKey:   sdk.Handshake.MagicCookieKey,
				MagicCookieValue: sdk.Handshake.MagicCookieValue,
			},
			Plugins:    plugin.PluginSet{"base": stubPlugin{}},
			GRPCServer: plugin.DefaultGRPCServer,
		})
	case "start-barrier":
		// Serve only once N plugins have started (see barrier).
		if err := barrier(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := builtin.Serve(kind, name); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "barrier":
		cfg := &sdk.ServeConfig{Name: builtin.PluginName, Version: "test",
			Runners: map[string]sdk.Runner{name: &barrierRunner{Runner: execrunner.New()}}}
		if err := sdk.ServeComponent(cfg, sdk.Kind(kind), name); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "host":
		return runHost()
	default:
		fmt.Fprintf(os.Stderr, "unknown %s %q\n", modeEnv, mode)
		return 1
	}
	return 0
}

// stubPlugin is a gRPC plugin that registers nothing.
type stubPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (stubPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }

func (stubPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("stub")
}

// barrierRunner is the exec runner whose Shutdown returns only once N
// plugins (of $PROX_LOADER_TEST_BARRIER=DIR:N) are all in Shutdown at the
// same time, and fails when that does not happen within barrierTimeout: a
// loader that shuts its plugins down one after the other makes it fail.
type barrierRunner struct{ *execrunner.Runner }

const barrierTimeout = 4 * time.Second // below the loader's shutdownTimeout

func (r *barrierRunner) Shutdown() error {
	if err := r.Runner.Shutdown(); err != nil {
		return err
	}
	return barrier()
}

// barrier registers this plugin process in $PROX_LOADER_TEST_BARRIER=DIR:N
// and returns once N plugin processes have, or fails after barrierTimeout.
func barrier() error {
	dir, nStr, _ := strings.Cut(os.Getenv(barrierEnv), ":")
	n, err := strconv.Atoi(nStr)
	if err != nil {
		return fmt.Errorf("bad %s: %w", barrierEnv, err)
	}
	if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), nil, 0o644); err != nil {
		return err
	}
	deadline := time.Now().Add(barrierTimeout)
	for {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		if len(entries) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("barrier: only %d of %d plugins got there at once", len(entries), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runHost is a prox stand-in: it launches the exec built-in, starts
// `sleep 100` through it, prints "PLUGINPID CHILDPID" and waits to be
// killed.
func runHost() int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	l, err := New(Options{
		Self:    self,
		Builtin: builtin.Has,
		Env:     []string{modeEnv + "=exec", "PATH=" + os.Getenv("PATH")},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	inst, err := l.Launch(ctx, sdk.KindRunner, execrunner.Name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p, err := inst.Runner.Start(ctx, &sdk.ProcessConfig{Name: "sleep", Command: []string{"sleep", "100"}, Env: testEnv()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%d %d\n", inst.PID(), p.PID())
	time.Sleep(time.Hour)
	return 0
}

// selfPath is the absolute path of the test binary.
func selfPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(os.Args[0])
	require.NoError(t, err)
	return p
}

// testEnv is the environment of the processes the runners start.
func testEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH")}
}

// selfOptions are Options that launch the test binary as the plugin of
// mode for every built-in component.
func selfOptions(t *testing.T, mode string, env ...string) Options {
	return Options{
		Self:     selfPath(t),
		SelfArgs: []string{"plugin-serve"},
		Builtin:  builtin.Has,
		Env:      append([]string{modeEnv + "=" + mode, "PATH=" + os.Getenv("PATH")}, env...),
	}
}

// newLoader returns a loader that is closed when the test ends.
func newLoader(t *testing.T, opts Options) *Loader {
	t.Helper()
	l, err := New(opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = l.Close(ctx)
	})
	return l
}

// launchErr launches kind.name and returns the error it must fail with,
// failing the test if the launch hangs.
func launchErr(t *testing.T, l *Loader, kind sdk.Kind, name string) error {
	t.Helper()
	type result struct {
		inst *Instance
		err  error
	}
	done := make(chan result, 1)
	go func() {
		inst, err := l.Launch(context.Background(), kind, name)
		done <- result{inst, err}
	}()
	select {
	case r := <-done:
		require.Error(t, r.err, "the launch succeeded")
		require.Nil(t, r.inst)
		return r.err
	case <-time.After(waitFor):
		t.Fatalf("the launch of %s.%s did not return within %s", kind, name, waitFor)
		return nil
	}
}

// procStat reads the state and parent PID of pid from /proc; ok is false
// when the process does not exist.
func procStat(pid int) (state string, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, false
	}
	// "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(fields[1])
	if err != nil {
		return "", 0, false
	}
	return fields[0], ppid, true
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != "Z" && state != "X"
}

func requireAlive(t *testing.T, pid int, what string) {
	t.Helper()
	require.Positive(t, pid, what)
	require.True(t, alive(pid), "%s (pid %d) is not running", what, pid)
}

func requireGone(t *testing.T, pid int, what string) {
	t.Helper()
	require.Positive(t, pid, what)
	require.Eventually(t, func() bool { return !alive(pid) }, waitFor, tick, "%s (pid %d) is still running", what, pid)
}

// readPIDFile waits for a plugin's PID file.
func readPIDFile(t *testing.T, path string) int {
	t.Helper()
	var pid int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(string(b))
		return err == nil
	}, waitFor, tick, "no PID in %s", path)
	return pid
}

// collector reads a stream to its end in the background.
type collector struct {
	done chan struct{}
	buf  bytes.Buffer
	err  error
}

func collect(r io.Reader) *collector {
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		_, c.err = io.Copy(&c.buf, r)
	}()
	return c
}

// result waits for the end of the stream and returns what was read and the
// error that ended it (nil for EOF).
func (c *collector) result(t *testing.T) (string, error) {
	t.Helper()
	select {
	case <-c.done:
		return c.buf.String(), c.err
	case <-time.After(waitFor):
		t.Fatalf("the output did not end within %s", waitFor)
		return "", nil
	}
}

// waitAsync calls p.Wait in the background.
func waitAsync(p sdk.Process) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- p.Wait() }()
	return ch
}

// waitResult returns the Wait result, failing the test if it hangs.
func waitResult(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(waitFor):
		t.Fatalf("Wait did not return within %s", waitFor)
		return nil
	}
}

// startSleep starts `sleep 100` through inst.
func startSleep(t *testing.T, inst *Instance) sdk.Process {
	t.Helper()
	p, err := inst.Runner.Start(context.Background(), &sdk.ProcessConfig{
		Name: "sleeper", Command: []string{"sleep", "100"}, Env: testEnv(),
	})
	require.NoError(t, err)
	requireAlive(t, p.PID(), "sleep")
	t.Cleanup(func() {
		// Only if the test failed before its plugin took it down.
		if alive(p.PID()) {
			_ = syscall.Kill(p.PID(), syscall.SIGKILL)
		}
	})
	return p
}

// The tiny plugin of testdata/tinyrunner is built once per test binary run,
// as tinyDir/prox-plugin-tiny (the only file of tinyDir).
var (
	tinyOnce sync.Once
	tinyDir  string
	tinyPath string
	tinySum  string
	tinyErr  error
)

func tinyPlugin(t *testing.T) (path, sum string) {
	t.Helper()
	tinyOnce.Do(func() {
		tinyDir, tinyErr = os.MkdirTemp("", "prox-loader-test-")
		if tinyErr != nil {
			return
		}
		tinyPath = filepath.Join(tinyDir, PluginFilePrefix+"tiny")
		cmd := exec.Command("go", "build", "-o", tinyPath, "./testdata/tinyrunner")
		out, err := cmd.CombinedOutput()
		if err != nil {
			tinyErr = fmt.Errorf("go build ./testdata/tinyrunner: %w\n%s", err, out)
			return
		}
		tinySum, tinyErr = fileSHA256(tinyPath)
	})
	require.NoError(t, tinyErr)
	return tinyPath, tinySum
}
