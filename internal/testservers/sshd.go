package testservers

import (
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

	"github.com/stretchr/testify/require"
	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const (
	// sshdPath is Debian's openssh-server daemon.
	sshdPath = "/usr/sbin/sshd"
	// TestUser is the unprivileged account the remote processes run as.
	TestUser = "proxtest"
)

// RequireSSHD checks what a private sshd needs: its binary, root (sshd
// logs users in only when it runs as root) and the test user, which it
// creates when missing.
func RequireSSHD(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		Missing(tb, "%s not found: install the Debian package openssh-server", sshdPath)
	}
	if os.Geteuid() != 0 {
		Missing(tb, "a private sshd that logs in %s needs root", TestUser)
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
		if _, lookupErr := user.Lookup(TestUser); lookupErr != nil {
			if out, e := exec.Command("useradd", "-m", TestUser).CombinedOutput(); e != nil {
				err = fmt.Errorf("useradd -m %s: %w: %s", TestUser, e, out)
				return
			}
		}
		if out, e := exec.Command("usermod", "-p", "*", TestUser).CombinedOutput(); e != nil {
			err = fmt.Errorf("usermod -p '*' %s: %w: %s", TestUser, e, out)
		}
	})
	require.NoError(tb, err)
}

// TestUID returns the test user's UID.
func TestUID(tb testing.TB) int {
	tb.Helper()
	u, err := user.Lookup(TestUser)
	require.NoError(tb, err)
	uid, err := strconv.Atoi(u.Uid)
	require.NoError(tb, err)
	return uid
}

// SSHD is a private OpenSSH server on 127.0.0.1.
type SSHD struct {
	// Port is the port it listens on.
	Port int
	// Dir holds its files; the test user may traverse it.
	Dir string
	// PID is the listener's.
	PID int
	// HostKey is its host key.
	HostKey xssh.PublicKey
	// Identity is a client private key, authorized for every user.
	Identity string
	// KnownHosts is a known_hosts file listing HostKey for
	// [127.0.0.1]:Port.
	KnownHosts string
	// Log is sshd's log file.
	Log string
}

// StartSSHD starts a private sshd with extra sshd_config lines, waits until
// it answers, and stops it (and every connection it serves) when the test
// ends. Without sshd or root the test is skipped (Missing).
func StartSSHD(tb testing.TB, extra ...string) *SSHD {
	tb.Helper()
	RequireSSHD(tb)
	require.NoError(tb, os.MkdirAll("/run/sshd", 0o755))

	dir := tb.TempDir()
	// sshd reads authorized_keys as the logged-in user: it must be able to
	// traverse the temporary directories.
	require.NoError(tb, os.Chmod(filepath.Dir(dir), 0o711))
	require.NoError(tb, os.Chmod(dir, 0o711))

	s := &SSHD{Dir: dir, Log: filepath.Join(dir, "sshd.log")}
	hostPub := WriteKey(tb, filepath.Join(dir, "host_ed25519"))
	var err error
	s.HostKey, err = xssh.NewPublicKey(hostPub)
	require.NoError(tb, err)
	s.Identity = filepath.Join(dir, "id_ed25519")
	clientPub := WriteKey(tb, s.Identity)
	sshPub, err := xssh.NewPublicKey(clientPub)
	require.NoError(tb, err)
	require.NoError(tb, os.WriteFile(filepath.Join(dir, "authorized_keys"), xssh.MarshalAuthorizedKey(sshPub), 0o644))

	// A free port can be taken between the probe and sshd's bind: retry.
	for attempt := 0; ; attempt++ {
		s.Port = FreePort(tb)
		if s.start(tb, extra) {
			break
		}
		if attempt == 4 {
			log, _ := os.ReadFile(s.Log)
			tb.Fatalf("sshd did not start:\n%s", log)
		}
	}
	s.KnownHosts = s.WriteKnownHosts(tb, "known_hosts", s.Port, s.HostKey)
	return s
}

// start writes the config for s.Port and runs sshd; false means it exited
// (e.g. the port was taken).
func (s *SSHD) start(tb testing.TB, extra []string) bool {
	tb.Helper()
	config := filepath.Join(s.Dir, "sshd_config")
	lines := []string{
		"Port " + strconv.Itoa(s.Port),
		"ListenAddress 127.0.0.1",
		"HostKey " + filepath.Join(s.Dir, "host_ed25519"),
		"PidFile " + filepath.Join(s.Dir, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(s.Dir, "authorized_keys"),
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
	cmd := exec.Command(sshdPath, "-D", "-f", config, "-E", s.Log)
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
		if banner(s.Port) {
			s.PID = cmd.Process.Pid
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
func (s *SSHD) stop(tb testing.TB, cmd *exec.Cmd, exited chan struct{}) {
	for _, pid := range Descendants(s.PID) {
		if Comm(pid) == "sshd" {
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
		if log, err := os.ReadFile(s.Log); err == nil {
			tb.Logf("sshd log:\n%s", log)
		}
	}
}

// WriteKnownHosts writes a known_hosts file name in s.Dir listing key for
// [127.0.0.1]:port and returns its path.
func (s *SSHD) WriteKnownHosts(tb testing.TB, name string, port int, key xssh.PublicKey) string {
	tb.Helper()
	path := filepath.Join(s.Dir, name)
	line := knownhosts.Line([]string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}, key)
	require.NoError(tb, os.WriteFile(path, []byte(line+"\n"), 0o644))
	return path
}

// WriteKey generates an ed25519 key, writes its private half in OpenSSH
// format to path and returns the public half.
func WriteKey(tb testing.TB, path string) ed25519.PublicKey {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(tb, err)
	block, err := xssh.MarshalPrivateKey(priv, "prox test")
	require.NoError(tb, err)
	require.NoError(tb, os.WriteFile(path, pem.EncodeToMemory(block), 0o600))
	return pub
}

// Connections returns the sshd processes serving connections: the
// listener's children.
func (s *SSHD) Connections() []int {
	return Children(s.PID)
}

// Logins returns the connections on which user has logged in.
func (s *SSHD) Logins(user string) []int {
	var out []int
	for _, pid := range s.Connections() {
		if strings.HasPrefix(Cmdline(pid), "sshd: "+user+" [priv]") {
			out = append(out, pid)
		}
	}
	return out
}

// ConnectionOf returns the sshd processes between the listener and pid:
// the ones serving pid's connection.
func (s *SSHD) ConnectionOf(tb testing.TB, pid int) []int {
	tb.Helper()
	var chain []int
	for p := pid; ; {
		st, ok := ReadStat(p)
		require.True(tb, ok, "process %d vanished", p)
		if st.PPID == s.PID {
			return append(chain, p)
		}
		require.NotEqual(tb, 1, st.PPID, "process %d is not served by sshd %d", pid, s.PID)
		if Comm(st.PPID) == "sshd" {
			chain = append(chain, st.PPID)
		}
		p = st.PPID
	}
}
