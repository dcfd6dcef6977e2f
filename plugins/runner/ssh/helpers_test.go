package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/require"
	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const (
	waitFor = 15 * time.Second
	tick    = 10 * time.Millisecond

	// sshdPath is Debian's openssh-server daemon.
	sshdPath = "/usr/sbin/sshd"
	// testUser is the unprivileged account the remote processes run as.
	testUser = "proxtest"
)

// missing skips the test, or fails it under CI=true: a component the tests
// need must never be silently absent in CI.
func missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg + " (CI=true: not skipping)")
	}
	tb.Skip(msg)
}

// requireSSHD checks what a private sshd needs: its binary, root (sshd
// logs users in only when it runs as root) and the test user.
func requireSSHD(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		missing(tb, "%s not found: install the Debian package openssh-server", sshdPath)
	}
	if os.Geteuid() != 0 {
		missing(tb, "a private sshd that logs in %s needs root", testUser)
	}
	ensureTestUser(tb)
}

var userOnce sync.Once

// ensureTestUser creates the test user when it is missing, with a
// password field sshd accepts for key logins without PAM (a locked "!"
// account is refused).
func ensureTestUser(tb testing.TB) {
	tb.Helper()
	var err error
	userOnce.Do(func() {
		if _, lookupErr := user.Lookup(testUser); lookupErr != nil {
			if out, e := exec.Command("useradd", "-m", testUser).CombinedOutput(); e != nil {
				err = fmt.Errorf("useradd -m %s: %w: %s", testUser, e, out)
				return
			}
		}
		if out, e := exec.Command("usermod", "-p", "*", testUser).CombinedOutput(); e != nil {
			err = fmt.Errorf("usermod -p '*' %s: %w: %s", testUser, e, out)
		}
	})
	require.NoError(tb, err)
}

// testUID returns the test user's UID.
func testUID(tb testing.TB) int {
	tb.Helper()
	u, err := user.Lookup(testUser)
	require.NoError(tb, err)
	uid, err := strconv.Atoi(u.Uid)
	require.NoError(tb, err)
	return uid
}

// sshd is a private OpenSSH server on 127.0.0.1.
type sshd struct {
	port     int
	dir      string
	pid      int // the listener
	hostKey  xssh.PublicKey
	identity string // client private key, authorized for every user
	// knownHosts lists hostKey for [127.0.0.1]:port.
	knownHosts string
	log        string
}

// startSSHD starts a private sshd with extra sshd_config lines, waits until
// it answers, and stops it (and every connection it serves) when the test
// ends.
func startSSHD(tb testing.TB, extra ...string) *sshd {
	tb.Helper()
	requireSSHD(tb)
	require.NoError(tb, os.MkdirAll("/run/sshd", 0o755))

	dir := tb.TempDir()
	// sshd reads authorized_keys as the logged-in user: it must be able to
	// traverse the temporary directories.
	require.NoError(tb, os.Chmod(filepath.Dir(dir), 0o711))
	require.NoError(tb, os.Chmod(dir, 0o711))

	s := &sshd{dir: dir, log: filepath.Join(dir, "sshd.log")}
	hostPub := writeKey(tb, filepath.Join(dir, "host_ed25519"))
	var err error
	s.hostKey, err = xssh.NewPublicKey(hostPub)
	require.NoError(tb, err)
	s.identity = filepath.Join(dir, "id_ed25519")
	clientPub := writeKey(tb, s.identity)
	sshPub, err := xssh.NewPublicKey(clientPub)
	require.NoError(tb, err)
	require.NoError(tb, os.WriteFile(filepath.Join(dir, "authorized_keys"), xssh.MarshalAuthorizedKey(sshPub), 0o644))

	// A free port can be taken between the probe and sshd's bind: retry.
	for attempt := 0; ; attempt++ {
		s.port = freePort(tb)
		if s.start(tb, extra) {
			break
		}
		if attempt == 4 {
			log, _ := os.ReadFile(s.log)
			tb.Fatalf("sshd did not start:\n%s", log)
		}
	}
	s.knownHosts = s.writeKnownHosts(tb, "known_hosts", s.port, s.hostKey)
	return s
}

// start writes the config for s.port and runs sshd; false means it exited
// (e.g. the port was taken).
func (s *sshd) start(tb testing.TB, extra []string) bool {
	tb.Helper()
	config := filepath.Join(s.dir, "sshd_config")
	lines := []string{
		"Port " + strconv.Itoa(s.port),
		"ListenAddress 127.0.0.1",
		"HostKey " + filepath.Join(s.dir, "host_ed25519"),
		"PidFile " + filepath.Join(s.dir, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(s.dir, "authorized_keys"),
		"UsePAM no",
		"StrictModes no",
		"PermitRootLogin prohibit-password",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"LogLevel VERBOSE",
	}
	lines = append(lines, extra...)
	require.NoError(tb, os.WriteFile(config, []byte(strings.Join(lines, "\n")+"\n"), 0o644))

	// Standard streams stay nil (/dev/null): a background sshd must not
	// hold the test's output open.
	cmd := exec.Command(sshdPath, "-D", "-f", config, "-E", s.log)
	require.NoError(tb, cmd.Start())
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()

	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if banner(s.port) {
			s.pid = cmd.Process.Pid
			tb.Cleanup(func() { s.stop(tb, cmd, exited) })
			return true
		}
		time.Sleep(tick)
	}
	_ = cmd.Process.Kill()
	<-exited
	return false
}

