package ssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestHostKeyMismatchRefused(t *testing.T) {
	srv := startSSHD(t)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	other, err := xssh.NewPublicKey(pub)
	require.NoError(t, err)
	cfg := srv.config(testUser)
	cfg["known_hosts"] = srv.WriteKnownHosts(t, "wrong_known_hosts", srv.Port, other)

	r := newTestRunner(t, cfg)
	_, err = r.Start(context.Background(), &sdk.ProcessConfig{Name: "web", Command: []string{"true"}})
	require.ErrorIs(t, err, ErrHostKeyMismatch)
	msg := err.Error()
	assert.Contains(t, msg, "host key mismatch")
	assert.Contains(t, msg, xssh.FingerprintSHA256(srv.HostKey), "names the key presented")
	assert.Contains(t, msg, xssh.FingerprintSHA256(other), "names the key expected")
	assert.Contains(t, msg, "intercepted")
	// The client hung up before authenticating.
	require.Eventually(t, func() bool { return len(srv.Connections()) == 0 }, waitFor, tick)
	log, err := os.ReadFile(srv.Log)
	require.NoError(t, err)
	assert.NotContains(t, string(log), "Accepted publickey")
}

func TestUnknownHostKeyRefused(t *testing.T) {
	srv := startSSHD(t)
	for name, knownHosts := range map[string]string{
		// The right key, for another port: [127.0.0.1]:PORT is unknown.
		"other host": srv.WriteKnownHosts(t, "other_known_hosts", srv.Port+1, srv.HostKey),
		"empty file": filepath.Join(srv.Dir, "empty_known_hosts"),
	} {
		t.Run(name, func(t *testing.T) {
			if name == "empty file" {
				require.NoError(t, os.WriteFile(knownHosts, nil, 0o644))
			}
			cfg := srv.config(testUser)
			cfg["known_hosts"] = knownHosts
			r := newTestRunner(t, cfg)
			_, err := r.Start(context.Background(), &sdk.ProcessConfig{Name: "web", Command: []string{"true"}})
			require.ErrorIs(t, err, ErrUnknownHostKey)
			assert.Contains(t, err.Error(), "host key is unknown")
			assert.Contains(t, err.Error(), xssh.FingerprintSHA256(srv.HostKey))
			assert.Contains(t, err.Error(), knownHosts)
		})
	}
}

func TestInsecureIgnoreHostKey(t *testing.T) {
	srv := startSSHD(t)
	cfg := srv.config(testUser)
	cfg["known_hosts"] = "/nonexistent/known_hosts"
	cfg["insecure_ignore_host_key"] = true
	r := newTestRunner(t, cfg)
	p := start(t, r, &sdk.ProcessConfig{Command: []string{"echo", "unverified"}})
	assert.Equal(t, "unverified\n", p.stdout.all(t))
	require.NoError(t, p.wait(t))
}

func TestAuthenticationFailure(t *testing.T) {
	srv := startSSHD(t)
	cfg := srv.config(testUser)
	stranger := filepath.Join(srv.Dir, "stranger")
	writeKey(t, stranger)
	cfg["identity_file"] = stranger
	r := newTestRunner(t, cfg)
	_, err := r.Start(context.Background(), &sdk.ProcessConfig{Name: "web", Command: []string{"true"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unable to authenticate")
	assert.Contains(t, err.Error(), testUser)
}

func TestAgentAuthentication(t *testing.T) {
	srv := startSSHD(t)
	// A real agent protocol server holding the authorized key.
	keyBytes, err := os.ReadFile(srv.Identity)
	require.NoError(t, err)
	key, err := xssh.ParseRawPrivateKey(keyBytes)
	require.NoError(t, err)
	keyring := agent.NewKeyring()
	require.NoError(t, keyring.Add(agent.AddedKey{PrivateKey: key}))
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = agent.ServeAgent(keyring, c)
			}()
		}
	}()

	cfg := srv.config(testUser)
	delete(cfg, "identity_file")
	delete(cfg, "use_agent") // the default: on, since SSH_AUTH_SOCK is set
	r := newTestRunnerEnv(t, cfg, map[string]string{agentSockEnv: sock})
	p := start(t, r, &sdk.ProcessConfig{Command: []string{"echo", "via agent"}})
	assert.Equal(t, "via agent\n", p.stdout.all(t))
	require.NoError(t, p.wait(t))
}

