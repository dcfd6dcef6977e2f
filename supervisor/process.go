package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor/policy"
)

// ProcessSpec is what the supervisor needs to run one process.
type ProcessSpec struct {
	// Name is the process's name.
	Name string
	// Group is the name of the process block this process is an instance
	// of (replicas); default Name.
	Group string
	// Runner starts the process; RunnerName names it for display
	// ("exec", "ssh.staging").
	Runner     sdk.Runner
	RunnerName string
	// Config is handed to the runner on every start.
	Config sdk.ProcessConfig
	// StopSignal starts a graceful stop; default
	// policy.DefaultStopSignal.
	StopSignal syscall.Signal
	// StopTimeout is how long a stop waits before SIGKILL; default
	// policy.DefaultStopTimeout.
	StopTimeout time.Duration
	// Restart is the restart policy; its zero fields take their defaults.
	Restart RestartPolicy
	// DependsOn lists the processes this one waits for at start.
	DependsOn []Dependency
	// Health is the health check; nil for none.
	Health *HealthSpec
	// Fingerprint identifies everything the process is made of (its
	// attributes, its runner's and sinks' blocks, its env_file's content):
	// Diff restarts a process whose fingerprint changed and leaves one
	// whose fingerprint is the same running. "" compares as any other
	// value.
	Fingerprint string
}

// Dependency is one process another waits for, and the condition it waits
// for.
type Dependency struct {
	Name string
	// Condition is one of the policy.Condition constants; default
	// policy.ConditionStarted.
	Condition string
}

// ExitStatus is how a run of a process ended.
type ExitStatus struct {
	// Code is the exit code, -1 when a signal ended the process or the
	// outcome is unknown.
	Code int
	// Signal is the terminating signal's name, "" if none.
	Signal string
	// Error is set when the outcome is unknown (e.g. the runner plugin
	// died).
	Error string
	// RunnerDied: the runner plugin died, and the process with it (its
	// exit status is unknown).
	RunnerDied bool
	// Time is when the exit was observed.
	Time time.Time
}

// ProcessInfo is a snapshot of one process.
type ProcessInfo struct {
	Name string
	// Group is the process block the process is an instance of (its
	// spec's Group): Name for a process of one instance.
	Group  string
	State  State
	PID    int
	Runner string
	// Restarts counts the restarts of the process: by policy, and by
	// RestartProcess.
	Restarts  int
	StartedAt time.Time
	Uptime    time.Duration
	LastExit  *ExitStatus
	// NextRestart is when the next start is due, while in StateBackoff.
	NextRestart time.Time
	// Reason explains the state when it is not obvious (a start error, the
	// restart limit, a dead runner plugin, the dependencies waited for).
	Reason string
	// Health is the health check's view; nil without a check.
	Health *HealthInfo
	// Containment says what keeps the running process's descendants from
	// outliving it, as its runner reports it (sdk.Containment): "cgroup",
	// "subreaper", "process-group". When it does not run, the last run's
	// (in backoff, between two runs, too); "" before the first run or when
	// not reported.
	Containment string
	// Cgroup is the running process's cgroup v2 folder on this machine,
	// as its runner reports it (sdk.LocalCgroup); "" when not running or
	// not reported.
	Cgroup string
}

// opKind is a request to a process's owner goroutine.
type opKind int

const (
	opStart opKind = iota
	opStop
	opRestart
	opShutdown // stop, and never restart again
	opKill     // SIGKILL now, if it runs
	opWait     // the first start waits for dependencies: starting, no run yet
	opFail     // a dependency failed: give up the start
	opReady    // the dependencies hold: start, if still waiting for them
	opSignal   // deliver a signal to the current run
)

type request struct {
	op     opKind
	reply  chan error     // buffered: the owner never blocks on it
	reason string         // opWait, opFail
	signal syscall.Signal // opSignal
	// initial marks the opWait of Supervisor.Start, the only one that
	// enters the waiting state; later ones only update the reason.
	initial bool
}

// runExit is how a run ended, as its watcher reports it.
type runExit struct {
	run uint64 // m.run of the run
	st  ExitStatus
}

type startResult struct {
	gen  uint64 // m.startGen of the start
	proc sdk.Process
	err  error
}

