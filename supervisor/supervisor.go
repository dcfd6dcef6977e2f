package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/logs"
)

// Supervisor runs a set of processes.
type Supervisor interface {
	// Start starts every process in parallel and returns once each is
	// running or has failed to start (their start errors, joined).
	// Cancelling ctx later shuts everything down, as Stop does.
	Start(ctx context.Context) error
	// Stop stops every process gracefully and in parallel, and returns
	// when all have ended. Cancelling ctx kills what is left at once.
	Stop(ctx context.Context) error
	// Processes returns a snapshot of every process, in configuration
	// order.
	Processes() []ProcessInfo
	// Process returns a snapshot of one process (ErrUnknownProcess).
	Process(name string) (ProcessInfo, error)
	// StartProcess starts a process that is not running (also a failed
	// one); it returns once it runs, or its start error.
	StartProcess(ctx context.Context, name string) error
	// StopProcess stops a process gracefully; it will not be restarted.
	StopProcess(ctx context.Context, name string) error
	// RestartProcess stops the process if it runs and starts it again.
	// Concurrent calls never start two copies.
	RestartProcess(ctx context.Context, name string) error
	// Status returns the supervisor's state and every process's snapshot.
	Status() SupervisorStatus
	// Subscribe returns a channel of every state change. It is buffered
	// and never blocks the supervisor: a subscriber that falls behind
	// loses events, counted in SupervisorStatus.DroppedEvents.
	Subscribe() <-chan SupervisorEvent
}

// SupervisorStatus is a snapshot of the whole supervisor.
type SupervisorStatus struct {
	// State is "new", "running", "stopping" or "stopped".
	State     string
	StartedAt time.Time
	Processes []ProcessInfo
	// DroppedEvents counts the events subscribers lost, in total.
	DroppedEvents uint64
}

// Options configure a Manager.
type Options struct {
	// Logger receives the supervisor's logs.
	Logger hclog.Logger
	// OutputBatch receives every line of every process, from one goroutine
	// per stream: in order, every line framed from one read of one stream
	// at once, so a busy process costs one call per read rather than one
	// per line. It may block, which pauses that stream (backpressure). The
	// lines point into the Block given with them (see logs.Framer.Emit):
	// the callee may keep them without a copy while it holds the Block
	// (logs.Manager.WriteStableBatch does), and must copy them otherwise;
	// the slice is valid only during the call, and the callee may overwrite
	// its entries. Default: the lines are discarded.
	OutputBatch func([]logs.LogEntry, *logs.Block)
	// OutputGrace is how long the output of a process may take to end
	// after the process has exited; then prox gives up on it (see
	// DefaultOutputGrace, the default).
	OutputGrace time.Duration
	// KillWait is how long prox waits for a runner to report a process's
	// exit after SIGKILL before it gives up on the run (see
	// DefaultKillWait, the default).
	KillWait time.Duration
}

// Errors of the Supervisor.
var (
	// ErrUnknownProcess is returned for a name no process has.
	ErrUnknownProcess = errors.New("unknown process")
	// ErrNotRunning is returned when the supervisor was not started or
	// has stopped.
	ErrNotRunning = errors.New("the supervisor is not running")
)

// killGrace bounds how long Stop waits for processes after SIGKILL once
// its context is done. Each process gives up on its run by itself after
// its KillWait (shorter); this is the backstop.
const killGrace = 10 * time.Second

// Manager is the Supervisor.
type Manager struct {
	logger hclog.Logger
	output func([]logs.LogEntry, *logs.Block)
	grace  time.Duration
	// killWait is Options.KillWait.
	killWait time.Duration
	// setMu guards the set of processes (procs, byName), which Apply
	// changes at runtime; take it after mu, never before.
	setMu  sync.RWMutex
	procs  []*managedProcess
	byName map[string]*managedProcess
	bus    *eventBus
	// applyMu serialises Apply.
	applyMu sync.Mutex
	// changed receives a value (coalesced) after every state change.
	changed chan struct{}

	mu        sync.Mutex
	state     string
	startedAt time.Time
	loopCtx   context.Context
	cancel    context.CancelFunc
	stopped   chan struct{} // closed when Stop has finished
	stopOnce  sync.Once
	stopErr   error
	changeC   chan struct{} // closed and replaced at every change
	manual    atomic.Bool   // a process was controlled by request
}

var _ Supervisor = (*Manager)(nil)

