package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/prox-dev/prox/sdk"
)

// signalTimeout bounds one signal delivery.
const signalTimeout = 10 * time.Second

// errOutputDropped ends the output of a process whose runner shut down.
var errOutputDropped = errors.New("output dropped: the runner shut down")

var _ sdk.Process = (*Process)(nil)

// Process is a container started by Runner.Start. All methods are safe for
// concurrent use.
type Process struct {
	r      *Runner
	c      *client.Client
	id     string
	name   string
	pid    int
	attach client.HijackedResponse
	stdout *outputPipe
	stderr *outputPipe
	// cancel ends the engine requests that live as long as the container.
	cancel context.CancelFunc

	mu sync.Mutex
	// sent are the signals delivered to the container, to tell an exit
	// by one of them from an exit code above 128.
	sent map[syscall.Signal]bool

	exited chan struct{} // closed once the engine reported the exit
	copied chan struct{} // closed once the output stream has ended
	done   chan struct{} // closed once err is set and the container removed
	err    error
}

// ID returns the container's ID.
func (p *Process) ID() string { return p.id }

// PID returns the PID of the container's main process as the engine's host
// sees it, or 0 when the engine did not tell.
func (p *Process) PID() int { return p.pid }

// Stdout returns the container's standard output. It returns io.EOF once
// the container has exited and all its output has been read.
func (p *Process) Stdout() io.Reader { return p.stdout }

// Stderr returns the container's standard error, like Stdout.
func (p *Process) Stderr() io.Reader { return p.stderr }

// Wait blocks until the container has exited, its output has been read to
// the end, and it has been removed. It returns nil for exit code 0, an
// *sdk.ExitError for another code, or another error when the engine could
// not tell how the container ended. An exit code 128+N is reported as a
// death by signal N (Signal its name, Code -1, as sdk.ExitError says) when
// that signal was delivered to the container (through Signal, or by the
// kernel's OOM killer for SIGKILL). Every call returns the same result.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Signal delivers sig to the container's main process. Signalling a
// container that has exited is not an error.
func (p *Process) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("unsupported signal %v", sig)
	}
	name, err := sdk.SignalName(s)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.sent[s] = true
	p.mu.Unlock()
	if isClosed(p.exited) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), signalTimeout)
	defer cancel()
	_, err = p.c.ContainerKill(ctx, p.id, client.ContainerKillOptions{Signal: name})
	if err == nil && s != syscall.SIGKILL {
		// The engine signals PID 1 only (or its init, which forwards to
		// its child alone). The process group is the unit, so the rest of
		// the container gets the signal too: `kill -1` inside it signals
		// every process but PID 1 and itself. An image without kill
		// keeps the PID-1-only behaviour. SIGKILL needs none of this: it
		// ends the whole container.
		if _, xerr := p.exec(ctx, []string{"kill", "-s", strings.TrimPrefix(name, "SIG"), "-1"}); xerr != nil {
			p.r.logger.Debug("group signal inside the container failed", "container", p.name, "error", xerr)
		}
	}
	if err == nil || isClosed(p.exited) {
		return nil
	}
	// The engine refuses to signal a container that is not running: one
	// that exited meanwhile is not an error.
	if running, ierr := p.running(ctx); ierr == nil && !running {
		return nil
	}
	return fmt.Errorf("signal %s to container %s: %w", name, p.name, err)
}

// running asks the engine whether the container runs; a container that is
// gone does not.
func (p *Process) running(ctx context.Context) (bool, error) {
	res, err := p.c.ContainerInspect(ctx, p.id, client.ContainerInspectOptions{})
	if err != nil {
		if gone, gerr := isGone(ctx, p.c, p.id); gerr == nil && gone {
			return false, nil
		}
		return false, err
	}
	return res.Container.State != nil && res.Container.State.Running, nil
}

// copyOutput demultiplexes the attached stream into stdout and stderr until
// the container's end closes it. It runs once per process, from Start.
func (p *Process) copyOutput() {
	defer close(p.copied)
	_, err := stdcopy.StdCopy(p.stdout, p.stderr, p.attach.Reader)
	p.attach.Close()
	if err != nil {
		err = fmt.Errorf("output of container %s: %w", p.name, err)
	}
	p.stdout.closeWithError(err)
	p.stderr.closeWithError(err)
}

