package loader

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// Relaunch bounds: after a failed or recent relaunch, the next one waits
// at least the current delay, which doubles up to the maximum.
const (
	relaunchMinDelay = 100 * time.Millisecond
	relaunchMaxDelay = 10 * time.Second
)

// RelaunchingRunner is an sdk.Runner over a runner plugin instance that
// relaunches the plugin (same binary, same configuration) when it has died,
// at the next Start. Relaunches are spaced by an exponential backoff, so a
// plugin that crashes at once is not relaunched in a tight loop; a Start
// that falls inside the backoff fails, and the supervisor's restart policy
// decides when to try again.
type RelaunchingRunner struct {
	loader *Loader

	mu       sync.Mutex
	inst     *Instance
	last     time.Time // last relaunch attempt
	delay    time.Duration
	relaunch int
}

var _ sdk.Runner = (*RelaunchingRunner)(nil)

// NewRelaunchingRunner wraps a configured runner instance of l.
func NewRelaunchingRunner(l *Loader, inst *Instance) *RelaunchingRunner {
	return &RelaunchingRunner{loader: l, inst: inst, delay: relaunchMinDelay}
}

// Relaunches returns how many times the plugin was relaunched.
func (r *RelaunchingRunner) Relaunches() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.relaunch
}

// Instance returns the current plugin instance.
func (r *RelaunchingRunner) Instance() *Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inst
}

// Start starts the process through the current plugin, relaunching it
// first if it has exited.
func (r *RelaunchingRunner) Start(ctx context.Context, cfg *sdk.ProcessConfig) (sdk.Process, error) {
	inst, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	p, err := inst.Runner.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if inst.proc != nil {
		inst.proc.noteContainment(p)
	}
	if !inst.Source.Builtin {
		return p, nil
	}
	// A built-in runner's local process group is signalled by prox
	// itself (localsignal_linux.go).
	return signalLocally(p, inst.PID()), nil
}

func (r *RelaunchingRunner) current(ctx context.Context) (*Instance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.inst.Exited() {
		if time.Since(r.last) > relaunchMaxDelay {
			r.delay = relaunchMinDelay // it has stayed up: forget old failures
		}
		return r.inst, nil
	}
	old := r.inst
	if wait := r.delay - time.Since(r.last); !r.last.IsZero() && wait > 0 {
		return nil, fmt.Errorf("runner plugin %s exited; next relaunch in %s", old.ID(), wait.Round(time.Millisecond))
	}
	r.last = time.Now()
	r.delay = min(r.delay*2, relaunchMaxDelay)
	r.loader.logger.Warn("runner plugin exited, relaunching", "component", old.ID(), "relaunches", r.relaunch+1)
	_ = old.Close(ctx)
	inst, err := r.loader.LaunchSource(ctx, old.Source, old.Kind, old.Name)
	if err != nil {
		return nil, fmt.Errorf("failed to relaunch runner plugin %s: %w", old.ID(), err)
	}
	if err := inst.Configure(ctx, old.values); err != nil {
		_ = inst.Close(ctx)
		return nil, fmt.Errorf("failed to relaunch runner plugin %s: %w", old.ID(), err)
	}
	r.inst = inst
	r.relaunch++
	return inst, nil
}

// SinkTarget opens a sink plugin instance for the log manager, and
// relaunches the plugin (same binary, same configuration) when it has
// died: the log manager then resends the unacknowledged batch.
type SinkTarget struct {
	loader *Loader

	mu    sync.Mutex
	inst  *Instance
	opens int
}

// NewSinkTarget wraps a configured sink instance of l.
func NewSinkTarget(l *Loader, inst *Instance) *SinkTarget {
	return &SinkTarget{loader: l, inst: inst}
}

// Open returns the sink. The log manager opens a sink once, and again
// only after its plugin died or stopped answering (and the manager closed
// it): then the plugin is relaunched. A sink that answers with an error
// keeps its plugin: the manager retries the batch without calling Open.
func (t *SinkTarget) Open(ctx context.Context) (sdk.Sink, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.opens++
	if t.opens == 1 && !t.inst.Exited() {
		return t.inst.Sink, nil
	}
	old := t.inst
	t.loader.logger.Warn("sink failed, relaunching its plugin", "component", old.ID(), "exited", old.Exited())
	_ = old.Close(ctx)
	inst, err := t.loader.LaunchSource(ctx, old.Source, old.Kind, old.Name)
	if err != nil {
		return nil, fmt.Errorf("failed to relaunch sink plugin %s: %w", old.ID(), err)
	}
	if err := inst.Configure(ctx, old.values); err != nil {
		_ = inst.Close(ctx)
		return nil, fmt.Errorf("failed to relaunch sink plugin %s: %w", old.ID(), err)
	}
	t.inst = inst
	return inst.Sink, nil
}

// Instance returns the current plugin instance.
func (t *SinkTarget) Instance() *Instance {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.inst
}