// New returns a Manager for specs; nothing starts until Start.
func New(specs []ProcessSpec, opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	output := opts.OutputBatch
	if output == nil {
		output = func([]logs.LogEntry, *logs.Block) {}
	}
	if opts.OutputGrace <= 0 {
		opts.OutputGrace = DefaultOutputGrace
	}
	if opts.KillWait <= 0 {
		opts.KillWait = DefaultKillWait
	}
	s := &Manager{
		logger:   opts.Logger.Named("supervisor"),
		output:   output,
		grace:    opts.OutputGrace,
		killWait: opts.KillWait,
		byName:   make(map[string]*managedProcess, len(specs)),
		bus:      newEventBus(len(specs)),
		changed:  make(chan struct{}, 1),
		state:    "new",
		stopped:  make(chan struct{}),
		changeC:  make(chan struct{}),
	}
	for _, spec := range specs {
		m := s.newProcess(spec)
		s.procs = append(s.procs, m)
		s.byName[spec.Name] = m
	}
	return s
}

// newProcess returns the managed process of spec, not yet running.
func (s *Manager) newProcess(spec ProcessSpec) *managedProcess {
	if spec.Group == "" {
		spec.Group = spec.Name
	}
	m := newManagedProcess(spec, s.logger, s.output, s.bus, s.notify)
	m.outputGrace = s.grace
	m.killWait = s.killWait
	return m
}

// list returns the processes, in configuration order.
func (s *Manager) list() []*managedProcess {
	s.setMu.RLock()
	defer s.setMu.RUnlock()
	return slices.Clone(s.procs)
}

// find returns the named process, if the set has it.
func (s *Manager) find(name string) (*managedProcess, bool) {
	s.setMu.RLock()
	defer s.setMu.RUnlock()
	m, ok := s.byName[name]
	return m, ok
}

func (s *Manager) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
	s.mu.Lock()
	close(s.changeC)
	s.changeC = make(chan struct{})
	s.mu.Unlock()
}

// changes returns a channel closed at the next state change of any
// process.
func (s *Manager) changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changeC
}

// Start implements Supervisor.
func (s *Manager) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.state != "new" {
		s.mu.Unlock()
		return fmt.Errorf("start: the supervisor is %s", s.state)
	}
	s.state, s.startedAt = "running", time.Now()
	s.loopCtx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.mu.Unlock()
	procs := s.list()
	for _, m := range procs {
		m.begin(s.loopCtx)
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Stop(context.Background())
		case <-s.stopped:
		}
	}()
	// Processes without dependencies start now, in parallel; the others
	// wait (starting, with the reason) until their conditions hold.
	return s.startAll(ctx, procs)
}

// startAll starts procs: those without dependencies at once, in parallel,
// and returns once each runs or has failed to start; the others wait
// (starting, with the reason) until their conditions hold.
func (s *Manager) startAll(ctx context.Context, procs []*managedProcess) error {
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, m := range procs {
		if len(m.spec.DependsOn) > 0 {
			reason := "waiting for dependencies"
			if _, _, waiting := s.depsVerdict(m.spec); waiting != "" {
				reason = waiting
			}
			_ = s.sendWith(ctx, m, request{op: opWait, reason: reason, initial: true})
			go s.gate(m.ctxOf(), m)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.send(ctx, m, opStart)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// send hands a request to a process's owner and waits for its answer.
func (s *Manager) send(ctx context.Context, m *managedProcess, op opKind) error {
	return s.sendWith(ctx, m, request{op: op})
}

// sendWith is send of a prepared request.
func (s *Manager) sendWith(ctx context.Context, m *managedProcess, r request) error {
	s.mu.Lock()
	loopCtx := s.loopCtx
	s.mu.Unlock()
	if loopCtx == nil {
		return ErrNotRunning
	}
	r.reply = make(chan error, 1)
	select {
	case m.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-loopCtx.Done():
		return ErrNotRunning
	case <-m.done:
		return removedError(loopCtx, m)
	}
	select {
	case err := <-r.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-loopCtx.Done():
		return ErrNotRunning
	case <-m.done:
		return removedError(loopCtx, m)
	}
}

// removedError is the answer to a request to a process whose owner has
// ended: the supervisor stopped, or a reload removed the process.
func removedError(loopCtx context.Context, m *managedProcess) error {
	if loopCtx.Err() != nil {
		return ErrNotRunning
	}
	return fmt.Errorf("%w %q: removed by a reload", ErrUnknownProcess, m.spec.Name)
}

// Stop implements Supervisor. Every process gets its stop signal at once
// and SIGKILL after its own timeout, so the whole stop takes the longest
// timeout, not the sum.
func (s *Manager) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.state == "new" {
		s.state = "stopped"
		s.mu.Unlock()
		s.stopOnce.Do(func() { close(s.stopped) })
		return nil
	}
	s.mu.Unlock()
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.state = "stopping"
		s.mu.Unlock()
		s.stopErr = s.stopAll(ctx)
		s.mu.Lock()
		s.state = "stopped"
		s.mu.Unlock()
		s.cancel()
		close(s.stopped)
	})
	<-s.stopped
	return s.stopErr
}

