package sdktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"

	"github.com/prox-dev/prox/sdk"
)

// localRunner is a small runner for the suites' own tests: each process
// runs through os/exec in its own process group, and what is left of the
// group is killed when the leader exits. Its flaws, when set, break one
// property each, so that a test can check that the suite notices.
type localRunner struct {
	// leaderOnly signals the leader instead of its group.
	leaderOnly bool
	// keepGroup leaves the group alone when the leader exits.
	keepGroup bool
	// exitOne reports every failure as exit code 1.
	exitOne bool
	// execLeave leaves a command whose context ended running (in the test
	// binary's process group, which the test that sets it kills).
	execLeave bool
}

// Exec runs command beside p, with p's folder and environment, in a
// process group of its own that is killed when ctx ends.
func (r *localRunner) Exec(ctx context.Context, p sdk.Process, command []string) (sdk.ExecResult, error) {
	lp, ok := p.(*localProcess)
	if !ok {
		return sdk.ExecResult{}, errors.New("exec: not a process of the local runner")
	}
	if len(command) == 0 {
		return sdk.ExecResult{}, errors.New("exec: command is required")
	}
	select {
	case <-lp.done:
		return sdk.ExecResult{}, errors.New("exec: the process has exited")
	default:
	}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Env, cmd.Dir = lp.cmd.Env, lp.cmd.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: !r.execLeave}
	out := &sdk.CappedOutput{Limit: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return sdk.ExecResult{ExitCode: 127, Output: []byte(err.Error() + "\n")}, nil
		}
		return sdk.ExecResult{}, err
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return sdk.ExecResult{}, err
		}
		return sdk.ExecResult{ExitCode: cmd.ProcessState.ExitCode(), Output: out.Bytes()}, nil
	case <-ctx.Done():
		if !r.execLeave {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-waited
		}
		return sdk.ExecResult{}, fmt.Errorf("exec %q: the command did not finish: %w", command[0], ctx.Err())
	}
}

func (r *localRunner) Start(ctx context.Context, cfg *sdk.ProcessConfig) (sdk.Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(cfg.Command) == 0 {
		return nil, errors.New("command is required")
	}
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Env = cfg.Env
	cmd.Dir = cfg.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		_ = outR.Close()
		_ = outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	_ = outW.Close()
	_ = errW.Close()
	if err != nil {
		_ = outR.Close()
		_ = errR.Close()
		return nil, err
	}
	p := &localProcess{r: r, cmd: cmd, stdout: outR, stderr: errR, done: make(chan struct{})}
	go p.reap()
	return p, nil
}

type localProcess struct {
	r              *localRunner
	cmd            *exec.Cmd
	stdout, stderr *os.File

	mu     sync.Mutex
	reaped bool
	done   chan struct{}
	err    error
}

func (p *localProcess) reap() {
	err := p.cmd.Wait()
	p.mu.Lock()
	if !p.r.keepGroup {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	p.reaped = true
	p.mu.Unlock()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ws := ee.Sys().(syscall.WaitStatus)
		switch {
		case p.r.exitOne:
			err = &sdk.ExitError{Code: 1}
		case ws.Signaled():
			name, _ := sdk.SignalName(ws.Signal())
			err = &sdk.ExitError{Code: -1, Signal: name}
		default:
			err = &sdk.ExitError{Code: ws.ExitStatus()}
		}
	}
	p.err = err
	close(p.done)
}

func (p *localProcess) PID() int { return p.cmd.Process.Pid }

func (p *localProcess) Wait() error {
	<-p.done
	return p.err
}

func (p *localProcess) Signal(sig os.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		if p.r.keepGroup {
			// The group may outlive its leader.
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		}
		return nil
	}
	target := -p.cmd.Process.Pid
	if p.r.leaderOnly {
		target = p.cmd.Process.Pid
	}
	err := syscall.Kill(target, sig.(syscall.Signal))
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

func (p *localProcess) Stdout() io.Reader { return p.stdout }
func (p *localProcess) Stderr() io.Reader { return p.stderr }

// memSink keeps what it is written, in memory; its flaws, when set, break
// one property each.
type memSink struct {
	// reverse delivers each batch's entries in reverse order.
	reverse bool
	// mangle replaces invalid UTF-8 in lines.
	mangle bool
	// loseOnClose drops everything on Close.
	loseOnClose bool
	// wrongExit records every event with exit code 1.
	wrongExit bool

	mu      sync.Mutex
	entries []sdk.LogEntry
	events  []sdk.Event
	closed  bool
}

func (s *memSink) Write(ctx context.Context, b *sdk.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("write after close")
	}
	for i := range b.Entries {
		e := b.Entries[i]
		if s.reverse {
			e = b.Entries[len(b.Entries)-1-i]
		}
		// Lines may share the request's buffer: keep a copy.
		e.Line = bytes.Clone(e.Line)
		if s.mangle {
			e.Line = bytes.ToValidUTF8(e.Line, []byte("?"))
		}
		s.entries = append(s.entries, e)
	}
	for _, ev := range b.Events {
		if s.wrongExit {
			ev.ExitCode = 1
		}
		s.events = append(s.events, ev)
	}
	return nil
}

func (s *memSink) Flush(ctx context.Context) error { return ctx.Err() }

func (s *memSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.loseOnClose {
		s.entries = nil
	}
	return nil
}

func readMem(_ *testing.T, s sdk.Sink) []sdk.LogEntry {
	m := s.(*memSink)
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sdk.LogEntry(nil), m.entries...)
}

func readMemEvents(_ *testing.T, s sdk.Sink) []sdk.Event {
	m := s.(*memSink)
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sdk.Event(nil), m.events...)
}