// watch waits for the end of the container's output and for its exit,
// removes it and publishes the result. It runs once per process, from
// Start.
func (p *Process) watch(ctx context.Context) {
	result, known := p.awaitExit(ctx)
	close(p.exited)
	rmCtx, cancel := context.WithTimeout(context.Background(), removeTimeout)
	defer cancel()
	// Its output was read to the end: the container may go. When the
	// outcome is unknown it may still run; removing it ends it.
	p.removeContainer(rmCtx)
	p.cancel()
	if !known {
		p.r.logger.Warn("container ended, how is unknown", "container", p.name, "error", result)
	}
	p.err = result
	close(p.done)
}

// awaitExit waits until the engine tells how the container ended; known is
// false when it could not tell.
//
// The end of the attached output comes with the container's exit (when its
// PID 1 exits, every process of the container goes, and with them every
// holder of its output), so the engine is asked only then. Its wait
// answers last: Podman answers it only after its cleanup, a second or more
// after the exit, and a wait pending during the run slows the output down.
// So the runner also asks for the container's state, which tells the exit
// code at once.
func (p *Process) awaitExit(ctx context.Context) (result error, known bool) {
	<-p.copied
	wait := p.c.ContainerWait(ctx, p.id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	poll := time.After(0)
	var polled time.Duration
	for {
		select {
		case w := <-wait.Result:
			if w.Error != nil && w.Error.Message != "" {
				return fmt.Errorf("container %s: %s", p.name, w.Error.Message), true
			}
			return p.exitResult(w.StatusCode, nil), true
		case err := <-wait.Error:
			return fmt.Errorf("wait for container %s: %w", p.name, err), false
		case <-poll:
			if st := p.state(ctx); st != nil && exitedState(st) {
				return p.exitResult(int64(st.ExitCode), st), true
			}
			// The output may end shortly before the exit, or long
			// before it (a process that closes its output and goes on):
			// ask a few times, then leave it to the wait.
			if polled < exitPollFor {
				polled += exitPollInterval
				poll = time.After(exitPollInterval)
			}
		}
	}
}

const (
	// exitPollInterval and exitPollFor pace the state checks after the
	// output has ended.
	exitPollInterval = 25 * time.Millisecond
	exitPollFor      = 2 * time.Second
)

// state returns the container's state, or nil when the engine does not
// tell it.
func (p *Process) state(ctx context.Context) *container.State {
	res, err := p.c.ContainerInspect(ctx, p.id, client.ContainerInspectOptions{})
	if err != nil {
		return nil
	}
	return res.Container.State
}

// exitedState reports whether st is the state of a container that ran and
// ended ("stopped" is Podman's state between the exit and its cleanup).
func exitedState(st *container.State) bool {
	if st.Running || st.Paused || st.Restarting {
		return false
	}
	switch string(st.Status) {
	case string(container.StateExited), string(container.StateDead), "stopped":
		return true
	}
	return false
}

// removeContainer removes the container; on failure it stays tracked, for
// Shutdown to try again.
func (p *Process) removeContainer(ctx context.Context) {
	if err := remove(ctx, p.c, p.id); err != nil {
		p.r.logger.Warn("failed to remove an exited container", "container", p.name, "id", shortID(p.id), "error", err)
		return
	}
	p.r.forget(p.id)
}

// exitResult turns the container's exit code into the sdk's terms. st is
// the container's state after the exit when known (nil: it is asked for
// when needed).
func (p *Process) exitResult(code int64, st *container.State) error {
	if code == 0 {
		return nil
	}
	ee := &sdk.ExitError{Code: int(code)}
	if code > 128 && code <= 128+64 {
		sig := syscall.Signal(code - 128)
		if p.delivered(sig) || (sig == syscall.SIGKILL && p.oomKilled(st)) {
			if name, err := sdk.SignalName(sig); err == nil {
				ee.Code, ee.Signal = -1, name
			}
		}
	}
	return ee
}

// delivered reports whether sig was sent to the container.
func (p *Process) delivered(sig syscall.Signal) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent[sig]
}

// oomKilled reports whether the kernel killed the container for lack of
// memory, from st or, when nil, from the engine.
func (p *Process) oomKilled(st *container.State) bool {
	if st == nil {
		ctx, cancel := context.WithTimeout(context.Background(), signalTimeout)
		defer cancel()
		st = p.state(ctx)
	}
	return st != nil && st.OOMKilled
}

// dropOutput ends both output streams at once, for Shutdown: nobody reads
// them any more, and the copy must not wait for a reader.
func (p *Process) dropOutput() {
	p.stdout.abort(errOutputDropped)
	p.stderr.abort(errOutputDropped)
	p.attach.Close()
}

// isClosed reports whether ch is closed.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
