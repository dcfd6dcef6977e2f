// Package ssh is prox's ssh runner: it runs each process on a remote host
// over SSH, with its standard output and standard error kept apart, and
// controls it as a remote process group.
//
// A runner block names one server:
//
//	runner "ssh" "staging" {
//	  host          = "staging.example.com"
//	  user          = "deploy"
//	  identity_file = "~/.ssh/id_ed25519"
//	}
//
// The server's host key is verified against known_hosts; an unknown or
// changed key is refused. A runner opens a connection on the first Start
// and runs one session per process over it; when the server refuses
// another session (sshd's MaxSessions, 10 by default), the runner opens
// another connection, so a runner block is not limited to MaxSessions
// processes. A connection that refused a session is used again once one of
// its processes has ended. Keepalives detect a dead connection. When a
// connection drops, the Wait of each of its processes returns an error
// wrapping ErrConnectionLost, and the next Start reconnects (after a
// backoff when connecting keeps failing).
//
// Each remote process leads its own process group, whose ID the runner
// learns from a marker line before the command starts (see remoteLine).
// Signals reach the whole group through `kill` run in a second session,
// which also works for root logins, where OpenSSH ignores SSH signal
// requests. A watchdog in the group holds the session's standard input and
// SIGKILLs the group when it ends: when the leader exits (no straggler
// outlives it), when the runner shuts down, when the connection drops or
// the plugin dies. So no remote process survives its session. A network
// partition the server does not notice delays this until sshd notices
// (ClientAliveInterval on the server bounds that).
//
// Exec (prox's exec health checks) runs a command where a process runs: in
// a new session on the same connection, wrapped like a process (same
// directory and environment, its own group, killed when the context ends).
//
// Stats (prox top, /metrics) read the process group's CPU time and
// resident memory from the remote /proc, in a short control session on
// the process's connection: a remote host without /proc has none.
//
// The remote user's login shell must be a POSIX shell, and the host must
// have /bin/sh.
package ssh

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
)

const (
	// Name is the runner's kind in prox.hcl.
	Name = "ssh"
	// Version is the runner's version.
	Version = "0.1.0"
)

// shutdownTimeout bounds how long Shutdown waits for killed processes'
// sessions to end.
const shutdownTimeout = 5 * time.Second

// Reconnection backoff: after a failed attempt to connect, the next one
// waits backoffMin, doubling with each further failure up to backoffMax.
const (
	backoffMin = 500 * time.Millisecond
	backoffMax = 30 * time.Second
)

var (
	_ sdk.Runner       = (*Runner)(nil)
	_ sdk.Configurable = (*Runner)(nil)
	_ sdk.Shutdowner   = (*Runner)(nil)
	_ sdk.Execer       = (*Runner)(nil)
)

// Runner starts processes on one SSH server. It is safe for concurrent
// use. The zero value is not usable; call New, then Configure.
type Runner struct {
	log    hclog.Logger
	getenv func(string) string

	// dialing is a one-slot semaphore: one connection attempt at a time.
	dialing chan struct{}

	mu       sync.Mutex
	settings *settings
	conns    []*conn               // opened in order; the dead ones are dropped
	procs    map[*Process]struct{} // started, session not yet ended
	shut     bool
	failures int       // consecutive failed connection attempts
	retryAt  time.Time // no attempt before this, after a failure
}

// New returns an unconfigured Runner that logs JSON to standard error.
func New() *Runner {
	return newRunner(hclog.New(&hclog.LoggerOptions{Name: Name, JSONFormat: true, Output: os.Stderr}))
}

func newRunner(log hclog.Logger) *Runner {
	return &Runner{
		log:     log,
		getenv:  os.Getenv,
		dialing: make(chan struct{}, 1),
		procs:   make(map[*Process]struct{}),
	}
}

// ConfigSchema returns the schema of the runner block.
func (r *Runner) ConfigSchema() *sdk.Schema { return schema }

// Configure validates the runner block: the identity file and known_hosts
// are read now, so that a mistake fails the start of prox. It connects
// nothing; the first Start does.
func (r *Runner) Configure(cfg *sdk.Config) error {
	s, err := parseConfig(cfg, r.getenv)
	if err != nil {
		return fmt.Errorf("ssh runner: %w", err)
	}
	if s.insecure {
		r.log.Warn("insecure_ignore_host_key is set: the server's identity is not verified, the connection may be intercepted", "addr", s.addr)
	}
	r.mu.Lock()
	r.settings = s
	r.mu.Unlock()
	return nil
}

// Start runs cfg.Command (an argv, no shell implied) on the server, in
// cfg.Dir when set (else the login directory), with the variables of
// cfg.Env that remoteEnv selects exported on top of the login environment.
// It returns once the remote command runs, its process group ID known; a
// command that cannot be found, or a directory that cannot be entered,
// fails the start. ctx bounds connecting and starting.
func (r *Runner) Start(ctx context.Context, cfg *sdk.ProcessConfig) (sdk.Process, error) {
	p, err := r.start(ctx, cfg)
	if err != nil {
		return nil, err // the cause: prox names the process
	}
	return p, nil
}