// ErrNotRunningProcess is returned when a signal is sent to a process that
// does not run.
var ErrNotRunningProcess = errors.New("not running")

// ErrShutdown is returned to requests that the supervisor's shutdown
// overtook.
var ErrShutdown = errors.New("the supervisor is shutting down")

// managedProcess is one process and the goroutine that owns its state:
// every request and every outcome (start done, exit, timers) goes through
// its loop, one at a time, so no two runs can ever overlap and every state
// change is checked against the diagram.
type managedProcess struct {
	spec   ProcessSpec
	logger hclog.Logger
	output func([]logs.LogEntry, *logs.Block)
	bus    *eventBus
	notify func()
	now    func() time.Time
	reqs   chan request
	// outputGrace: how long the output may take to end after the exit.
	outputGrace time.Duration
	// killWait: how long the exit may take to be reported after SIGKILL
	// (Options.KillWait).
	killWait time.Duration
	// runCtx is the loop's context, set by begin; endLoop ends the loop
	// (the process was removed), which then closes done.
	runCtx  context.Context
	endLoop context.CancelFunc
	done    chan struct{}

	// Owned by loop.
	ctx           context.Context // the loop's; runs' start contexts derive from it
	state         State
	proc          sdk.Process
	pid           int
	startedAt     time.Time
	containment   string // the last run's (sdk.Containment)
	restarts      int
	consecutive   int // restarts since the backoff was last reset
	burst         burst
	lastExit      *ExitStatus
	reason        string
	nextRestart   time.Time
	stopRequested bool   // the current run is being stopped on request
	killed        bool   // ... and needed SIGKILL
	killReason    string // ... and why: the reason of the stopped state
	pendingStart  bool   // start again once the current run has ended
	shutdown      bool   // no restart from now on
	waitStopped   []chan error
	waitRunning   []chan error
	backoffC      <-chan time.Time
	backoffTimer  *time.Timer
	stopC         <-chan time.Time
	stopTimer     *time.Timer
	abandonC      <-chan time.Time // fires killWait after SIGKILL
	abandonTimer  *time.Timer
	// startStopC fires when a start that a stop waits for has taken the
	// stop timeout plus killWait (giveUpStart).
	startStopC     <-chan time.Time
	startStopTimer *time.Timer
	startGen       uint64 // the start in progress (launch); older results are late
	cancelStart    context.CancelFunc
	startDone      chan startResult
	exited         chan runExit
	waitingDeps    bool // starting, but waiting for dependencies
	run            uint64
	health         *HealthInfo
	healthC        chan healthResult
	cancelHealth   context.CancelFunc
	unhealthy      bool // the current run is being stopped as unhealthy

	mu   sync.Mutex
	snap ProcessInfo
	// statter is the current run's process while it runs, nil otherwise.
	statter sdk.ProcessStatter
	// settled: not active and not waiting to restart, as of the end of
	// the last step of the loop.
	settled atomic.Bool
}

func newManagedProcess(spec ProcessSpec, logger hclog.Logger, output func([]logs.LogEntry, *logs.Block), bus *eventBus, notify func()) *managedProcess {
	if spec.StopSignal == 0 {
		spec.StopSignal = policy.DefaultStopSignal
	}
	if spec.StopTimeout <= 0 {
		spec.StopTimeout = policy.DefaultStopTimeout
	}
	spec.Restart = spec.Restart.withDefaults()
	m := &managedProcess{
		spec:      spec,
		logger:    logger.With("process", spec.Name),
		output:    output,
		bus:       bus,
		notify:    notify,
		now:       time.Now,
		reqs:      make(chan request),
		state:     StateStopped,
		startDone: make(chan startResult), // unbuffered: a result the loop did not take is killed
		exited:    make(chan runExit, 1),
		done:      make(chan struct{}),

		outputGrace: DefaultOutputGrace,
		killWait:    DefaultKillWait,
	}
	if spec.Health != nil {
		spec.Health.withDefaults()
		m.spec.Health = spec.Health
		m.health = &HealthInfo{Status: HealthUnknown}
		m.healthC = make(chan healthResult, 1)
	}
	m.snapshot()
	m.settled.Store(true)
	return m
}

// begin starts the owner goroutine, until parent ends or the process is
// removed (end).
func (m *managedProcess) begin(parent context.Context) {
	m.runCtx, m.endLoop = context.WithCancel(parent)
	go m.loop(m.runCtx)
}

