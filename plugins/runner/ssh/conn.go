package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// ErrConnectionLost means the SSH connection a process ran over ended
// before the process's exit status arrived: the outcome is unknown. The
// remote watchdog kills the process's group once the server notices.
var ErrConnectionLost = errors.New("ssh connection lost")

// keepaliveMisses is how many keepalive intervals a reply may take before
// the connection is declared lost (OpenSSH's ServerAliveCountMax).
const keepaliveMisses = 3

// controlOutputLimit bounds what a control command's output may occupy.
const controlOutputLimit = 64 << 10

// conn is the runner's SSH connection, shared by all its processes: one
// session per process, and short-lived ones for control commands.
type conn struct {
	client *xssh.Client
	s      *settings

	mu     sync.Mutex
	reason error // why the connection ended; set once

	done chan struct{} // closed when the connection has ended

	// openMu serialises opening sessions, so that sessions is exact when
	// the server refuses one. sessions counts the sessions open on the
	// connection (processes, control commands, exec checks). full is set
	// when the server refused a session (sshd's MaxSessions) and cleared
	// when one ends: meanwhile the runner starts processes on another
	// connection.
	openMu   sync.Mutex
	sessions atomic.Int32
	full     atomic.Bool
}

// errNoSessions means the server refused a session on a connection that
// had none open: more connections would not help.
var errNoSessions = errors.New("the server allows no session at all")

// dial connects and authenticates to the configured server. ctx and
// connect_timeout bound the whole of it.
func dial(ctx context.Context, s *settings, log hclog.Logger) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.connectTimeout)
	defer cancel()

	hostKey := xssh.InsecureIgnoreHostKey()
	var algos []string
	if !s.insecure {
		var err error
		if hostKey, algos, err = hostKeyCheck(s.knownHosts, s.addr); err != nil {
			return nil, err
		}
	}

	signers := []xssh.Signer{}
	if s.identity != nil {
		signers = append(signers, s.identity)
	}
	if s.agentSock != "" {
		agentConn, err := (&net.Dialer{}).DialContext(ctx, "unix", s.agentSock)
		if err != nil {
			log.Warn("ssh-agent unreachable; not using it", "socket", s.agentSock, "error", err)
		} else {
			defer agentConn.Close()
			keys, err := agent.NewClient(agentConn).Signers()
			if err != nil {
				log.Warn("cannot list the ssh-agent's keys; not using it", "socket", s.agentSock, "error", err)
			}
			signers = append(signers, keys...)
		}
	}
	if len(signers) == 0 {
		return nil, errors.New("no key to authenticate with: identity_file is not set and the ssh-agent offers none")
	}

	cfg := &xssh.ClientConfig{
		User: s.user,
		// All keys in one method: x/crypto tries each method name once.
		Auth:              []xssh.AuthMethod{xssh.PublicKeys(signers...)},
		HostKeyCallback:   hostKey,
		HostKeyAlgorithms: algos,
	}
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", s.addr, err)
	}
	// The handshake has no context: a deadline on the socket bounds it,
	// and cancelling ctx moves the deadline to now.
	deadline, _ := ctx.Deadline()
	_ = nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	c, chans, reqs, err := xssh.NewClientConn(nc, s.addr, cfg)
	if cancelled := !stop(); cancelled || err != nil {
		_ = nc.Close()
		switch {
		case cancelled && err == nil:
			err = ctx.Err()
		case cancelled:
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return nil, fmt.Errorf("ssh handshake with %s as %s: %w", s.addr, s.user, err)
	}
	_ = nc.SetDeadline(time.Time{})

	cn := &conn{client: xssh.NewClient(c, chans, reqs), s: s, done: make(chan struct{})}
	go cn.watch()
	go cn.keepalive(s.keepalive)
	return cn, nil
}

// watch publishes the end of the connection.
func (c *conn) watch() {
	err := c.client.Wait()
	if err == nil || errors.Is(err, io.EOF) {
		err = errors.New("closed by the server")
	}
	c.mu.Lock()
	if c.reason == nil {
		c.reason = err
	}
	c.mu.Unlock()
	close(c.done)
}

