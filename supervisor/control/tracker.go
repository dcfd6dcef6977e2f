package control

import (
	"context"
	"fmt"
	"sync"
	"syscall"

	"github.com/prox-dev/prox/sdk"
)

// Signaller delivers a signal to the current run of a process (to its
// whole process group, or the runner's equivalent). The server uses the
// supervisor when it implements Signaller, else Options.Signaller.
type Signaller interface {
	SignalProcess(ctx context.Context, name string, sig syscall.Signal) error
}

// Tracker is a Signaller for supervisors that cannot signal a process
// themselves: it wraps the processes' runners (Wrap) and remembers the
// sdk.Process each start returned, by process name.
type Tracker struct {
	mu    sync.Mutex
	procs map[string]sdk.Process
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker {
	return &Tracker{procs: map[string]sdk.Process{}}
}

// Wrap returns a runner that starts processes through r and records them.
// The processes it returns are r's own, unwrapped.
func (t *Tracker) Wrap(r sdk.Runner) sdk.Runner {
	return &trackedRunner{Runner: r, t: t}
}

// SignalProcess implements Signaller: it signals the latest run of the
// named process (signalling a run that has ended is not an error).
func (t *Tracker) SignalProcess(_ context.Context, name string, sig syscall.Signal) error {
	t.mu.Lock()
	p, ok := t.procs[name]
	t.mu.Unlock()
	if !ok {
		return fmt.Errorf("process %q has never been started", name)
	}
	if err := p.Signal(sig); err != nil {
		return fmt.Errorf("signal %q: %w", name, err)
	}
	return nil
}

// trackedRunner records what its runner starts.
type trackedRunner struct {
	sdk.Runner
	t *Tracker
}

// Start implements sdk.Runner.
func (r *trackedRunner) Start(ctx context.Context, cfg *sdk.ProcessConfig) (sdk.Process, error) {
	p, err := r.Runner.Start(ctx, cfg)
	if err == nil {
		r.t.mu.Lock()
		r.t.procs[cfg.Name] = p
		r.t.mu.Unlock()
	}
	return p, err
}
