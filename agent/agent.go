// Package agent is prox's composition root: it builds the stack a
// configuration describes (config, plugins, supervisor, log pipeline,
// control server) and runs it. The command package only parses flags and
// prints; `prox up` is agent.New, then Agent.Run, and `prox validate` is
// agent.Check.
package agent

import (
	"context"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/prox-dev/prox/internal/memtrim"
	"github.com/prox-dev/prox/internal/profile"
	"github.com/prox-dev/prox/internal/version"
	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/supervisor"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/prox-dev/prox/supervisor/control"
)

// startTimeout bounds launching and configuring the plugins.
const startTimeout = time.Minute

// Options are what an agent is built from: the command's flags, its
// logger and its terminal.
type Options struct {
	// ConfigPath is the configuration file (-config, DefaultConfig by
	// default).
	ConfigPath string
	// EnvFile is the dotenv file to read instead of the .env beside the
	// configuration; "" for that one.
	EnvFile string
	// Formation is prox up -m: how many instances of each process of a
	// Procfile run; default none (one of each).
	Formation config.Formation
	// Socket is the control socket as given (-socket); "" for
	// $PROX_SOCKET, else the configuration's, else the default beside it.
	Socket string
	// Logger receives prox's own log lines.
	Logger hclog.Logger
	// Watch reloads the configuration when its file, its dotenv file or
	// an env_file changes (prox up -watch).
	Watch bool
	// Terminal, when set, is called once the processes are known, with
	// their names in the configuration's order, and returns where their
	// output is printed. Nil: it is not printed (it still reaches the
	// sinks and the log buffer).
	Terminal func(processes []string) Terminal
	// Ready, when set, is called once, from a goroutine of its own, when
	// the start is over: with nil once every process is up (running, and
	// healthy where it has a health check, or ended successfully), or
	// with a *StartError naming the first process that failed to start
	// and why, after which Run stops everything as on Ctrl-C and returns
	// 1. prox up -d reports it. Nil: nothing watches the start.
	Ready func(err error)
}

// Terminal prints the processes' output: a live subscriber of the log
// manager, which may skip lines when it cannot keep up.
type Terminal interface {
	// QueueBatch adds lines to the output; they may wait for Flush, but
	// the lines are valid only during the call: it copies what it keeps.
	QueueBatch(entries []logs.LogEntry)
	// Notice adds a line of prox's own among the process output.
	Notice(text string)
	// Flush writes out what is queued.
	Flush()
}

// Agent is a running configuration's stack: its control socket, its
// plugins launched and configured, its log pipeline; Run supervises the
// processes. Close it in every case.
type Agent struct {
	opts        Options
	logger      hclog.Logger
	ln          *control.Listener
	stopProfile func() error
	cancelStart context.CancelFunc
	st          *stack
	pipe        *pipeline

	// stopReq is closed by requestStop: Run stops as on Ctrl-C.
	stopReq    chan struct{}
	stopOnce   sync.Once
	stopWhy    string
	stopFailed bool
	// metricsLn is the metrics block's listener, nil without one.
	metricsLn net.Listener
	reload    reloader // see reload.go
}

// Check loads the configuration, launches only the plugins it uses,
// decodes their blocks against their schemas and has them check their
// values (they open and connect nothing), then shuts them down: what prox
// validate does. Every problem comes back as a diagnostic; the
// configuration, when it was read, renders them.
func Check(ctx context.Context, opts Options) (*config.Config, hcl.Diagnostics) {
	st, diags := checkStack(ctx, opts.ConfigPath, opts.EnvFile, opts.Logger)
	_ = st.close(context.Background())
	return st.cfg, diags
}