// ctxOf is the loop's context: done once the process is removed or the
// supervisor has stopped.
func (m *managedProcess) ctxOf() context.Context { return m.runCtx }

// end stops the owner goroutine of a process that was shut down, and
// waits for it to return.
func (m *managedProcess) end() {
	if m.endLoop == nil {
		return
	}
	m.endLoop()
	<-m.done
}

// loop owns the process until ctx ends.
func (m *managedProcess) loop(ctx context.Context) {
	m.ctx = ctx
	defer close(m.done)
	defer func() {
		if m.cancelStart != nil {
			m.cancelStart()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-m.reqs:
			m.handle(r)
		case res := <-m.startDone:
			if res.gen != m.startGen || m.cancelStart == nil {
				m.lateStart(res)
			} else {
				m.started(res)
			}
		case <-m.startStopC:
			m.startStopC, m.startStopTimer = nil, nil
			m.giveUpStart()
		case ex := <-m.exited:
			// The exit of a run given up on (abandon) comes late, if at
			// all: that run has ended already.
			if ex.run == m.run && m.proc != nil {
				m.ended(ex.st)
			}
		case <-m.backoffC:
			m.backoffC, m.backoffTimer = nil, nil
			m.restarts++
			m.beginStart()
		case <-m.stopC:
			m.stopC, m.stopTimer = nil, nil
			m.kill("stop timeout expired, sending SIGKILL", fmt.Sprintf("killed after the stop timeout (%s)", m.spec.StopTimeout))
		case <-m.abandonC:
			m.abandonC, m.abandonTimer = nil, nil
			m.abandon()
		case res := <-m.healthC:
			m.healthChecked(res)
		}
		m.snapshot()
		// Settled is published only here, between two steps, never from
		// the middle of one (crashed, then backoff, is one step).
		m.settled.Store(!m.state.active() && m.state != StateBackoff)
		m.notify()
	}
}

func (m *managedProcess) handle(r request) {
	switch r.op {
	case opWait:
		if r.initial && (m.state == StateStopped || m.state == StateCrashed || m.state == StateFailed) {
			m.waitingDeps = true
			m.transition(StateStarting, nil, r.reason)
		} else if m.waitingDeps {
			m.reason = r.reason
		}
		r.reply <- nil
	case opFail:
		if m.waitingDeps {
			m.waitingDeps = false
			m.transition(StateFailed, nil, r.reason)
			m.answer(&m.waitRunning, fmt.Errorf("process %q: %s", m.spec.Name, r.reason), true)
		}
		r.reply <- nil
	case opSignal:
		if m.proc == nil || (m.state != StateRunning && m.state != StateStopping) {
			r.reply <- fmt.Errorf("%w: process %q is %s", ErrNotRunningProcess, m.spec.Name, m.state)
			return
		}
		proc, sig := m.proc, r.signal
		go func() { r.reply <- proc.Signal(sig) }()
	case opReady:
		if !m.waitingDeps {
			r.reply <- nil
			return
		}
		m.waitingDeps = false
		m.waitRunning = append(m.waitRunning, r.reply)
		m.launch()
	case opStart, opRestart:
		if m.shutdown {
			// Shut down (the supervisor stops, or a reload removes or
			// replaces the process): nothing starts it again.
			r.reply <- fmt.Errorf("%w: process %q", ErrShutdown, m.spec.Name)
			return
		}
		if r.op == opRestart {
			m.restart(r)
			return
		}
		if m.waitingDeps {
			m.waitingDeps = false
			m.waitRunning = append(m.waitRunning, r.reply)
			m.launch()
			return
		}
		switch m.state {
		case StateRunning:
			r.reply <- nil
		case StateStarting:
			m.waitRunning = append(m.waitRunning, r.reply)
		case StateStopping:
			m.pendingStart = true
			m.waitRunning = append(m.waitRunning, r.reply)
		default: // stopped, crashed, failed, backoff: a manual start
			m.cancelBackoff()
			m.burst.reset()
			m.consecutive = 0
			m.waitRunning = append(m.waitRunning, r.reply)
			m.beginStart()
		}
	case opStop, opShutdown:
		if r.op == opShutdown {
			m.shutdown = true
		}
		m.pendingStart = false
		m.answer(&m.waitRunning, ErrShutdown, r.op == opShutdown)
		switch m.state {
		case StateRunning:
			m.waitStopped = append(m.waitStopped, r.reply)
			m.beginStop()
		case StateStarting:
			if m.waitingDeps {
				m.waitingDeps = false
				m.transition(StateStopped, nil, "stopped while waiting for dependencies")
				r.reply <- nil
				break
			}
			// Stopped as soon as the start completes; a start that never
			// does (its runner does not answer) is given up on.
			m.stopRequested = true
			m.waitStopped = append(m.waitStopped, r.reply)
			if m.startStopTimer == nil {
				m.startStopTimer = time.NewTimer(m.spec.StopTimeout + m.killWait)
				m.startStopC = m.startStopTimer.C
			}
		case StateStopping:
			m.waitStopped = append(m.waitStopped, r.reply)
		case StateBackoff:
			m.cancelBackoff()
			m.transition(StateStopped, nil, "stopped while waiting to restart")
			r.reply <- nil
		default:
			r.reply <- nil
		}
	case opKill:
		if m.state == StateStopping || m.state == StateRunning {
			m.stopRequested = true
			if m.state == StateRunning {
				m.transition(StateStopping, nil, "")
			}
			m.kill("killing at once", "killed at once on request")
		}
		r.reply <- nil
	}
}

