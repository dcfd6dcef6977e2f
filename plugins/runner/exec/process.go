package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"time"

	"github.com/prox-dev/prox/internal/procstat"
	"github.com/prox-dev/prox/sdk"
	"golang.org/x/sys/unix"
)

// Process is a process started by Runner.Start; it leads its own process
// group, whose ID is its PID, and runs in a cgroup of its own where the
// runner has cgroups. All methods are safe for concurrent use.
type Process struct {
	pid    int
	cg     *cgroup // nil without a cgroup
	mode   string  // its containment
	start  uint64  // its start time, in the subreaper's terms (0 if unknown)
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

// LocalCgroup returns the folder of the process's cgroup, "" without one.
// It tells prox which cgroup to kill should this plugin die.
func (p *Process) LocalCgroup() string {
	if p.cg == nil {
		return ""
	}
	return p.cg.dir
}

// Containment says what keeps the process's descendants from outliving
// it: "cgroup", "subreaper" or "process-group" (see the package doc).
func (p *Process) Containment() string { return p.mode }

// Stats reads the process's CPU time and resident memory on this machine
// (sdk.ProcessStatter): from its cgroup, the whole tree, where it has one
// (cpu.stat; memory.current where the memory controller is enabled, else
// the resident sets of the cgroup's processes), else from /proc for the
// process and its reaped children. Once the process was reaped it is an
// error.
func (p *Process) Stats(context.Context) (sdk.ProcessStats, error) {
	p.mu.Lock()
	reaped := p.reaped
	p.mu.Unlock()
	if reaped {
		return sdk.ProcessStats{}, fmt.Errorf("process %d has exited", p.pid)
	}
	u, err := procstat.Read(p.pid, p.LocalCgroup())
	if err != nil {
		return sdk.ProcessStats{}, fmt.Errorf("stats of process %d: %w", p.pid, err)
	}
	return sdk.ProcessStats{CPU: u.CPU, MemoryBytes: u.MemoryBytes, Time: time.Now()}, nil
}

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

// Wait blocks until the process has been reaped and whatever it started
// killed: the rest of its cgroup, or of its group and its orphans. It returns nil for exit code 0, an *sdk.ExitError for another
// code (Code) or a terminating signal (Code -1 and Signal), or another
// error when the outcome is unknown. Every call returns the same result.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Signal delivers sig to the process's whole process group; SIGKILL to a
// process with a cgroup kills the whole cgroup instead, descendants that
// left the group included. Signalling a group that is gone, or a process
// already reaped, is not an error.
func (p *Process) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("unsupported signal %v", sig)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		// What was left was killed already; the group ID may be free for
		// reuse, so it must not be signalled again.
		return nil
	}
	if s == syscall.SIGKILL && p.cg != nil && p.cg.kill() == nil {
		return nil
	}
	return killGroup(p.pid, s)
}

// reap waits for the leader, kills what it leaves behind and publishes the
// result. It runs once per process, from Start.
func (p *Process) reap(r *Runner) {
	err := waitExit(p.pid)
	unregisterLeader(p)
	orphans := subreaperOn()
	p.mu.Lock()
	if p.cg == nil && orphans == nil {
		// The group is the unit: a descendant left behind (say a
		// backgrounded grandchild) would keep the output pipes open and
		// outlive prox. While it lives the group ID cannot be reused, so
		// this reaches only it.
		_ = killGroup(p.pid, syscall.SIGKILL)
	}
	p.reaped = true
	p.mu.Unlock()
	if p.cg != nil {
		// The cgroup is the unit: everything left in it goes, and the
		// process has ended once it is empty.
		if kerr := p.cg.killAndWait(cgroupEmptyTimeout); kerr != nil {
			r.log.Warn("cannot empty a process's cgroup", "pid", p.pid, "error", kerr)
		}
		if rerr := p.cg.remove(); rerr != nil {
			r.log.Warn("cannot remove a process's cgroup", "pid", p.pid, "error", rerr)
		}
	}
	if orphans != nil {
		// Its group, its orphans and their descendants (subreaper_linux.go).
		orphans.processEnded(p)
	}
	p.err = err
	// Forgotten before Wait returns: once it has, the runner holds nothing
	// of the process.
	r.forget(p)
	close(p.done)
}