// banner reports whether an SSH server answers on port.
func banner(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	b := make([]byte, 8)
	_, err = io.ReadFull(c, b)
	return err == nil && string(b) == "SSH-2.0-"
}

// stop kills the connections' sshd processes (whose end makes the remote
// watchdogs kill their groups), then the listener.
func (s *sshd) stop(tb testing.TB, cmd *exec.Cmd, exited chan struct{}) {
	for _, pid := range descendants(s.pid) {
		if comm(pid) == "sshd" {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(waitFor):
		_ = cmd.Process.Kill()
		<-exited
	}
	if tb.Failed() {
		if log, err := os.ReadFile(s.log); err == nil {
			tb.Logf("sshd log:\n%s", log)
		}
	}
}

// writeKnownHosts writes a known_hosts file listing key for
// [127.0.0.1]:port and returns its path.
func (s *sshd) writeKnownHosts(tb testing.TB, name string, port int, key xssh.PublicKey) string {
	tb.Helper()
	path := filepath.Join(s.dir, name)
	line := knownhosts.Line([]string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}, key)
	require.NoError(tb, os.WriteFile(path, []byte(line+"\n"), 0o644))
	return path
}

// writeKey generates an ed25519 key, writes its private half in OpenSSH
// format to path and returns the public half.
func writeKey(tb testing.TB, path string) ed25519.PublicKey {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(tb, err)
	block, err := xssh.MarshalPrivateKey(priv, "prox test")
	require.NoError(tb, err)
	require.NoError(tb, os.WriteFile(path, pem.EncodeToMemory(block), 0o600))
	return pub
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// connections returns the sshd processes serving connections: the
// listener's children.
func (s *sshd) connections() []int {
	return children(s.pid)
}

// logins returns the connections on which user has logged in.
func (s *sshd) logins(user string) []int {
	var out []int
	for _, pid := range s.connections() {
		if strings.HasPrefix(cmdline(pid), "sshd: "+user+" [priv]") {
			out = append(out, pid)
		}
	}
	return out
}

// runnerConfig is a runner block's values for a test.
type runnerConfig map[string]any

// config returns the runner block for s as user.
func (s *sshd) config(user string) runnerConfig {
	return runnerConfig{
		"host":          "127.0.0.1",
		"port":          s.port,
		"user":          user,
		"identity_file": s.identity,
		"known_hosts":   s.knownHosts,
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

// The remote host is this machine: the tests look at the remote processes
// through /proc.

// procStat is the part of /proc/PID/stat the tests use.
type procStat struct {
	state     string
	ppid      int
	pgid      int
	startTime string
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime priority nice threads
	// itrealvalue starttime ..."; comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return procStat{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgid, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return procStat{}, false
	}
	return procStat{state: f[0], ppid: ppid, pgid: pgid, startTime: f[19]}, true
}

// pids lists the processes in /proc.
func pids() []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// groupMembers returns the live (non-zombie) processes of group pgid.
func groupMembers(pgid int) []int {
	var out []int
	for _, pid := range pids() {
		if st, ok := readStat(pid); ok && st.pgid == pgid && st.state != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

// children returns the live children of pid.
func children(pid int) []int {
	var out []int
	for _, p := range pids() {
		if st, ok := readStat(p); ok && st.ppid == pid && st.state != "Z" {
			out = append(out, p)
		}
	}
	return out
}

// descendants returns every live descendant of pid.
func descendants(pid int) []int {
	var out []int
	for _, c := range children(pid) {
		out = append(out, c)
		out = append(out, descendants(c)...)
	}
	return out
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
			out = append(out, remoteProc{pid: pid, startTime: st.startTime})
		}
	}
	return out
}

// alive reports whether p still runs (not a zombie, not replaced).
func (p remoteProc) alive() bool {
	st, ok := readStat(p.pid)
	return ok && st.state != "Z" && st.startTime == p.startTime
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

func comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// cmdline returns the argv of pid joined by spaces.
func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// uidOf returns the real UID of pid, or -1.
func uidOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Uid:" {
			uid, err := strconv.Atoi(f[1])
			if err == nil {
				return uid
			}
		}
	}
	return -1
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

// connectionOf returns the sshd processes between the listener and pid:
// the ones serving pid's connection.
func (s *sshd) connectionOf(tb testing.TB, pid int) []int {
	tb.Helper()
	var chain []int
	for p := pid; ; {
		st, ok := readStat(p)
		require.True(tb, ok, "process %d vanished", p)
		if st.ppid == s.pid {
			return append(chain, p)
		}
		require.NotEqual(tb, 1, st.ppid, "process %d is not served by sshd %d", pid, s.pid)
		if comm(st.ppid) == "sshd" {
			chain = append(chain, st.ppid)
		}
		p = st.ppid
	}
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