// restart handles opRestart.
func (m *managedProcess) restart(r request) {
	switch m.state {
	case StateRunning:
		m.pendingStart = true
		m.waitRunning = append(m.waitRunning, r.reply)
		m.beginStop()
	case StateStarting:
		// Concurrent restarts coalesce: the run being started is
		// the restarted one.
		m.waitRunning = append(m.waitRunning, r.reply)
	case StateStopping:
		m.pendingStart = true
		m.waitRunning = append(m.waitRunning, r.reply)
	default:
		m.cancelBackoff()
		m.waitRunning = append(m.waitRunning, r.reply)
		m.restarts++
		m.beginStart()
	}
}

// answer sends err to every waiter in *ws and clears it; with only=false it
// does nothing (used to answer start waiters only on shutdown).
func (m *managedProcess) answer(ws *[]chan error, err error, only bool) {
	if !only {
		return
	}
	for _, w := range *ws {
		w <- err
	}
	*ws = nil
}

func (m *managedProcess) beginStart() {
	m.transition(StateStarting, nil, "")
	m.launch()
}

// launch asks the runner to start a run; the state is already starting.
func (m *managedProcess) launch() {
	m.stopRequested, m.killed, m.unhealthy, m.reason, m.killReason = false, false, false, "", ""
	startCtx, cancel := context.WithCancel(m.ctx)
	m.cancelStart = cancel
	m.startGen++
	gen, cfg, runner, loopCtx := m.startGen, m.spec.Config, m.spec.Runner, m.ctx
	go func() {
		proc, err := runner.Start(startCtx, &cfg)
		select {
		case m.startDone <- startResult{gen: gen, proc: proc, err: err}:
		case <-loopCtx.Done():
			if proc != nil {
				_ = proc.Signal(syscall.SIGKILL) // nobody owns it
			}
		}
	}()
}

// giveUpStart ends a start that a stop has waited for longer than the
// stop timeout plus killWait: its runner does not answer (its plugin is
// frozen). The start is cancelled and its late result, if one comes, is
// killed (lateStart).
func (m *managedProcess) giveUpStart() {
	if m.state != StateStarting || m.cancelStart == nil {
		return
	}
	m.cancelStart()
	m.cancelStart = nil
	m.startGen++ // the pending result is now late
	why := fmt.Sprintf("its runner %s did not answer the start within %s of the stop", m.spec.RunnerName, m.spec.StopTimeout+m.killWait)
	m.logger.Error("giving up on the start: its runner did not answer", "runner", m.spec.RunnerName, "waited", m.spec.StopTimeout+m.killWait)
	m.transition(StateStopped, nil, why)
	m.answer(&m.waitRunning, fmt.Errorf("process %q: %s", m.spec.Name, why), true)
	m.answer(&m.waitStopped, nil, true)
}