// New reads the configuration once, takes its control socket (before any
// plugin: a second prox up on the same socket stops here), starts the
// profiles of PROX_PROFILE_DIR, launches and configures the plugins the
// configuration uses, and starts the log pipeline. An error means the
// agent could not be built (the socket is taken, a profile cannot be
// written, a sink cannot be attached); diagnostics are those of the
// configuration and its plugins, and with errors among them the agent
// does not run. The agent must be closed whenever it is not nil.
func New(ctx context.Context, opts Options) (*Agent, hcl.Diagnostics, error) {
	logger := opts.Logger
	cfg, cfgDiags := LoadConfigWith(opts.ConfigPath, config.LoadOptions{EnvFile: opts.EnvFile, Formation: opts.Formation}, logger)
	socketCfg := cfg
	if cfgDiags.HasErrors() {
		socketCfg = nil
	}
	ln, err := control.Listen(socketOf(opts.Socket, opts.ConfigPath, socketCfg))
	if err != nil {
		return nil, nil, err
	}
	a := &Agent{opts: opts, logger: logger, ln: ln, cancelStart: func() {}, stopReq: make(chan struct{})}
	if !cfgDiags.HasErrors() {
		var mdiags hcl.Diagnostics
		a.metricsLn, mdiags = listenMetrics(cfg)
		if mdiags.HasErrors() {
			a.st = &stack{cfg: cfg} // renders the diagnostic; launched nothing
			return a, append(cfgDiags, mdiags...), nil
		}
	}
	a.stopProfile, err = profile.Start("prox-up")
	if err != nil {
		a.Close()
		return nil, nil, err
	}

	startCtx, cancelStart := context.WithTimeout(ctx, startTimeout)
	a.cancelStart = cancelStart
	st, diags := launchStack(startCtx, cfg, cfgDiags, logger, false)
	a.st = st
	if diags.HasErrors() {
		return a, diags, nil
	}
	var term Terminal
	if opts.Terminal != nil {
		names := make([]string, len(st.specs))
		for i, s := range st.specs {
			names[i] = s.Name
		}
		term = opts.Terminal(names)
	}
	a.pipe, err = startPipeline(st, logger, term, term == nil)
	if err != nil {
		return a, diags, err
	}
	return a, diags, nil
}

// Config is the configuration the agent read (nil when it has none), for
// rendering diagnostics.
func (a *Agent) Config() *config.Config {
	if a == nil || a.st == nil {
		return nil
	}
	return a.st.cfg
}

// SyncTerminal returns once the terminal has printed every line received
// before the call, or after a second: prox's own log lines call it, so a
// process's last lines come before the line that says it exited.
func (a *Agent) SyncTerminal() {
	if a.pipe != nil {
		a.pipe.syncTerminal()
	}
}