// lose closes the connection, recording why unless a reason is known.
func (c *conn) lose(reason error) {
	c.mu.Lock()
	if c.reason == nil {
		c.reason = reason
	}
	c.mu.Unlock()
	_ = c.client.Close()
}

// alive reports whether the connection has not ended.
func (c *conn) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// lostErr is the error of an operation that failed because the connection
// ended.
func (c *conn) lostErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason == nil {
		return ErrConnectionLost
	}
	return fmt.Errorf("%w: %w", ErrConnectionLost, c.reason)
}

// keepalive sends a keepalive request every interval and closes the
// connection when one stays unanswered for keepaliveMisses intervals.
func (c *conn) keepalive(interval time.Duration) {
	if interval <= 0 {
		return
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-ticker.C:
		}
		replied := make(chan error, 1)
		go func() {
			// OpenSSH answers with a failure; any answer proves liveness.
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			replied <- err
		}()
		timeout := time.NewTimer(keepaliveMisses * interval)
		select {
		case err := <-replied:
			timeout.Stop()
			if err != nil {
				c.lose(fmt.Errorf("keepalive: %w", err))
				return
			}
		case <-timeout.C:
			c.lose(fmt.Errorf("no answer to keepalive for %s", keepaliveMisses*interval))
			return
		case <-c.done:
			timeout.Stop()
			return
		}
	}
}

// open runs line in a new session, which counts in c.sessions until the
// caller calls ended. A refusal marks the connection full; when no other
// session was open, the error also wraps errNoSessions.
func (c *conn) open(line string) (*session, error) {
	c.openMu.Lock()
	defer c.openMu.Unlock()
	s, err := openSession(c.client, line)
	switch {
	case err == nil:
		c.sessions.Add(1)
		return s, nil
	case !c.alive():
		return nil, c.lostErr()
	case errors.Is(err, errSessionRefused):
		c.full.Store(true)
		if c.sessions.Load() == 0 {
			err = fmt.Errorf("%w: %w", errNoSessions, err)
		}
	}
	return nil, err
}

// ended records the end of a session open returned, once the server has
// closed it too (s.closed): the connection has room for another.
func (c *conn) ended() {
	c.sessions.Add(-1)
	c.full.Store(false)
}

// endedWhenClosed calls ended once the server has closed s, which the
// caller has closed or will close.
func (c *conn) endedWhenClosed(s *session) {
	go func() {
		<-s.closed
		c.ended()
	}()
}

// controlResult is the outcome of a control command.
type controlResult struct {
	status *exitStatus
	stdout string
	stderr string
}

// run runs a short control command in its own session, with empty
// standard input, and returns its exit status, standard output and
// standard error (the first controlOutputLimit bytes of each). ctx
// bounds it; connect_timeout bounds it too.
func (c *conn) run(ctx context.Context, line string) (*controlResult, error) {
	ctx, cancel := context.WithTimeout(ctx, c.s.connectTimeout)
	defer cancel()
	s, err := c.open(line)
	if err != nil {
		return nil, err
	}
	defer c.ended()
	defer s.ch.Close()
	stop := context.AfterFunc(ctx, func() { _ = s.ch.Close() })
	defer stop()
	s.closeInput()

	var stdout, stderr limitedBuffer
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(&stdout, s.ch) })
	wg.Go(func() { _, _ = io.Copy(&stderr, s.ch.Stderr()) })
	wg.Wait()
	<-s.closed
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("control command: %w", err)
	}
	st := s.status()
	if st == nil {
		if !c.alive() {
			return nil, c.lostErr()
		}
		return nil, errors.New("control command ended without an exit status")
	}
	return &controlResult{status: st, stdout: stdout.String(), stderr: stderr.String()}, nil
}

// limitedBuffer keeps the first controlOutputLimit bytes written to it and
// discards the rest.
type limitedBuffer struct {
	bytes.Buffer
}

// Write implements io.Writer; it never fails.
func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := controlOutputLimit - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
