package exec

import (
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/prox-dev/prox/sdk"
	"golang.org/x/sys/unix"
)

// Process is a process started by Runner.Start; it leads its own process
// group, whose ID is its PID. All methods are safe for concurrent use.
type Process struct {
	pid    int
	cmd    *osexec.Cmd
	stdout *outputReader
	stderr *outputReader

	mu     sync.Mutex
	reaped bool // the leader was reaped and the rest of its group killed

	done chan struct{} // closed once err is set
	err  error
}

// PID returns the process's PID, which is also its process group ID.
func (p *Process) PID() int { return p.pid }

// LocalProcessGroup returns the process group ID, which is the PID: the
// child leads its own group. It tells prox which group to kill should this
// plugin die.
func (p *Process) LocalProcessGroup() int { return p.pid }

// Stdout returns the read end of the process's standard output pipe. It
// returns io.EOF once every process holding the write end has exited, and
// then releases the pipe.
func (p *Process) Stdout() io.Reader { return p.stdout }

// Stderr returns the read end of the process's standard error pipe, like
// Stdout.
func (p *Process) Stderr() io.Reader { return p.stderr }

// OutputFiles returns the read ends of the process's stdout and stderr
// pipes, so that the SDK can hand them to prox (sdk.OutputFiler): prox then
// reads the output itself, and its bytes no longer pass through this
// plugin. After a hand-over the SDK closes them and Stdout and Stderr are
// not used.
func (p *Process) OutputFiles() (stdout, stderr *os.File) {
	return p.stdout.f, p.stderr.f
}

// Wait blocks until the process has been reaped and the rest of its group
// killed. It returns nil for exit code 0, an *sdk.ExitError for another
// code (Code) or a terminating signal (Code -1 and Signal), or another
// error when the outcome is unknown. Every call returns the same result.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Signal delivers sig to the process's whole process group. Signalling a
// group that is gone, or a process already reaped, is not an error.
func (p *Process) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("unsupported signal %v", sig)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		// The group was already sent SIGKILL; its ID may be free for reuse,
		// so it must not be signalled again.
		return nil
	}
	return killGroup(p.pid, s)
}

// reap waits for the leader, kills its stragglers and publishes the result.
// It runs once per process, from Start.
func (p *Process) reap(r *Runner) {
	err := p.cmd.Wait()
	p.mu.Lock()
	// The group is the unit: a descendant left behind (say a backgrounded
	// grandchild) would keep the output pipes open and outlive prox. While
	// it lives the group ID cannot be reused, so this reaches only it.
	_ = killGroup(p.pid, syscall.SIGKILL)
	p.reaped = true
	p.mu.Unlock()
	p.err = exitResult(err)
	close(p.done)
	r.forget(p)
}

// killGroup sends sig to the process group pgid; a group that no longer
// exists is not an error.
func killGroup(pgid int, sig syscall.Signal) error {
	err := unix.Kill(-pgid, sig)
	if err == nil || errors.Is(err, unix.ESRCH) {
		return nil
	}
	return fmt.Errorf("signal process group %d: %w", pgid, err)
}

// exitResult turns the result of cmd.Wait into the sdk's terms.
func exitResult(err error) error {
	if err == nil {
		return nil
	}
	var ee *osexec.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("wait: %w", err)
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok {
		return &sdk.ExitError{Code: ee.ExitCode()}
	}
	if ws.Signaled() {
		name, nameErr := sdk.SignalName(ws.Signal())
		if nameErr != nil {
			name = fmt.Sprintf("signal %d", int(ws.Signal()))
		}
		return &sdk.ExitError{Code: -1, Signal: name}
	}
	return &sdk.ExitError{Code: ws.ExitStatus()}
}

// outputReader is the read end of an output pipe. It closes the pipe at
// EOF, so that a drained process leaves no descriptor behind, and keeps
// returning io.EOF afterwards.
type outputReader struct {
	f     *os.File
	eof   atomic.Bool
	close sync.Once
}

// Read implements io.Reader.
func (r *outputReader) Read(b []byte) (int, error) {
	if r.eof.Load() {
		return 0, io.EOF
	}
	n, err := r.f.Read(b)
	if err == io.EOF || (err != nil && r.eof.Load()) {
		r.eof.Store(true)
		r.close.Do(func() { _ = r.f.Close() })
		return n, io.EOF
	}
	return n, err
}