// stopAll stops the processes in reverse dependency order: dependents
// first, each level in parallel; the whole stop takes the longest chain of
// stop timeouts.
func (s *Manager) stopAll(ctx context.Context) error {
	s.setMu.RLock()
	lv := levels(s.procs, s.byName)
	s.setMu.RUnlock()
	var errs []error
	for i := len(lv) - 1; i >= 0; i-- {
		errs = append(errs, s.stopLevel(ctx, lv[i]))
	}
	return errors.Join(errs...)
}

func (s *Manager) stopLevel(ctx context.Context, procs []*managedProcess) error {
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, m := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.send(ctx, m, opShutdown)
			if err == nil || ctx.Err() == nil {
				errs[i] = err
				return
			}
			// The context ended first: kill now and wait a bounded time.
			kctx, cancel := context.WithTimeout(context.Background(), killGrace)
			defer cancel()
			_ = s.send(kctx, m, opKill)
			if err := s.send(kctx, m, opShutdown); err != nil {
				errs[i] = fmt.Errorf("process %q did not end after SIGKILL: %w", m.spec.Name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Done returns a channel closed when Stop has finished.
func (s *Manager) Done() <-chan struct{} { return s.stopped }

func (s *Manager) lookup(name string) (*managedProcess, error) {
	m, ok := s.find(name)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownProcess, name)
	}
	return m, nil
}

// StartProcess implements Supervisor.
func (s *Manager) StartProcess(ctx context.Context, name string) error {
	m, err := s.lookup(name)
	if err != nil {
		return err
	}
	s.manual.Store(true)
	return s.send(ctx, m, opStart)
}

// StopProcess implements Supervisor.
func (s *Manager) StopProcess(ctx context.Context, name string) error {
	m, err := s.lookup(name)
	if err != nil {
		return err
	}
	s.manual.Store(true)
	return s.send(ctx, m, opStop)
}

// RestartProcess implements Supervisor.
func (s *Manager) RestartProcess(ctx context.Context, name string) error {
	m, err := s.lookup(name)
	if err != nil {
		return err
	}
	s.manual.Store(true)
	return s.send(ctx, m, opRestart)
}

// SignalProcess delivers sig to the current run of a process (its whole
// process group, or the runner's equivalent). A signal is not a stop: if
// the process dies of it, that is an exit like any other, and its restart
// policy applies.
func (s *Manager) SignalProcess(ctx context.Context, name string, sig syscall.Signal) error {
	m, err := s.lookup(name)
	if err != nil {
		return err
	}
	return s.sendWith(ctx, m, request{op: opSignal, signal: sig})
}

// ManuallyControlled reports whether a process was started, stopped or
// restarted by request (StartProcess, StopProcess, RestartProcess) since
// Start: prox up then keeps running when everything has stopped, since
// its user is steering.
func (s *Manager) ManuallyControlled() bool { return s.manual.Load() }

// Processes implements Supervisor.
func (s *Manager) Processes() []ProcessInfo {
	procs := s.list()
	out := make([]ProcessInfo, len(procs))
	for i, m := range procs {
		out[i] = m.info()
	}
	return out
}

// Process implements Supervisor.
func (s *Manager) Process(name string) (ProcessInfo, error) {
	m, err := s.lookup(name)
	if err != nil {
		return ProcessInfo{}, err
	}
	return m.info(), nil
}

// Status implements Supervisor.
func (s *Manager) Status() SupervisorStatus {
	s.mu.Lock()
	st := SupervisorStatus{State: s.state, StartedAt: s.startedAt}
	s.mu.Unlock()
	st.Processes = s.Processes()
	st.DroppedEvents = s.bus.dropped.Load()
	return st
}

// Subscribe implements Supervisor.
func (s *Manager) Subscribe() <-chan SupervisorEvent { return s.bus.subscribe() }

// Unsubscribe ends a subscription, closes its channel and returns how many
// events it lost.
func (s *Manager) Unsubscribe(ch <-chan SupervisorEvent) uint64 { return s.bus.unsubscribe(ch) }

// Changed returns a channel that receives a value (coalesced) after state
// changes; use Settled to see whether anything is still going on.
func (s *Manager) Changed() <-chan struct{} { return s.changed }

// Settled reports whether no process is starting, running, stopping or
// waiting to restart: nothing will happen without a request.
func (s *Manager) Settled() bool {
	for _, m := range s.list() {
		if !m.settled.Load() {
			return false
		}
	}
	return true
}
