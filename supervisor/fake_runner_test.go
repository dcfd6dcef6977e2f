package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/prox-dev/prox/sdk"
)

// fakeRunner is an in-process sdk.Runner whose processes the test ends at
// will. It counts how many of its processes are alive at once.
type fakeRunner struct {
	mu       sync.Mutex
	procs    []*fakeProc
	startErr error
	// ignoreTERM makes new processes survive SIGTERM (only SIGKILL ends
	// them).
	ignoreTERM bool
	// exitAtOnce, when set, makes every new process exit with it at once.
	exitAtOnce *sdk.ExitError
	// noOutputCloser makes new processes hide their sdk.OutputCloser, as
	// a runner whose output cannot be abandoned.
	noOutputCloser bool
	// frozen makes new processes never report their exit after a
	// signal, SIGKILL included, as the process of a runner plugin that is
	// frozen (kill -STOP): their Wait returns only once the test ends
	// them (exit).
	frozen bool
	// hold, when set, makes Start wait until it is closed, whatever its
	// context says: a runner that answers nothing.
	hold    chan struct{}
	started chan *fakeProc
	live    atomic.Int32
	maxLive atomic.Int32
	signals *signalLog
}

// signalLog orders the signals of all processes of a test.
type signalLog struct {
	mu      sync.Mutex
	entries []string // "name:SIGNAL"
}

func (l *signalLog) add(s string) {
	l.mu.Lock()
	l.entries = append(l.entries, s)
	l.mu.Unlock()
}

func (l *signalLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.entries...)
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{started: make(chan *fakeProc, 1000), signals: &signalLog{}}
}

func (r *fakeRunner) Start(_ context.Context, cfg *sdk.ProcessConfig) (sdk.Process, error) {
	r.mu.Lock()
	hold := r.hold
	r.mu.Unlock()
	if hold != nil {
		<-hold
	}
	r.mu.Lock()
	if r.startErr != nil {
		err := r.startErr
		r.mu.Unlock()
		return nil, err
	}
	p := &fakeProc{name: cfg.Name, runner: r, pid: 1000 + len(r.procs), done: make(chan struct{}), ignoreTERM: r.ignoreTERM, frozen: r.frozen}
	p.outR, p.outW = io.Pipe()
	p.errR, p.errW = io.Pipe()
	r.procs = append(r.procs, p)
	exitAtOnce, noOutputCloser := r.exitAtOnce, r.noOutputCloser
	r.mu.Unlock()
	n := r.live.Add(1)
	for {
		m := r.maxLive.Load()
		if n <= m || r.maxLive.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case r.started <- p:
	default:
	}
	if exitAtOnce != nil {
		p.exit(exitAtOnce)
	}
	if noOutputCloser {
		return struct{ sdk.Process }{p}, nil
	}
	return p, nil
}

func (r *fakeRunner) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.procs)
}

func (r *fakeRunner) last() *fakeProc {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.procs) == 0 {
		return nil
	}
	return r.procs[len(r.procs)-1]
}

// fakeProc is one fake process: output through pipes, an exit the test
// controls.
type fakeProc struct {
	name       string
	runner     *fakeRunner
	pid        int
	ignoreTERM bool
	frozen     bool
	outR, errR *io.PipeReader
	outW, errW *io.PipeWriter
	once       sync.Once
	done       chan struct{}
	err        error
	// outputClosed counts the calls of CloseOutput.
	outputClosed atomic.Int32
}

var _ sdk.OutputCloser = (*fakeProc)(nil)

func (p *fakeProc) PID() int          { return p.pid }
func (p *fakeProc) Stdout() io.Reader { return p.outR }
func (p *fakeProc) Stderr() io.Reader { return p.errR }

func (p *fakeProc) Wait() error {
	<-p.done
	return p.err
}

// exit ends the process with err (nil: exit code 0), and its output.
func (p *fakeProc) exit(err error) {
	p.outW.Close()
	p.errW.Close()
	p.finish(err)
}

// finish ends the process with err but leaves its output open, as a
// descendant that left the process group and holds the pipes does: Wait
// returns, the output goes on.
func (p *fakeProc) finish(err error) {
	p.once.Do(func() {
		p.err = err
		p.runner.live.Add(-1)
		close(p.done)
	})
}

// CloseOutput implements sdk.OutputCloser as the SDK's host side does: the
// reads end with sdk.ErrOutputClosed.
func (p *fakeProc) CloseOutput() {
	p.outputClosed.Add(1)
	err := fmt.Errorf("output: %w", sdk.ErrOutputClosed)
	p.outW.CloseWithError(err)
	p.errW.CloseWithError(err)
}

func (p *fakeProc) Signal(sig os.Signal) error {
	name, _ := sdk.SignalName(sig)
	p.runner.signals.add(p.name + ":" + name)
	select {
	case <-p.done:
		return nil
	default:
	}
	if p.frozen {
		return nil
	}
	if sig == syscall.SIGTERM && p.ignoreTERM {
		return nil
	}
	if sig == syscall.SIGHUP {
		return nil // like a process that reloads on SIGHUP
	}
	p.exit(&sdk.ExitError{Code: -1, Signal: name})
	return nil
}

var errBoom = errors.New("boom")
