package command

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/prox-dev/prox/internal/profile"
	"github.com/prox-dev/prox/internal/version"
	"github.com/prox-dev/prox/supervisor"
	"github.com/prox-dev/prox/supervisor/control"
)

// startTimeout bounds launching the plugins and starting the processes.
const startTimeout = time.Minute

// UpCommand starts every process of the configuration and supervises them
// until it is interrupted.
type UpCommand struct {
	Meta

	// signals, when set, replaces the process's SIGINT/SIGTERM
	// notifications (tests).
	signals <-chan os.Signal
	quiet   bool
}

// Help implements cli.Command.
func (c *UpCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox up [options]

  Starts every process the configuration file declares, each through its
  runner plugin, and prints their output as "name | line". On SIGINT
  (Ctrl-C) or SIGTERM it stops them all gracefully: the stop signal to
  every process group at once, up to each process's stop timeout, then
  SIGKILL; then each sink gets what is still queued for it, for at most
  its drain_timeout (10s by default), and what a sink never got is
  reported; then it shuts its plugins down. A second Ctrl-C kills what is
  left at once and gives up on the sinks' backlog.

  prox up also returns when every process has exited by itself and none is
  due to restart (not after processes were stopped through prox stop: it
  then waits to be interrupted). It exits 0
  after a clean shutdown, 1 when the configuration is invalid, a plugin
  cannot start, or a process failed.

Options:

  -quiet             Do not print the processes' output (it still reaches
                     the sinks and the log buffer).
` + socketHelp + metaHelp)
}

// Synopsis implements cli.Command.
func (c *UpCommand) Synopsis() string {
	return "Start every process of the configuration and supervise them."
}

// Run implements cli.Command.
func (c *UpCommand) Run(args []string) int {
	fs := c.FlagSet("up")
	c.socketFlag(fs)
	fs.BoolVar(&c.quiet, "quiet", false, "do not print process output")
	if !c.parseFlags(fs, args, c.Help()) {
		return 2
	}
	if fs.NArg() > 0 {
		c.Ui.Error("up takes no arguments; name the file with -config")
		return 2
	}
	logger, err := c.Logger()
	if err != nil {
		c.Ui.Error(err.Error())
		return 2
	}
	// The configuration is read once: it may name the control socket.
	cfg, cfgDiags := loadConfig(c.configPath, c.envFile, logger)
	socketCfg := cfg
	if cfgDiags.HasErrors() {
		socketCfg = nil
	}
	// The control socket before any plugin: a second prox up on it stops
	// here.
	ln, err := control.Listen(socketOf(c.socket, c.configPath, socketCfg))
	if err != nil {
		c.Ui.Error(err.Error())
		return 1
	}
	defer ln.Close()
	stopProfile, err := profile.Start("prox-up")
	if err != nil {
		c.Ui.Error(err.Error())
		return 1
	}
	defer func() { _ = stopProfile() }()

	sigs := c.signals
	if sigs == nil {
		ch := make(chan os.Signal, 4)
		stops := []os.Signal{os.Interrupt, syscall.SIGTERM}
		// SIGHUP: the terminal went away; stop as on Ctrl-C. Unless it is
		// ignored (nohup prox up): a handler would undo that.
		if !signal.Ignored(syscall.SIGHUP) {
			stops = append(stops, syscall.SIGHUP)
		}
		signal.Notify(ch, stops...)
		defer signal.Stop(ch)
		sigs = ch
	}
	// A write to a stdout nobody reads any more (`prox up | head`, or tee
	// gone at Ctrl-C) must fail with EPIPE, not kill prox in the middle of
	// its processes' graceful stop. Notify, not Ignore: an ignored signal
	// would stay ignored in every process prox starts.
	brokenPipes := make(chan os.Signal, 1)
	signal.Notify(brokenPipes, syscall.SIGPIPE)
	defer signal.Stop(brokenPipes)

	startCtx, cancelStart := context.WithTimeout(context.Background(), startTimeout)
	defer cancelStart()
	st, diags := launchStack(startCtx, cfg, cfgDiags, logger, false)
	defer func() {
		start := time.Now()
		if err := st.close(context.Background()); err != nil {
			logger.Warn("plugin shutdown", "error", err)
		}
		logger.Debug("the plugins have exited", "elapsed", time.Since(start))
	}()
	if len(diags) > 0 {
		c.writeDiagnostics(st, diags)
	}
	if diags.HasErrors() {
		return 1
	}

	names := make([]string, len(st.specs))
	for i, s := range st.specs {
		names[i] = s.Name
	}
	out := newPrinter(c.stdout(), names, c.useColor(c.stdout()))
	out.onGone = func(err error) {
		logger.Warn("stdout is closed: process output is no longer printed (the sinks and `prox logs` still have it)", "error", err)
	}
	pipe, err := startPipeline(st, logger, out, c.quiet)
	if err != nil {
		c.Ui.Error(err.Error())
		return 1
	}
	// prox's log lines follow the process output received before them.
	c.logOut.setBefore(pipe.syncTerminal)
	defer c.logOut.setBefore(nil)
	sup := supervisor.New(st.specs, supervisor.Options{Logger: logger, OutputBatch: pipe.logs.WriteStableBatch})
	pipe.forwardEvents(sup)
	defer pipe.close(context.Background(), logger)

	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	code := 0
	if err := sup.Start(runCtx); err != nil {
		logger.Error("some processes did not start", "error", err)
		code = 1
	}
	// The start is over. What it left behind (the configuration's
	// evaluation, the plugins' launch, a start request per process) is
	// garbage that Go's scavenger would keep mapped for as long as prox
	// runs: 3 to 4 MB with 200 processes. Give it back now.
	go debug.FreeOSMemory()
	ctl := control.Serve(ln, control.Options{Supervisor: sup, Logs: pipe.logs, Logger: logger, Version: version.Version, Config: c.configPath})
	defer func() { _ = ctl.Close(context.Background()) }()

	interrupted := false
wait:
	for {
		select {
		case sig := <-sigs:
			logger.Info("shutting down", "signal", sig.String())
			interrupted = true
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

	// A second signal during the graceful stop kills what is left, and
	// gives up on what the sinks have not received yet.
	stopCtx, cancelStop := context.WithCancel(context.Background())
	defer cancelStop()
	drained := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
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
	logger.Debug("the sinks are drained", "elapsed", time.Since(stopping))
	if err := <-runnersClosed; err != nil {
		logger.Warn("plugin shutdown", "error", err)
	}
	logger.Debug("the runner plugins have exited", "elapsed", time.Since(stopping))

	for _, p := range sup.Processes() {
		if p.State == supervisor.StateFailed {
			code = 1
		}
		if !interrupted && p.LastExit != nil && (p.LastExit.Code != 0 || p.LastExit.Signal != "" || p.LastExit.Error != "") {
			code = 1
		}
	}
	return code
}