func (r *Runner) start(ctx context.Context, cfg *sdk.ProcessConfig) (*Process, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, errors.New("command is required")
	}
	env, skipped := remoteEnv(cfg.Env)
	if len(skipped) > 0 {
		r.log.Trace("environment not exported to the remote host", "process", cfg.Name, "names", strings.Join(skipped, ","))
	}
	nonce, err := newNonce()
	if err != nil {
		return nil, err
	}
	line := remoteLine(cfg.Command, env, cfg.Dir, nonce)

	var p *Process
	for {
		c, err := r.connection(ctx)
		if err != nil {
			return nil, err
		}
		p, err = startProcess(ctx, c, line, nonce, cfg.Command[0], r.log.With("process", cfg.Name))
		if errors.Is(err, errSessionRefused) && !errors.Is(err, errNoSessions) {
			// This connection holds as many sessions as the server allows:
			// the next one is on another connection.
			r.log.Debug("the server refused another session on this connection; using another", "sessions", c.sessions.Load())
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	p.env, p.dir, p.connect = env, cfg.Dir, r.connection
	r.mu.Lock()
	shut := r.shut
	if !shut {
		r.procs[p] = struct{}{}
	}
	r.mu.Unlock()
	if shut {
		// Shutdown ran while the process was starting.
		p.kill()
		return nil, errors.New("runner is shut down")
	}
	go func() {
		<-p.done
		r.mu.Lock()
		delete(r.procs, p)
		r.mu.Unlock()
	}()
	return p, nil
}

// connection returns a live connection that has not refused a session
// since its last process ended, connecting when there is none.
func (r *Runner) connection(ctx context.Context) (*conn, error) {
	select {
	case r.dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-r.dialing }()

	r.mu.Lock()
	r.conns = slices.DeleteFunc(r.conns, func(c *conn) bool { return !c.alive() })
	s, shut, retryAt := r.settings, r.shut, r.retryAt
	var room *conn
	for _, c := range r.conns {
		if !c.full.Load() {
			room = c
			break
		}
	}
	r.mu.Unlock()
	switch {
	case shut:
		return nil, errors.New("runner is shut down")
	case s == nil:
		return nil, errors.New("runner is not configured")
	case room != nil:
		return room, nil
	}
	if wait := time.Until(retryAt); wait > 0 {
		r.log.Debug("waiting before reconnecting", "addr", s.addr, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("waiting to reconnect to %s: %w", s.addr, ctx.Err())
		}
	}

	c, err := dial(ctx, s, r.log)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failures++
		r.retryAt = time.Now().Add(backoff(r.failures))
		return nil, err
	}
	r.failures, r.retryAt = 0, time.Time{}
	if r.shut {
		c.lose(errShutDown)
		return nil, errors.New("runner is shut down")
	}
	r.conns = append(r.conns, c)
	r.log.Info("connected", "addr", s.addr, "user", s.user, "connections", len(r.conns))
	go func() {
		<-c.done
		if err := c.lostErr(); errors.Is(err, errShutDown) {
			r.log.Debug("connection closed", "addr", s.addr) // a normal stop
		} else {
			r.log.Warn("connection ended", "addr", s.addr, "error", err)
		}
	}()
	return c, nil
}

// errShutDown is why Shutdown closes the connections: a normal stop, not
// a lost connection.
var errShutDown = errors.New("runner shut down")

// backoff is the wait before the next connection attempt after failures
// consecutive failed ones.
func backoff(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := backoffMin
	for i := 1; i < failures && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}

// Shutdown kills the process group of every process whose session has not
// ended, waits (up to 5 seconds) for their sessions to end, and closes the
// connections; closing them ends the remote watchdogs' input, so a group
// that could not be killed by command is killed by its watchdog. Later
// Starts fail.
func (r *Runner) Shutdown() error {
	r.mu.Lock()
	r.shut = true
	conns := slices.Clone(r.conns)
	procs := make([]*Process, 0, len(r.procs))
	for p := range r.procs {
		procs = append(procs, p)
	}
	r.mu.Unlock()
	if len(conns) == 0 {
		return nil
	}
	defer func() {
		for _, c := range conns {
			c.lose(errShutDown)
		}
	}()

	var errs []error
	if len(procs) > 0 {
		// One kill command for all the groups, on any live connection: a
		// group is the server's, whichever connection started it.
		var line strings.Builder
		for _, p := range procs {
			fmt.Fprintf(&line, "kill -s KILL -- -%d 2>/dev/null; ", p.pgid)
		}
		line.WriteString("exit 0")
		err := errors.New("no live connection")
		for _, c := range conns {
			if c.alive() {
				if _, err = c.run(context.Background(), line.String()); err == nil {
					break
				}
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("shutdown: kill remote process groups: %w", err))
			for _, p := range procs {
				p.kill()
			}
		}
	}
	deadline := time.NewTimer(shutdownTimeout)
	defer deadline.Stop()
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline.C:
			errs = append(errs, fmt.Errorf("shutdown: remote process group %d still running after %s", p.pgid, shutdownTimeout))
			return errors.Join(errs...)
		}
	}
	return errors.Join(errs...)
}
