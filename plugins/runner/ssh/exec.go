package ssh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// execOutputLimit bounds the combined output an Exec returns: the first
// 64 KiB are kept, the rest is read and dropped.
const execOutputLimit = 64 << 10

// errNotRunning means Exec was asked to run a command beside a process
// that has exited.
var errNotRunning = errors.New("the process has exited")

// Exec runs command (an argv, no shell implied) where p runs: in a new
// session on the connection p runs over (or, when the server refuses
// another session on it, on another connection to the same server), as
// the same user, in p's working
// directory, with the login environment plus the variables Start exported
// for p (nothing of the plugin's own environment). Every argument reaches
// the remote shell single-quoted, as for Start.
//
// It returns the command's exit code (128+N when signal N killed it) and
// its standard output and standard error combined in the order they were
// written, shortened to their first 64 KiB. A command that cannot be
// found exits 127, and a working directory that cannot be entered 125,
// with the shell's message as output.
//
// The command leads a process group of its own, watched like a process's
// (see the package documentation): when it exits, what is left of its
// group is killed. When ctx ends first, the whole group is killed
// (SIGKILL) and Exec returns an error wrapping ctx.Err(). Exec fails when
// p has exited, or when p is not a process of this runner. It may be
// called concurrently; each call takes a session for as long as the
// command runs.
func (r *Runner) Exec(ctx context.Context, p sdk.Process, command []string) (sdk.ExecResult, error) {
	proc, ok := p.(*Process)
	if !ok {
		return sdk.ExecResult{}, fmt.Errorf("exec: %T is not a process of the ssh runner", p)
	}
	if len(command) == 0 || command[0] == "" {
		return sdk.ExecResult{}, errors.New("exec: command is required")
	}
	if proc.exited() {
		return sdk.ExecResult{}, fmt.Errorf("exec %q beside remote process group %d: %w", command[0], proc.pgid, errNotRunning)
	}
	res, err := proc.exec(ctx, proc.conn, command)
	if errors.Is(err, errSessionRefused) {
		// Its connection holds all the sessions the server allows: the
		// command runs on the same host over another one.
		var c *conn
		if c, err = r.connection(ctx); err == nil {
			res, err = proc.exec(ctx, c, command)
		}
	}
	if err != nil {
		return sdk.ExecResult{}, fmt.Errorf("exec %q beside remote process group %d: %w", command[0], proc.pgid, err)
	}
	return res, nil
}

// exec runs argv in a new session on c, a connection to p's server (see
// Runner.Exec).
func (p *Process) exec(ctx context.Context, c *conn, argv []string) (sdk.ExecResult, error) {
	if err := ctx.Err(); err != nil {
		return sdk.ExecResult{}, err
	}
	nonce, err := newNonce()
	if err != nil {
		return sdk.ExecResult{}, err
	}
	// The wrapper of a process, with its standard error joined to its
	// standard output at the source, so that the order is kept.
	line := remoteLine(argv, p.env, p.dir, nonce) + " 2>&1"
	sess, err := c.open(line)
	if err != nil {
		return sdk.ExecResult{}, err
	}
	// When ctx ends: ending the session's input makes the watchdog SIGKILL
	// the command's group; closing the channel ends the session (and the
	// input, should the end of input not reach the server).
	kill := func() {
		sess.closeInput()
		_ = sess.ch.Close()
	}
	stop := context.AfterFunc(ctx, kill)
	defer stop()

	// The session is read in the background: on a connection that went
	// silent, reads end only once the keepalive gives up, and Exec must
	// not outlast ctx.
	outcome := make(chan execOutcome, 1)
	go func() {
		defer c.endedWhenClosed(sess)
		defer sess.ch.Close()
		res, err := p.collect(c, sess, nonce)
		outcome <- execOutcome{res, err}
	}()
	select {
	case o := <-outcome:
		if !stop() {
			// ctx ended as the command ended: it may have been killed.
			return sdk.ExecResult{}, fmt.Errorf("the command did not finish: %w", ctx.Err())
		}
		return o.res, o.err
	case <-ctx.Done():
		// Done is closed before AfterFunc starts kill: stop may still
		// prevent it, so kill here too (it may run twice; that is fine).
		stop()
		kill()
		return sdk.ExecResult{}, fmt.Errorf("the command did not finish: %w", ctx.Err())
	}
}

// execOutcome is what collect found.
type execOutcome struct {
	res sdk.ExecResult
	err error
}

// collect reads the combined output of the command run in sess until the
// session ends, and returns it with the exit code.
func (p *Process) collect(c *conn, sess *session, nonce string) (sdk.ExecResult, error) {
	out := &sdk.CappedOutput{Limit: execOutputLimit}
	// Standard error only carries what fails before the wrapper runs (the
	// login shell's own complaints); it is drained into the same output.
	var stderrDone sync.WaitGroup
	stderrDone.Go(func() { _, _ = io.Copy(out, sess.ch.Stderr()) })
	defer stderrDone.Wait()

	// What comes before the marker is kept aside: when the wrapper fails
	// before the command starts (not found, no such directory), it is the
	// only output, and it says why.
	preamble := &sdk.CappedOutput{Limit: execOutputLimit}
	tee := &switchTee{r: sess.ch, w: preamble}
	stdout := bufio.NewReaderSize(tee, outputBuffer)
	_, _, markerErr := readMarker(stdout, nonce)
	tee.stop()
	switch {
	case markerErr == nil:
		_, _ = io.Copy(out, stdout)
	case errors.Is(markerErr, io.EOF):
		_, _ = out.Write(preamble.Bytes())
	default:
		return sdk.ExecResult{}, fmt.Errorf("read the remote process group ID: %w", markerErr)
	}
	stderrDone.Wait()
	<-sess.closed

	st := sess.status()
	if st == nil {
		// x/crypto closes the channels of a dead connection just before
		// it reports the connection's end.
		timer := time.NewTimer(lostGrace)
		defer timer.Stop()
		select {
		case <-c.done:
			return sdk.ExecResult{}, c.lostErr()
		case <-timer.C:
			return sdk.ExecResult{}, errors.New("the command ended without an exit status")
		}
	}
	return sdk.ExecResult{ExitCode: st.exitCode(), Output: out.Bytes()}, nil
}

// exitCode returns the status as a shell reports it: the exit code, or
// 128+N for a command killed by signal N (-1 for a signal without a
// number here).
func (e *exitStatus) exitCode() int {
	if e.signal == "" {
		return e.code
	}
	sig, err := sdk.ParseSignal(e.signal)
	if err != nil {
		return -1
	}
	return 128 + int(sig)
}

// switchTee copies what is read from r to w until stop is called.
type switchTee struct {
	r       io.Reader
	w       io.Writer
	mu      sync.Mutex
	stopped bool
}

// Read implements io.Reader.
func (t *switchTee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.mu.Lock()
	defer t.mu.Unlock()
	if n > 0 && !t.stopped {
		_, _ = t.w.Write(p[:n])
	}
	return n, err
}

// stop ends the copying.
func (t *switchTee) stop() {
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
}