// Why children are not reaped with os.Process.Wait (or exec.Cmd.Wait):
//
// Those block an OS thread in waitid for the whole life of the child, so a
// plugin with 200 idle children would hold some 200 threads, each with its
// own stacks: most of the plugin's memory. Instead a pidfd for the child,
// which becomes readable when the child exits, waits in the runtime's
// netpoller (epoll) as a socket does: an idle child costs a parked
// goroutine and one descriptor. Once the pidfd is readable the child is
// reaped with a non-blocking wait4. Only where the kernel offers no pidfd
// (before Linux 5.3, or under a seccomp filter that forbids it) does a
// blocking wait4 hold a thread per child, as os.Process.Wait would.
//
// Nothing else waits for these children: Start releases their os.Process
// (closing the pidfd os keeps for each) and drops the exec.Cmd, so that
// reaping them is waitExit's alone. Until it reaps a child, its PID cannot
// be reused, so waiting by PID is safe.

// waitExit waits for the child pid to exit, reaps it and returns its exit
// result as Process.Wait reports it: nil for exit code 0, an
// *sdk.ExitError, or another error when the outcome is unknown.
func waitExit(pid int) error {
	var ws syscall.WaitStatus
	err := errNoPoll
	if pidfd := openPidfd(pid); pidfd != nil {
		ws, err = pollExit(pidfd, pid)
		_ = pidfd.Close()
	}
	if errors.Is(err, errNoPoll) {
		// The child was not reaped.
		ws, err = waitBlocking(pid)
	}
	if err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	return statusResult(ws)
}

// openPidfd returns a non-blocking pidfd for the child pid, registered with
// the runtime's netpoller, or nil when the kernel offers none.
func openPidfd(pid int) *os.File {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.EINVAL) {
		// Linux 5.3 to 5.9 have pidfd_open but not PIDFD_NONBLOCK, which
		// is O_NONBLOCK: set it as for any descriptor.
		fd, err = unix.PidfdOpen(pid, 0)
		if err == nil {
			if err = unix.SetNonblock(fd, true); err != nil {
				_ = unix.Close(fd)
			}
		}
	}
	if err != nil {
		return nil
	}
	// os.NewFile adds a non-blocking descriptor to the netpoller.
	// pidfd_open sets close-on-exec: later children do not inherit it.
	return os.NewFile(uintptr(fd), "pidfd")
}

// errNoPoll is pollExit's error when the pidfd cannot be polled; the child
// is then not reaped.
var errNoPoll = errors.New("pidfd cannot be polled")

// pollExit parks the calling goroutine (not its thread) until the child pid
// has exited, then reaps it with wait4 and returns its wait status. pidfd
// must refer to the child. It returns errNoPoll, with the child not
// reaped, when pidfd cannot be polled; another error is wait4's, and the
// outcome is then unknown.
func pollExit(pidfd *os.File, pid int) (ws syscall.WaitStatus, err error) {
	rc, scErr := pidfd.SyscallConn()
	if scErr != nil {
		return 0, errNoPoll
	}
	// Read calls the function once, then again each time the pidfd is
	// readable, until it returns true. A pidfd is readable once its
	// process has exited.
	done := false
	readErr := rc.Read(func(uintptr) bool {
		for {
			wpid, werr := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			switch {
			case werr == syscall.EINTR:
				continue
			case werr != nil:
				err = os.NewSyscallError("wait4", werr)
			case wpid == 0:
				// Still running (or a spurious wake-up): wait again.
				return false
			}
			done = true
			return true
		}
	})
	if readErr != nil || !done {
		return 0, errNoPoll
	}
	return ws, err
}

// waitBlocking waits for the child pid to exit, holding the calling
// goroutine's thread in wait4 until then, reaps it and returns its wait
// status.
func waitBlocking(pid int) (syscall.WaitStatus, error) {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			return ws, os.NewSyscallError("wait4", err)
		}
	}
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

// statusResult turns the wait status of a reaped child into the sdk's
// terms: nil for exit code 0, else an *sdk.ExitError with the exit code, or
// with Code -1 and the name of the terminating signal.
func statusResult(ws syscall.WaitStatus) error {
	if ws.Signaled() {
		name, nameErr := sdk.SignalName(ws.Signal())
		if nameErr != nil {
			name = fmt.Sprintf("signal %d", int(ws.Signal()))
		}
		return &sdk.ExitError{Code: -1, Signal: name}
	}
	if code := ws.ExitStatus(); code != 0 {
		return &sdk.ExitError{Code: code}
	}
	return nil
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