// TestConnectionDropped kills the sshd processes serving the runner's
// connection: the process's Wait reports the loss, its remote group dies
// (the watchdog), and the next Start reconnects.
func TestConnectionDropped(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	p := start(t, r, &sdk.ProcessConfig{Command: sh("sleep 310 & echo ready; exec sleep 311")})
	require.Eventually(t, func() bool { return p.stdout.contains("ready\n") }, waitFor, tick)
	group := waitForGroup(t, p.PID(), "sleep 310", "sleep 311")
	lost := p.conn

	// The server's processes of this connection, the session's first: once
	// one is killed the others may end by themselves before their turn.
	for i, pid := range srv.ConnectionOf(t, p.PID()) {
		if err := syscall.Kill(pid, syscall.SIGKILL); i == 0 || !errors.Is(err, syscall.ESRCH) {
			require.NoError(t, err, "kill sshd process %d", pid)
		}
	}
	err := p.wait(t)
	require.ErrorIs(t, err, ErrConnectionLost)
	assert.Contains(t, err.Error(), "ssh connection lost")
	require.Eventually(t, func() bool { return allGone(group) }, waitFor, tick, "the watchdog killed the remote group")
	// Signalling a process whose connection is gone is not an error.
	require.NoError(t, p.Signal(syscall.SIGTERM))

	q := start(t, r, &sdk.ProcessConfig{Command: []string{"echo", "reconnected"}})
	assert.Equal(t, "reconnected\n", q.stdout.all(t))
	require.NoError(t, q.wait(t))
	assert.NotSame(t, lost, q.conn)
}

// TestKeepaliveDetectsSilentConnection: the network between runner and
// server goes silent without closing; the keepalives notice.
func TestKeepaliveDetectsSilentConnection(t *testing.T) {
	srv := startSSHD(t)
	px := startProxy(t, srv.Port)
	cfg := srv.config(testUser)
	cfg["port"] = px.port
	cfg["known_hosts"] = srv.WriteKnownHosts(t, "proxy_known_hosts", px.port, srv.HostKey)
	cfg["keepalive"] = "250ms"
	r := newTestRunner(t, cfg)
	p := start(t, r, &sdk.ProcessConfig{Command: sh("echo ready; exec sleep 312")})
	require.Eventually(t, func() bool { return p.stdout.contains("ready\n") }, waitFor, tick)
	group := waitForGroup(t, p.PID(), "sleep 312")

	px.freeze()
	err := p.wait(t)
	require.ErrorIs(t, err, ErrConnectionLost)
	assert.Contains(t, err.Error(), "no answer to keepalive")
	// Closing the dead connection reached the server through the proxy.
	require.Eventually(t, func() bool { return allGone(group) }, waitFor, tick)

	px.thaw()
	q := start(t, r, &sdk.ProcessConfig{Command: []string{"echo", "back"}})
	assert.Equal(t, "back\n", q.stdout.all(t))
	require.NoError(t, q.wait(t))
}

func TestConnectFailureBacksOff(t *testing.T) {
	port := freePort(t) // nothing listens there
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	writeKey(t, key)
	knownHosts := filepath.Join(dir, "known_hosts")
	require.NoError(t, os.WriteFile(knownHosts, nil, 0o644))
	r := newTestRunner(t, runnerConfig{"host": "127.0.0.1", "port": port, "user": "u", "identity_file": key, "known_hosts": knownHosts, "use_agent": false})

	_, err := r.Start(context.Background(), &sdk.ProcessConfig{Name: "web", Command: []string{"true"}})
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	r.mu.Lock()
	failures, retryAt := r.failures, r.retryAt
	r.mu.Unlock()
	assert.Equal(t, 1, failures)
	assert.False(t, retryAt.IsZero(), "the next attempt is delayed")

	// A Start whose context ends during the backoff gives up waiting.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = r.Start(ctx, &sdk.ProcessConfig{Name: "web", Command: []string{"true"}})
	require.ErrorIs(t, err, context.Canceled)
}

func TestBackoffSchedule(t *testing.T) {
	var got []string
	for f := 0; f <= 9; f++ {
		got = append(got, backoff(f).String())
	}
	assert.Equal(t, "0s 500ms 1s 2s 4s 8s 16s 30s 30s 30s", strings.Join(got, " "))
}