// Run starts every process and supervises them until the first value
// from interrupts (a signal) or until every process has exited by itself
// and none is due to restart (unless processes were steered through the
// control API: then only an interrupt ends it). It then stops them all
// gracefully; a second value from interrupts kills what is left and gives
// up on the sinks' backlog. It returns the exit code: 1 when a process did
// not start, failed, or (without an interrupt) exited unsuccessfully.
func (a *Agent) Run(interrupts <-chan os.Signal) int {
	logger, pipe, st := a.logger, a.pipe, a.st
	a.setRunning(st.specs)
	sup := supervisor.New(st.specs, supervisor.Options{Logger: logger, OutputBatch: pipe.logs.WriteStableBatch})
	a.setSupervisor(sup)
	pipe.forwardEvents(sup)
	defer pipe.close(context.Background(), logger)

	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	code := 0
	// What prox's start touched of its binary so far (every package's
	// initialiser, the configuration's evaluation, the plugins' launch) is
	// not needed again: drop it before the processes' output begins, or
	// it stays resident through their first moments: S1's peak PSS came
	// 50 ms in, 40.8 to 44.2 MB, in 11 of 32 sampled runs (0 of 8 since).
	_, _ = memtrim.DropExecutablePages()
	if err := sup.Start(runCtx); err != nil {
		logger.Error("some processes did not start", "error", err)
		code = 1
	}
	// The start is over. What it left behind (the configuration's
	// evaluation, the plugins' launch, a start request per process) is
	// garbage that Go's scavenger would keep mapped for as long as prox
	// runs: 3 to 4 MB with 200 processes. Give it back now, and the pages
	// of prox's binary that only the start touched (internal/memtrim).
	memtrim.AfterStart()
	metricsHandler := a.metricsHandler(sup)
	// Closed once the sinks are drained at the end: prox down waits for
	// it to report what a sink could not deliver.
	sinksDrained := make(chan struct{})
	drainedHook := func(ctx context.Context) error {
		select {
		case <-sinksDrained:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ctl := control.Serve(a.ln, control.Options{Supervisor: sup, Logs: pipe.logs, Logger: logger, Version: version.Version, Config: a.opts.ConfigPath,
		Shutdown: a.shutdownHook(sup), Drained: drainedHook, Metrics: metricsHandler, Reloader: reloadRoute{a}})
	defer func() { _ = ctl.Close(context.Background()) }()
	if a.metricsLn != nil {
		stopMetrics := serveMetrics(a.metricsLn, metricsHandler, logger)
		a.metricsLn = nil // closed by stopMetrics
		defer stopMetrics()
	}
	// Closed when prox is interrupted: a start not over then is not.
	readyCtx, interruptReady := context.WithCancel(runCtx)
	defer interruptReady()
	if a.opts.Ready != nil {
		go a.watchReady(readyCtx, sup)
	}
	if a.opts.Watch {
		if err := a.watch(runCtx, DefaultWatchDebounce); err != nil {
			logger.Error("cannot watch the configuration", "error", err)
		}
	}

	interrupted := false
wait:
	for {
		select {
		case sig := <-interrupts:
			logger.Info("shutting down", "signal", sig.String())
			interrupted = true
			break wait
		case <-a.stopReq:
			logger.Info("shutting down", "reason", a.stopWhy)
			interrupted = true
			if a.stopFailed {
				code = 1
			}
			break wait
		case <-sup.Changed():
			// Everything exited by itself and nothing will restart. Once a
			// user steered processes through the control API, prox keeps
			// running for them until it is interrupted.
			if sup.Settled() && !sup.ManuallyControlled() {
				logger.Info("every process has exited")
				break wait
			}
		}
	}

	if interrupted {
		interruptReady()
	}

	// A second signal during the graceful stop kills what is left, and
	// gives up on what the sinks have not received yet.
	stopCtx, cancelStop := context.WithCancel(context.Background())
	defer cancelStop()
	drained := make(chan struct{})
	go func() {
		select {
		case sig := <-interrupts:
			logger.Warn("second signal: killing every process and giving up on the sinks' backlog", "signal", sig.String())
			cancelStop()
		case <-drained:
		}
	}()
	stopping := time.Now()
	// A failing sink's full queue must not hold the processes' output
	// readers: the processes could not end.
	pipe.logs.Stopping()
	if err := sup.Stop(stopCtx); err != nil {
		logger.Error("stop", "error", err)
		code = 1
	}
	logger.Debug("processes stopped", "elapsed", time.Since(stopping))
	// Nothing starts any more: the runner plugins shut down while
	// everything the processes wrote reaches every sink, which happens
	// before prox exits, each sink within its drain timeout.
	runnersClosed := make(chan error, 1)
	go func() { runnersClosed <- st.closeRunners(context.Background()) }()
	pipe.close(stopCtx, logger)
	close(drained)
	close(sinksDrained)
	logger.Debug("the sinks are drained", "elapsed", time.Since(stopping))
	if err := <-runnersClosed; err != nil {
		logger.Warn("plugin shutdown", "error", err)
	}
	logger.Debug("the runner plugins have exited", "elapsed", time.Since(stopping))

	if exitCode(sup.Processes(), interrupted) != 0 {
		code = 1
	}
	return code
}

// exitCode is 1 when a process failed, or, unless prox was interrupted,
// when a process's last exit was not a success; 0 otherwise.
func exitCode(procs []supervisor.ProcessInfo, interrupted bool) int {
	code := 0
	for _, p := range procs {
		if p.State == supervisor.StateFailed {
			code = 1
		}
		if !interrupted && p.LastExit != nil && (p.LastExit.Code != 0 || p.LastExit.Signal != "" || p.LastExit.Error != "") {
			code = 1
		}
	}
	return code
}

// Close drains the log pipeline if Run did not, shuts every plugin down,
// ends the profiles and gives the control socket up.
func (a *Agent) Close() {
	if a.pipe != nil {
		a.pipe.close(context.Background(), a.logger)
	}
	if a.st != nil {
		start := time.Now()
		if err := a.st.close(context.Background()); err != nil {
			a.logger.Warn("plugin shutdown", "error", err)
		}
		a.logger.Debug("the plugins have exited", "elapsed", time.Since(start))
	}
	a.cancelStart()
	if a.metricsLn != nil {
		_ = a.metricsLn.Close()
	}
	if a.stopProfile != nil {
		_ = a.stopProfile()
	}
	_ = a.ln.Close()
}