// lateStart handles the result of a start given up on: a process it
// started after all is killed, since nothing owns it.
func (m *managedProcess) lateStart(res startResult) {
	if res.proc == nil {
		return
	}
	m.logger.Warn("killing a process whose start was given up on", "pid", res.proc.PID())
	go func() { _ = res.proc.Signal(syscall.SIGKILL) }()
}

func (m *managedProcess) started(res startResult) {
	m.cancelStart()
	m.cancelStart = nil
	if m.startStopTimer != nil {
		m.startStopTimer.Stop()
	}
	m.startStopTimer, m.startStopC = nil, nil
	if res.err != nil {
		// Runners return the cause; the process is named here, once.
		err := fmt.Errorf("failed to start %q: %w", m.spec.Name, res.err)
		m.logger.Error("start failed", "error", res.err)
		switch {
		case m.shutdown || m.stopRequested:
			m.transition(StateStopped, nil, err.Error())
		case m.spec.Restart.Policy != policy.RestartNever:
			m.reason = err.Error()
			m.scheduleRestart(err.Error())
		default:
			m.transition(StateFailed, nil, err.Error())
		}
		// Answer after the state change, so callers see it.
		m.answer(&m.waitRunning, err, true)
		m.answer(&m.waitStopped, nil, true)
		return
	}
	m.proc, m.pid, m.startedAt = res.proc, res.proc.PID(), m.now()
	m.containment = ""
	if c, ok := res.proc.(sdk.Containment); ok {
		m.containment = c.Containment()
	}
	m.transition(StateRunning, nil, "")
	m.logger.Info("started", "pid", m.pid, "runner", m.spec.RunnerName)
	m.answer(&m.waitRunning, nil, true)
	m.run++
	probe := m.startHealth(res.proc)
	observer, _ := probe.(LineObserver)
	go m.watch(res.proc, observer, m.run)
	if m.stopRequested {
		m.beginStop()
	}
}

// exitStatus turns a Process.Wait error into an ExitStatus. A runner
// plugin that died says so first: "its plugin died: wait: plugin
// unavailable: error reading from server: EOF".
func exitStatus(err error, now time.Time) ExitStatus {
	st := ExitStatus{Time: now}
	var exitErr *sdk.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		st.Code, st.Signal = exitErr.Code, exitErr.Signal
	case errors.Is(err, sdk.ErrPluginUnavailable):
		st.Code, st.Error, st.RunnerDied = -1, "its plugin died: "+err.Error(), true
	default:
		st.Code, st.Error = -1, err.Error()
	}
	return st
}

// ended handles the end of a run.
func (m *managedProcess) ended(st ExitStatus) {
	m.cancelStop()
	m.cancelAbandon()
	m.stopHealth()
	m.proc = nil
	m.lastExit = &st
	uptime := st.Time.Sub(m.startedAt)
	if uptime >= m.spec.Restart.ResetAfter {
		m.consecutive = 0
	}
	if m.stopRequested && m.unhealthy && !m.pendingStart {
		// A liveness failure: a crash for the restart policy.
		m.unhealthy = false
		m.transition(StateCrashed, &st, m.reason)
		m.logExit(st)
		m.answer(&m.waitStopped, nil, true)
		if !m.shutdown && m.spec.Restart.Policy != policy.RestartNever {
			m.scheduleRestart(m.reason)
		}
		return
	}
	if m.stopRequested {
		// A stop that was asked for ends stopped, even when it needed
		// SIGKILL: only an exit nobody asked for is a crash (and alerts).
		reason := ""
		if m.killed {
			reason = m.killReason
		}
		m.transition(StateStopped, &st, reason)
		m.logExit(st)
		m.answer(&m.waitStopped, nil, true)
		if m.pendingStart && !m.shutdown {
			m.pendingStart = false
			m.restarts++
			m.beginStart()
		}
		return
	}
	success := m.spec.Restart.success(st)
	switch {
	case st.Error != "":
		m.transition(StateCrashed, &st, fmt.Sprintf("runner %s: %s", m.spec.RunnerName, st.Error))
	case success:
		m.transition(StateStopped, &st, "")
	default:
		m.transition(StateCrashed, &st, "")
	}
	m.logExit(st)
	m.answer(&m.waitStopped, nil, true)
	if !m.shutdown && m.spec.Restart.wantsRestart(success) {
		m.scheduleRestart("")
	}
}

