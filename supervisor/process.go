package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/sdk"
)

// ProcessSpec is what the supervisor needs to run one process.
type ProcessSpec struct {
	// Name is the process's name.
	Name string
	// Runner starts the process; RunnerName names it for display
	// ("exec", "ssh.staging").
	Runner     sdk.Runner
	RunnerName string
	// Config is handed to the runner on every start.
	Config sdk.ProcessConfig
	// StopSignal starts a graceful stop; default SIGTERM.
	StopSignal syscall.Signal
	// StopTimeout is how long a stop waits before SIGKILL; default 10s.
	StopTimeout time.Duration
}

// ExitStatus is how a run of a process ended.
type ExitStatus struct {
	// Code is the exit code, -1 when a signal ended the process.
	Code int
	// Signal is the terminating signal's name, "" if none.
	Signal string
	// Error is set when the outcome is unknown (e.g. the runner plugin
	// died).
	Error string
	// Time is when the exit was observed.
	Time time.Time
}

// ProcessInfo is a snapshot of one process.
type ProcessInfo struct {
	Name      string
	State     State
	PID       int
	Runner    string
	Restarts  int
	StartedAt time.Time
	Uptime    time.Duration
	LastExit  *ExitStatus
	// Reason explains the state when it is not obvious (a start error).
	Reason string
}

// managedProcess owns one process's state; every field below mu is guarded
// by it, and every state change goes through setState.
type managedProcess struct {
	spec   ProcessSpec
	logger hclog.Logger
	output func(logs.LogEntry)
	onExit func()

	mu            sync.Mutex
	state         State
	proc          sdk.Process
	pid           int
	startedAt     time.Time
	restarts      int
	lastExit      *ExitStatus
	reason        string
	stopRequested bool
	killed        bool
	exited        chan struct{} // closed when the current run has ended
}

func newManagedProcess(spec ProcessSpec, logger hclog.Logger, output func(logs.LogEntry), onExit func()) *managedProcess {
	if spec.StopSignal == 0 {
		spec.StopSignal = syscall.SIGTERM
	}
	if spec.StopTimeout <= 0 {
		spec.StopTimeout = 10 * time.Second
	}
	return &managedProcess{
		spec:   spec,
		logger: logger.With("process", spec.Name),
		output: output,
		onExit: onExit,
		state:  StateStopped,
	}
}

// setState moves to the next state; the caller holds mu.
func (m *managedProcess) setState(to State) error {
	if !canTransition(m.state, to) {
		return &ErrTransition{Process: m.spec.Name, From: m.state, To: to}
	}
	m.logger.Debug("state change", "from", m.state, "to", to)
	m.state = to
	return nil
}

func (m *managedProcess) info() ProcessInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	pi := ProcessInfo{
		Name: m.spec.Name, State: m.state, PID: m.pid, Runner: m.spec.RunnerName,
		Restarts: m.restarts, StartedAt: m.startedAt, LastExit: m.lastExit, Reason: m.reason,
	}
	if m.state == StateRunning || m.state == StateStopping {
		pi.Uptime = time.Since(m.startedAt)
	}
	return pi
}

// start starts one run of the process. It returns an error when the runner
// could not start it; the process is then failed.
func (m *managedProcess) start(ctx context.Context) error {
	m.mu.Lock()
	if err := m.setState(StateStarting); err != nil {
		m.mu.Unlock()
		return err
	}
	m.stopRequested, m.killed, m.reason = false, false, ""
	m.mu.Unlock()

	cfg := m.spec.Config
	proc, err := m.spec.Runner.Start(ctx, &cfg)

	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.reason = err.Error()
		_ = m.setState(StateFailed)
		return fmt.Errorf("failed to start %q: %w", m.spec.Name, err)
	}
	m.proc, m.pid, m.startedAt = proc, proc.PID(), time.Now()
	m.exited = make(chan struct{})
	_ = m.setState(StateRunning)
	m.logger.Info("started", "pid", m.pid, "runner", m.spec.RunnerName)
	go m.watch(proc, m.exited)
	return nil
}

// watch captures the run's output and waits for its end.
func (m *managedProcess) watch(proc sdk.Process, exited chan struct{}) {
	var wg sync.WaitGroup
	for _, s := range []struct {
		stream sdk.Stream
		read   func() error
	}{
		{sdk.Stdout, func() error { return m.framer(sdk.Stdout).Run(proc.Stdout()) }},
		{sdk.Stderr, func() error { return m.framer(sdk.Stderr).Run(proc.Stderr()) }},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.read(); err != nil {
				m.logger.Warn("output ended with an error", "stream", s.stream, "error", err)
			}
		}()
	}
	waitErr := proc.Wait()
	wg.Wait()
	status := exitStatus(waitErr)

	m.mu.Lock()
	m.lastExit = &status
	m.proc = nil
	switch {
	case m.stopRequested && m.killed:
		_ = m.setState(StateCrashed)
	case m.stopRequested, status.Code == 0 && status.Signal == "" && status.Error == "":
		_ = m.setState(StateStopped)
	default:
		_ = m.setState(StateCrashed)
	}
	state := m.state
	close(exited)
	m.mu.Unlock()

	m.logger.Info("exited", "state", state, "code", status.Code, "signal", status.Signal, "error", status.Error)
	m.onExit()
}

func (m *managedProcess) framer(stream sdk.Stream) *logs.Framer {
	return &logs.Framer{Process: m.spec.Name, Stream: stream, Emit: m.output}
}

// exitStatus turns a Process.Wait error into an ExitStatus.
func exitStatus(err error) ExitStatus {
	st := ExitStatus{Time: time.Now()}
	var exitErr *sdk.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		st.Code, st.Signal = exitErr.Code, exitErr.Signal
	default:
		st.Code, st.Error = -1, err.Error()
	}
	return st
}

// stop stops the current run gracefully: the stop signal, then SIGKILL
// after the timeout. It returns when the run has ended or ctx is done.
func (m *managedProcess) stop(ctx context.Context) error {
	m.mu.Lock()
	if m.state != StateRunning {
		m.mu.Unlock()
		return nil
	}
	m.stopRequested = true
	_ = m.setState(StateStopping)
	proc, exited := m.proc, m.exited
	m.mu.Unlock()

	m.logger.Debug("stopping", "signal", m.spec.StopSignal, "timeout", m.spec.StopTimeout)
	if err := proc.Signal(m.spec.StopSignal); err != nil {
		m.logger.Warn("failed to send the stop signal", "error", err)
	}
	timer := time.NewTimer(m.spec.StopTimeout)
	defer timer.Stop()
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
	case <-timer.C:
	}
	m.mu.Lock()
	m.killed = true
	m.mu.Unlock()
	m.logger.Warn("stop timeout expired, sending SIGKILL", "timeout", m.spec.StopTimeout)
	if err := proc.Signal(syscall.SIGKILL); err != nil {
		m.logger.Warn("failed to send SIGKILL", "error", err)
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopping %q: %w", m.spec.Name, ctx.Err())
	}
}
