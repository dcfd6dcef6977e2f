package ssh

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/internal/testservers"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/require"
)

const (
	waitFor = 15 * time.Second
	tick    = 10 * time.Millisecond

	// testUser is the unprivileged account the remote processes run as.
	testUser = testservers.TestUser
)

// The servers and the process-tree helpers live in internal/testservers;
// these names keep the tests short.
var (
	missing      = testservers.Missing
	freePort     = testservers.FreePort
	writeKey     = testservers.WriteKey
	testUID      = testservers.TestUID
	pids         = testservers.PIDs
	readStat     = testservers.ReadStat
	groupMembers = testservers.GroupMembers
	descendants  = testservers.Descendants
	comm         = testservers.Comm
	cmdline      = testservers.Cmdline
	uidOf        = testservers.UIDOf
)

// sshd is a private OpenSSH server on 127.0.0.1 (testservers.SSHD).
type sshd struct{ *testservers.SSHD }

// startSSHD starts a private sshd with extra sshd_config lines; it is
// stopped, with every connection it serves, when the test ends.
func startSSHD(tb testing.TB, extra ...string) *sshd {
	tb.Helper()
	return &sshd{testservers.StartSSHD(tb, extra...)}
}

// runnerConfig is a runner block's values for a test.
type runnerConfig map[string]any

// config returns the runner block for s as user.
func (s *sshd) config(user string) runnerConfig {
	return runnerConfig{
		"host":          "127.0.0.1",
		"port":          s.Port,
		"user":          user,
		"identity_file": s.Identity,
		"known_hosts":   s.KnownHosts,
		"use_agent":     false,
	}
}

// newTestRunner returns a configured Runner, shut down when the test ends.
// Its logs are shown when the test fails.
func newTestRunner(tb testing.TB, values runnerConfig) *Runner {
	tb.Helper()
	return newTestRunnerEnv(tb, values, map[string]string{})
}

// newTestRunnerEnv is newTestRunner with env as the plugin's environment.
func newTestRunnerEnv(tb testing.TB, values runnerConfig, env map[string]string) *Runner {
	tb.Helper()
	var logs syncBuffer
	r := newRunner(hclog.New(&hclog.LoggerOptions{Name: Name, Output: &logs, Level: hclog.Debug}))
	r.getenv = func(k string) string { return env[k] }
	require.NoError(tb, r.Configure(sdktest.Values(tb, schema, values)))
	tb.Cleanup(func() {
		_ = r.Shutdown()
		if tb.Failed() {
			tb.Logf("runner log:\n%s", logs.String())
		}
	})
	return r
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// collector drains a stream in the background (sdktest.Output).
type collector struct{ *sdktest.Output }

func collect(r io.Reader) *collector { return &collector{sdktest.Collect(r)} }

func (c *collector) contains(s string) bool { return c.Contains(s) }

// all waits for EOF and returns everything read.
func (c *collector) all(t testing.TB) string {
	t.Helper()
	return c.All(t, waitFor)
}

// started is a process under test with its output being collected.
type started struct {
	*Process
	stdout, stderr *collector
}

// start starts cfg on r; the process is killed when the test ends.
func start(tb testing.TB, r *Runner, cfg *sdk.ProcessConfig) *started {
	tb.Helper()
	if cfg.Name == "" {
		cfg.Name = tb.Name()
	}
	p, err := r.Start(context.Background(), cfg)
	require.NoError(tb, err)
	proc := p.(*Process)
	require.Greater(tb, proc.PID(), 1)
	tb.Cleanup(func() { _ = proc.Signal(syscall.SIGKILL) })
	return &started{Process: proc, stdout: collect(p.Stdout()), stderr: collect(p.Stderr())}
}

func sh(script string) []string { return []string{"sh", "-c", script} }

// wait waits for the process, failing the test if it takes too long.
func (s *started) wait(tb testing.TB) error {
	tb.Helper()
	ch := make(chan error, 1)
	go func() { ch <- s.Wait() }()
	select {
	case err := <-ch:
		return err
	case <-time.After(waitFor):
		tb.Fatalf("process %d did not exit", s.PID())
		return nil
	}
}

// isDone reports whether Wait has returned.
func (p *Process) isDone() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// remoteProc identifies a process, robust to PID reuse.
type remoteProc struct {
	pid       int
	startTime string
}

// snapshot identifies the live members of group pgid.
func snapshot(pgid int) []remoteProc {
	var out []remoteProc
	for _, pid := range groupMembers(pgid) {
		if st, ok := readStat(pid); ok {
			out = append(out, remoteProc{pid: pid, startTime: st.StartTime})
		}
	}
	return out
}

// alive reports whether p still runs (not a zombie, not replaced).
func (p remoteProc) alive() bool {
	st, ok := readStat(p.pid)
	return ok && st.State != "Z" && st.StartTime == p.startTime
}

// allGone reports whether none of procs is alive.
func allGone(procs []remoteProc) bool {
	for _, p := range procs {
		if p.alive() {
			return false
		}
	}
	return true
}

// waitForGroup waits until group pgid has a live process running each of
// the command lines in want, and returns a snapshot of the group.
func waitForGroup(tb testing.TB, pgid int, want ...string) []remoteProc {
	tb.Helper()
	require.Eventually(tb, func() bool {
		have := map[string]bool{}
		for _, pid := range groupMembers(pgid) {
			have[cmdline(pid)] = true
		}
		for _, w := range want {
			if !have[w] {
				return false
			}
		}
		return true
	}, waitFor, tick, "group %d never ran %q", pgid, want)
	return snapshot(pgid)
}

// pidOf returns the PID of the member of procs running command line cmd.
func pidOf(tb testing.TB, procs []remoteProc, cmd string) int {
	tb.Helper()
	for _, p := range procs {
		if cmdline(p.pid) == cmd {
			return p.pid
		}
	}
	tb.Fatalf("no process runs %q", cmd)
	return 0
}

// proxy forwards TCP connections to an address; frozen, it drops what it
// reads instead of forwarding it (a silent network), while still passing
// on a close.
type proxy struct {
	port   int
	mu     sync.Mutex
	frozen bool
}

func startProxy(tb testing.TB, target int) *proxy {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	p := &proxy{port: l.Addr().(*net.TCPAddr).Port}
	var wg sync.WaitGroup
	var conns sync.Map
	tb.Cleanup(func() {
		_ = l.Close()
		conns.Range(func(k, _ any) bool {
			_ = k.(net.Conn).Close()
			return true
		})
		wg.Wait()
	})
	wg.Go(func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(target))
			if err != nil {
				_ = in.Close()
				continue
			}
			conns.Store(in, true)
			conns.Store(out, true)
			wg.Go(func() { p.pipe(out, in) })
			wg.Go(func() { p.pipe(in, out) })
		}
	})
	return p
}

// pipe copies src to dst until src ends, then closes both.
func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.isFrozen() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

func (p *proxy) thaw() {
	p.mu.Lock()
	p.frozen = false
	p.mu.Unlock()
}

func (p *proxy) isFrozen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frozen
}