func (m *managedProcess) logExit(st ExitStatus) {
	args := []any{"state", m.state, "code", st.Code}
	if st.Signal != "" {
		args = append(args, "signal", st.Signal)
	}
	if st.Error != "" {
		args = append(args, "error", st.Error)
	}
	if m.reason != "" {
		args = append(args, "reason", m.reason)
	}
	m.logger.Info("exited", args...)
}

// scheduleRestart moves to backoff, or to failed past the burst limit.
func (m *managedProcess) scheduleRestart(reason string) {
	now := m.now()
	p := m.spec.Restart
	if !m.burst.allow(now, p.MaxRestarts, p.Window) {
		m.transition(StateFailed, nil, fmt.Sprintf("restart limit reached: %d restarts within %s", p.MaxRestarts, p.Window))
		m.logger.Error("restart limit reached, giving up", "max_restarts", p.MaxRestarts, "window", p.Window)
		return
	}
	d := p.delay(m.consecutive, nil)
	m.consecutive++
	m.nextRestart = now.Add(d)
	m.transition(StateBackoff, nil, reason)
	m.logger.Debug("restarting after backoff", "delay", d)
	m.backoffTimer = time.NewTimer(d)
	m.backoffC = m.backoffTimer.C
}

func (m *managedProcess) cancelBackoff() {
	if m.backoffTimer != nil {
		m.backoffTimer.Stop()
	}
	m.backoffTimer, m.backoffC = nil, nil
	m.nextRestart = time.Time{}
}

func (m *managedProcess) cancelAbandon() {
	if m.abandonTimer != nil {
		m.abandonTimer.Stop()
	}
	m.abandonTimer, m.abandonC = nil, nil
}

// abandon gives up on the current run when its runner has not reported
// its exit killWait after SIGKILL: the runner plugin does not answer
// (frozen, kill -STOP, or stuck). The run ends here, as a stop that
// needed SIGKILL, with the reason saying so, and the process can be
// started again; the run's watcher stays blocked on the runner until it
// answers or its plugin is shut down, and its late exit is ignored.
func (m *managedProcess) abandon() {
	if m.proc == nil {
		return
	}
	why := fmt.Sprintf("its runner %s did not report the exit within %s of SIGKILL", m.spec.RunnerName, m.killWait)
	m.logger.Error("giving up on the process: its runner did not report the exit after SIGKILL",
		"runner", m.spec.RunnerName, "pid", m.pid, "waited", m.killWait)
	if m.killReason != "" {
		m.killReason += "; " + why
	} else {
		m.killReason = why
	}
	m.ended(ExitStatus{Code: -1, Signal: "SIGKILL", Error: "exit not reported by the runner", Time: m.now()})
}

func (m *managedProcess) cancelStop() {
	if m.stopTimer != nil {
		m.stopTimer.Stop()
	}
	m.stopTimer, m.stopC = nil, nil
}

// beginStop sends the stop signal and arms the SIGKILL timer.
func (m *managedProcess) beginStop() {
	m.stopRequested = true
	m.transition(StateStopping, nil, "")
	proc, sig := m.proc, m.spec.StopSignal
	m.logger.Debug("stopping", "signal", sig, "timeout", m.spec.StopTimeout)
	go func() {
		if err := proc.Signal(sig); err != nil {
			m.logger.Warn("failed to send the stop signal", "error", err)
		}
	}()
	m.stopTimer = time.NewTimer(m.spec.StopTimeout)
	m.stopC = m.stopTimer.C
}

// kill sends SIGKILL to the current run: why is logged, reason becomes
// the reason of the stopped state.
func (m *managedProcess) kill(why, reason string) {
	if m.proc == nil {
		return
	}
	m.killed, m.killReason = true, reason
	m.cancelStop()
	m.logger.Warn(why, "timeout", m.spec.StopTimeout)
	if m.abandonTimer == nil {
		// A runner that does not answer never reports the exit: the run
		// is given up on after killWait (abandon).
		m.abandonTimer = time.NewTimer(m.killWait)
		m.abandonC = m.abandonTimer.C
	}
	proc := m.proc
	go func() {
		if err := proc.Signal(syscall.SIGKILL); err != nil {
			m.logger.Warn("failed to send SIGKILL", "error", err)
		}
	}()
}

