package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/logs"
)

// Options configure a Supervisor.
type Options struct {
	// Logger receives the supervisor's logs.
	Logger hclog.Logger
	// Output receives every line of every process, from one goroutine per
	// stream; it may block, which pauses that stream (backpressure). Its
	// entry's Line is valid only during the call.
	Output func(logs.LogEntry)
}

// Supervisor runs a set of processes.
type Supervisor struct {
	logger hclog.Logger
	procs  []*managedProcess
	byName map[string]*managedProcess
	// idle receives a value whenever a run ends; Idle tells whether any
	// process still runs.
	idle chan struct{}
}

// ErrUnknownProcess is returned for a name no process has.
var ErrUnknownProcess = errors.New("unknown process")

// New returns a Supervisor for specs; nothing starts until Start.
func New(specs []ProcessSpec, opts Options) *Supervisor {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Output == nil {
		opts.Output = func(logs.LogEntry) {}
	}
	s := &Supervisor{
		logger: opts.Logger.Named("supervisor"),
		byName: make(map[string]*managedProcess, len(specs)),
		idle:   make(chan struct{}, 1),
	}
	for _, spec := range specs {
		m := newManagedProcess(spec, s.logger, opts.Output, s.runEnded)
		s.procs = append(s.procs, m)
		s.byName[spec.Name] = m
	}
	return s
}

func (s *Supervisor) runEnded() {
	select {
	case s.idle <- struct{}{}:
	default:
	}
}

// Start starts every process, in parallel. It returns the start errors of
// the processes that could not start (they are then failed); the others
// run.
func (s *Supervisor) Start(ctx context.Context) error {
	errs := make([]error, len(s.procs))
	var wg sync.WaitGroup
	for i, m := range s.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.start(ctx)
		}()
	}
	wg.Wait()
	s.runEnded()
	return errors.Join(errs...)
}

// Stop stops every running process at once and returns when all have
// ended: the stop signal to each, SIGKILL to those still alive after their
// own timeout. It takes the longest timeout, not their sum.
func (s *Supervisor) Stop(ctx context.Context) error {
	errs := make([]error, len(s.procs))
	var wg sync.WaitGroup
	for i, m := range s.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.stop(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Processes returns a snapshot of every process, in configuration order.
func (s *Supervisor) Processes() []ProcessInfo {
	out := make([]ProcessInfo, len(s.procs))
	for i, m := range s.procs {
		out[i] = m.info()
	}
	return out
}

// Process returns a snapshot of one process.
func (s *Supervisor) Process(name string) (ProcessInfo, error) {
	m, ok := s.byName[name]
	if !ok {
		return ProcessInfo{}, fmt.Errorf("%w %q", ErrUnknownProcess, name)
	}
	return m.info(), nil
}

// Changed returns a channel that receives a value when a run of some
// process ends (coalesced); use Active to see whether any still runs.
func (s *Supervisor) Changed() <-chan struct{} { return s.idle }

// Active reports whether any process is starting, running or stopping.
func (s *Supervisor) Active() bool {
	for _, m := range s.procs {
		switch m.info().State {
		case StateStarting, StateRunning, StateStopping:
			return true
		}
	}
	return false
}
