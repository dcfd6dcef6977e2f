package container

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/prox-dev/prox/sdk"
)

// execOutputLimit bounds the combined output an Exec returns: the first
// 64 KiB are kept, the rest is read and dropped.
const execOutputLimit = 64 << 10

// execPollInterval paces the questions about an exec's exit code after
// its output has ended.
const execPollInterval = 20 * time.Millisecond

// errNotRunning means Exec was asked to run a command in a container that
// has exited.
var errNotRunning = errors.New("the container is not running")

var _ sdk.Execer = (*Runner)(nil)

// Exec runs command (an argv, no shell implied) inside p's container, as
// the engine's exec does: as the container's user, in its working
// directory, with its environment. It returns the command's exit code and
// its standard output and standard error combined in the order the engine
// delivered them, shortened to their first 64 KiB. A command the engine
// cannot start (not found, not executable) is reported as the engine
// reports it: an exit code (126, 127) with its message, or an error.
//
// ctx bounds the call: when it ends first, Exec returns an error wrapping
// ctx.Err() at once, and the command is killed. The Docker Engine API has
// no way to stop an exec'd command, so the runner asks the engine for the
// command's host PID and SIGKILLs its process group itself, when it can:
// the engine runs on this machine and the process, whose cgroup must name
// the container, may be signalled by the plugin (a rootful engine needs a
// root prox, rootless Podman the same user). Otherwise the command runs
// on inside the container until it ends or the container does, and the
// runner logs that; a command meant for a health check should then bound
// its own run time. Exec fails when p has exited, or when p is not a
// process of this runner. It may be called concurrently.
func (r *Runner) Exec(ctx context.Context, p sdk.Process, command []string) (sdk.ExecResult, error) {
	proc, ok := p.(*Process)
	if !ok {
		return sdk.ExecResult{}, fmt.Errorf("exec: %T is not a process of the container runner", p)
	}
	if len(command) == 0 || command[0] == "" {
		return sdk.ExecResult{}, errors.New("exec: command is required")
	}
	if isClosed(proc.exited) {
		return sdk.ExecResult{}, fmt.Errorf("exec %q in container %s: %w", command[0], proc.name, errNotRunning)
	}
	res, err := proc.exec(ctx, command)
	if err != nil {
		return sdk.ExecResult{}, fmt.Errorf("exec %q in container %s: %w", command[0], proc.name, err)
	}
	return res, nil
}

// exec runs argv in the container (see Runner.Exec).
func (p *Process) exec(ctx context.Context, argv []string) (sdk.ExecResult, error) {
	if err := ctx.Err(); err != nil {
		return sdk.ExecResult{}, err
	}
	created, err := p.c.ExecCreate(ctx, p.id, client.ExecCreateOptions{Cmd: argv, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return sdk.ExecResult{}, p.notRunning(ctx, err)
	}
	att, err := p.c.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return sdk.ExecResult{}, p.notRunning(ctx, fmt.Errorf("start: %w", err))
	}
	defer att.Close()

	// The output is read in the background: the hijacked connection has no
	// deadline of its own, and Exec must not outlast ctx.
	out := &sdk.CappedOutput{Limit: execOutputLimit}
	copied := make(chan error, 1)
	go func() {
		// One stream, one writer: the frames of stdout and stderr stay in
		// the order the engine sent them.
		_, err := stdcopy.StdCopy(out, out, att.Reader)
		copied <- err
	}()
	select {
	case err := <-copied:
		if err != nil {
			return sdk.ExecResult{}, p.notRunning(ctx, fmt.Errorf("read the output: %w", err))
		}
	case <-ctx.Done():
		go p.endExec(created.ID)
		return sdk.ExecResult{}, fmt.Errorf("the command did not finish: %w", ctx.Err())
	}
	code, err := p.execExitCode(ctx, created.ID)
	if err != nil {
		if ctx.Err() != nil {
			go p.endExec(created.ID)
		}
		return sdk.ExecResult{}, err
	}
	return sdk.ExecResult{ExitCode: code, Output: out.Bytes()}, nil
}

// endExec kills the exec'd command id, which outlived its context, when
// it runs on this machine (killLocalExec); it is bounded by signalTimeout.
func (p *Process) endExec(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), signalTimeout)
	defer cancel()
	res, err := p.c.ExecInspect(ctx, id, client.ExecInspectOptions{})
	switch {
	case err != nil:
		p.r.logger.Warn("an exec'd command outlived its deadline and could not be inspected; it may run on in the container", "container", p.name, "error", err)
	case !res.Running:
	case killLocalExec(res.PID, p.id):
		p.r.logger.Debug("killed an exec'd command that outlived its deadline", "container", p.name, "pid", res.PID)
	default:
		p.r.logger.Warn("an exec'd command outlived its deadline and runs on in the container: the engine is not on this machine, or prox may not signal its processes", "container", p.name, "pid", res.PID)
	}
}

// execExitCode waits until the engine no longer reports the exec id as
// running (its output can end a moment before) and returns its exit code.
func (p *Process) execExitCode(ctx context.Context, id string) (int, error) {
	for {
		res, err := p.c.ExecInspect(ctx, id, client.ExecInspectOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return 0, fmt.Errorf("the command did not finish: %w", ctx.Err())
			}
			return 0, fmt.Errorf("inspect: %w", err)
		}
		if !res.Running {
			return res.ExitCode, nil
		}
		t := time.NewTimer(execPollInterval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("the command did not finish: %w", ctx.Err())
		}
	}
}

// notRunning returns errNotRunning, wrapped with err's message, when the
// container has exited (the likely cause of err), else err.
func (p *Process) notRunning(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	if isClosed(p.exited) {
		return fmt.Errorf("%w (%w)", errNotRunning, err)
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), signalTimeout)
	defer cancel()
	if running, ierr := p.running(ictx); ierr == nil && !running {
		return fmt.Errorf("%w (%w)", errNotRunning, err)
	}
	return err
}