// transition changes the state, publishes the event and refreshes the
// snapshot. A change outside the diagram is refused and logged: it is a
// bug, never a user error.
func (m *managedProcess) transition(to State, exit *ExitStatus, reason string) {
	from := m.state
	if !canTransition(from, to) {
		m.logger.Error("refused state transition", "error", &ErrTransition{Process: m.spec.Name, From: from, To: to})
		return
	}
	m.state = to
	if reason != "" || to == StateStarting || to == StateRunning {
		m.reason = reason
	}
	if to != StateBackoff {
		m.nextRestart = time.Time{}
	}
	ev := SupervisorEvent{
		Time: m.now(), Type: EventState, Process: m.spec.Name, From: from, To: to, Exit: exit,
		Restarts: m.restarts, Reason: m.reason, NextRestart: m.nextRestart,
	}
	m.snapshot()
	m.bus.publish(ev)
}

func (m *managedProcess) snapshot() {
	info := ProcessInfo{
		Name: m.spec.Name, Group: m.spec.Group, State: m.state, Runner: m.spec.RunnerName, Restarts: m.restarts,
		LastExit: m.lastExit, NextRestart: m.nextRestart, Reason: m.reason, Containment: m.containment,
	}
	if m.state == StateRunning || m.state == StateStopping {
		info.PID, info.StartedAt = m.pid, m.startedAt
		if c, ok := m.proc.(sdk.LocalCgroup); ok {
			info.Cgroup = c.LocalCgroup()
		}
	}
	if m.health != nil {
		h := *m.health
		info.Health = &h
	}
	var statter sdk.ProcessStatter
	if m.state == StateRunning || m.state == StateStopping {
		statter, _ = m.proc.(sdk.ProcessStatter)
	}
	m.mu.Lock()
	m.snap = info
	m.statter = statter
	m.mu.Unlock()
}

func (m *managedProcess) info() ProcessInfo {
	m.mu.Lock()
	info := m.snap
	m.mu.Unlock()
	if !info.StartedAt.IsZero() {
		info.Uptime = time.Since(info.StartedAt)
	}
	return info
}

// startHealth starts the health checker of the current run, whose
// process is proc, and returns its probe (nil without a check).
func (m *managedProcess) startHealth(proc sdk.Process) Probe {
	if m.spec.Health == nil {
		return nil
	}
	probe := m.spec.Health.Check.Probe(Run{Process: proc})
	ctx, cancel := context.WithCancel(m.ctx)
	m.cancelHealth = cancel
	go runHealth(ctx, *m.spec.Health, probe, m.run, m.healthC)
	return probe
}

// stopHealth stops the checker; a process that does not run has an
// unknown health.
func (m *managedProcess) stopHealth() {
	if m.cancelHealth != nil {
		m.cancelHealth()
		m.cancelHealth = nil
	}
	if m.health != nil && m.health.Status != HealthUnknown {
		m.setHealth(HealthInfo{Status: HealthUnknown, Output: "not running", CheckedAt: m.now()})
	}
}

// healthChecked handles a check's outcome reported by the checker of a
// run: the last check's output and time, and on a change of status, an
// event and what follows from it.
func (m *managedProcess) healthChecked(res healthResult) {
	if res.run != m.run || m.cancelHealth == nil {
		return // a result of a run that has ended
	}
	h := HealthInfo{Status: res.status, Output: res.output, CheckedAt: res.at}
	if !res.changed {
		m.health = &h // the owner loop takes the snapshot
		return
	}
	m.setHealth(h)
	if res.status == HealthUnhealthy {
		m.logger.Warn("unhealthy", "output", res.output)
		if m.spec.Health.Restart && m.state == StateRunning {
			m.unhealthy = true
			m.reason = "unhealthy: " + res.output
			m.beginStop()
		}
	} else {
		m.logger.Info("health", "status", res.status)
	}
}

func (m *managedProcess) setHealth(h HealthInfo) {
	m.health = &h
	m.snapshot()
	m.bus.publish(SupervisorEvent{
		Time: h.CheckedAt, Type: EventHealth, Process: m.spec.Name, From: m.state, To: m.state,
		Restarts: m.restarts, Reason: h.Output, Health: h.Status,
	})
}
