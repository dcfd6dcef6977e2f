package ssh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
)

// lostGrace bounds how long a process whose channel closed without an exit
// status waits to learn whether the connection ended: x/crypto closes the
// channels of a dead connection just before it reports the connection's
// end.
const lostGrace = 5 * time.Second

// outputBuffer is the size of the buffer in front of standard output (it
// holds what follows the marker line in the same read).
const outputBuffer = 64 << 10

// Process is a remote process started by Runner.Start: the leader of its
// own process group on the remote host. All methods are safe for
// concurrent use.
type Process struct {
	pgid   int
	conn   *conn
	sess   *session
	stdout *bufio.Reader
	stderr io.Reader
	log    hclog.Logger
	// env and dir are the process's exported environment and working
	// directory, for the commands Exec runs beside it.
	env [][2]string
	dir string
	// connect gives another connection to the process's server, for a
	// control command its own connection has no session for (Stats).
	connect func(context.Context) (*conn, error)

	done chan struct{} // closed once err is set
	err  error
}

var _ sdk.Process = (*Process)(nil)

// startProcess runs line on c and reads the marker. ctx and connect_timeout
// bound the start (a login script that hangs must not hang Start); when
// either ends it, the session is closed, which kills the remote group.
func startProcess(ctx context.Context, c *conn, line, nonce, command string, log hclog.Logger) (*Process, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.s.connectTimeout)
	defer cancel()
	sess, err := c.open(line)
	if err != nil {
		return nil, err
	}
	// The session counts until the process's watch ends or, when the
	// start fails, until the server has closed it.
	started := false
	defer func() {
		if !started {
			c.endedWhenClosed(sess)
		}
	}()
	stop := context.AfterFunc(ctx, func() { _ = sess.ch.Close() })
	stdout := bufio.NewReaderSize(sess.ch, outputBuffer)
	pgid, discarded, err := readMarker(stdout, nonce)
	if !stop() {
		_ = sess.ch.Close()
		if parent.Err() == nil {
			return nil, fmt.Errorf("the remote command did not start within connect_timeout (%s): %w", c.s.connectTimeout, ctx.Err())
		}
		return nil, ctx.Err()
	}
	if discarded > 0 {
		log.Warn("discarded output printed before the command started (a login script?)", "bytes", discarded)
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = notStarted(ctx, c, sess, command)
		} else {
			err = fmt.Errorf("read the remote process group ID: %w", err)
		}
		_ = sess.ch.Close()
		return nil, err
	}
	p := &Process{
		pgid:   pgid,
		conn:   c,
		sess:   sess,
		stdout: stdout,
		stderr: sess.ch.Stderr(),
		log:    log.With("pgid", pgid),
		done:   make(chan struct{}),
	}
	started = true
	go p.watch()
	return p, nil
}

// notStarted explains why the wrapper ended before printing the marker,
// from its exit status and standard error.
func notStarted(ctx context.Context, c *conn, sess *session, command string) error {
	var stderr limitedBuffer
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&stderr, sess.ch.Stderr())
		close(copied)
	}()
	select {
	case <-copied:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-sess.closed:
	case <-ctx.Done():
		return ctx.Err()
	}
	msg := strings.TrimSpace(stderr.String())
	st := sess.status()
	switch {
	case st == nil && !c.alive():
		return c.lostErr()
	case st == nil:
		return fmt.Errorf("%w without an exit status: %s", errNoMarker, msg)
	case st.signal == "" && st.code == exitNotFound:
		return fmt.Errorf("remote command %q: %w", command, osexec.ErrNotFound)
	case st.signal == "" && st.code == exitDirFailed:
		return fmt.Errorf("remote working directory: %s", msg)
	default:
		return fmt.Errorf("%w (%v): %s", errNoMarker, st.err(), msg)
	}
}

// watch waits for the session to end and publishes the result.
func (p *Process) watch() {
	<-p.sess.closed
	_ = p.sess.ch.Close()
	if st := p.sess.status(); st != nil {
		p.err = st.err()
	} else {
		timer := time.NewTimer(lostGrace)
		select {
		case <-p.conn.done:
			p.err = p.conn.lostErr()
		case <-timer.C:
			p.err = errors.New("the remote process ended without an exit status")
		}
		timer.Stop()
	}
	p.conn.ended()
	close(p.done)
}

// PID returns the remote process's PID, which is also its process group
// ID, on the remote host.
func (p *Process) PID() int { return p.pgid }

// Stdout returns the remote process's standard output. It returns io.EOF
// once the remote side closed it (every process of the group is gone) or
// the connection ended.
func (p *Process) Stdout() io.Reader { return p.stdout }

// Stderr returns the remote process's standard error, like Stdout.
func (p *Process) Stderr() io.Reader { return p.stderr }

// Wait blocks until the session of the process has ended: the process has
// exited and the rest of its group was killed. It returns nil for exit
// code 0, an *sdk.ExitError for another code or a terminating signal, and
// an error wrapping ErrConnectionLost when the connection ended before the
// exit status arrived. Every call returns the same result.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// exited reports whether the process's leader is known to have exited.
func (p *Process) exited() bool {
	if p.sess.hasExited() {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal delivers sig to the remote process group: `kill -s SIG -- -PGID`
// in a second session on the connection, which works whatever the server
// thinks of SSH signal requests (OpenSSH ignores them for root). When the
// server refuses another session (MaxSessions), the signal's name goes to
// the process's watchdog instead, which runs the same kill. For SIGKILL
// the runner first ends the session's standard input, on which the
// watchdog kills the group at once. Signalling a process that has exited
// is not an error.
func (p *Process) Signal(sig os.Signal) error {
	name, err := sdk.SignalName(sig)
	if err != nil {
		return err
	}
	name = strings.TrimPrefix(name, "SIG")
	if p.exited() {
		return nil
	}
	if sig == syscall.SIGKILL {
		// Ending standard input makes the watchdog SIGKILL the group at
		// once, without waiting for a session and a login shell; the kill
		// below confirms it.
		p.sess.closeInput()
	}
	res, err := p.conn.run(context.Background(), fmt.Sprintf("kill -s %s -- -%d", name, p.pgid))
	if errors.Is(err, errSessionRefused) {
		return p.signalThroughWatchdog(name)
	}
	if err != nil {
		if p.exited() {
			return nil
		}
		return fmt.Errorf("signal remote process group %d: %w", p.pgid, err)
	}
	if res.status.code == 0 && res.status.signal == "" {
		return nil
	}
	if p.exited() || strings.Contains(strings.ToLower(res.stderr), "no such process") {
		// The group is gone; its session is about to end.
		return nil
	}
	return fmt.Errorf("signal remote process group %d: kill %s: %s", p.pgid, res.status.err(), strings.TrimSpace(res.stderr))
}

// signalThroughWatchdog hands the signal's name to the watchdog.
func (p *Process) signalThroughWatchdog(name string) error {
	p.log.Debug("no session for kill; signalling through the watchdog", "signal", name)
	if err := p.sess.writeInput(name + "\n"); err != nil {
		if p.exited() {
			return nil
		}
		if !p.conn.alive() {
			return fmt.Errorf("signal remote process group %d: %w", p.pgid, p.conn.lostErr())
		}
		return fmt.Errorf("signal remote process group %d through its watchdog: %w", p.pgid, err)
	}
	return nil
}

// kill ends the process's session, which makes the watchdog SIGKILL the
// group, for when no control command can run.
func (p *Process) kill() {
	_ = p.sess.ch.Close()
}
