package command

import (
	"context"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/agent"
	"github.com/prox-dev/prox/supervisor/config"
)

// UpCommand starts every process of the configuration and supervises them
// until it is interrupted.
type UpCommand struct {
	Meta

	// signals, when set, replaces the process's SIGINT/SIGTERM
	// notifications (tests).
	signals <-chan os.Signal
	quiet   bool
	// formation is -m, parsed.
	formation config.Formation

	// detach is -d; reportFD the hidden flag of the background prox it
	// starts (command/detach.go); ready, when set, is agent.Options.Ready.
	detach   bool
	reportFD string
	ready    func(error)
	tui      bool
	watch    bool
	// held keeps prox's log lines while the UI (-tui) owns the terminal.
	held *heldOutput
}

// Help implements cli.Command.
func (c *UpCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox up [options]

  Starts every process the configuration file declares, each through its
  runner plugin, and prints their output as "name | line". On SIGINT
  (Ctrl-C), SIGTERM or prox down it stops them all gracefully: the stop
  signal to every process group at once, up to each process's stop
  timeout, then SIGKILL; then each sink gets what is still queued for
  it, for at most its drain_timeout (10s by default), and what a sink
  never got is reported; then it shuts its plugins down. A second Ctrl-C
  kills what is left at once and gives up on the sinks' backlog.

  prox up also returns when every process has exited by itself and none is
  due to restart (not after processes were stopped through prox stop: it
  then waits to be interrupted). It exits 0
  after a clean shutdown, 1 when the configuration is invalid, a plugin
  cannot start, or a process failed.

  With -d, prox runs in the background (a session of its own, no
  terminal) and prox up returns once every process is up: running, and
  healthy where it has a health check (without one: running for a
  second), or ended successfully. It then prints the processes, as prox
  ps does, and exits 0. When a process fails to start (it crashed,
  failed, or its health check failed), it names it and says why, the
  background prox stops everything it started, and prox up exits 1 once
  it has exited: nothing is left running. Ctrl-C while it waits does the
  same. An invalid configuration is reported here and starts nothing.
  The background prox writes its own log and the processes' output to
  .prox/prox.log beside the control socket (the socket's name with .log
  for .sock), rotated at 10 MiB with three old files kept (prox.log.1 to
  prox.log.3). "prox attach" follows the output, "prox down" stops it.
  SIGHUP asks it to reload its configuration instead of stopping it.

Options:

  -d                 Run in the background (detached), see above.

  -quiet             Do not print the processes' output (it still reaches
                     the sinks and the log buffer; with -d, it is not
                     written to the log file).
  -m=FORMATION       For a Procfile run, foreman's formation: how many
                     instances of each process run, as web=2,worker=1;
                     all=N for every process not named, 0 for none. An
                     instance of a process run more than once is
                     NAME.INDEX (from 0), and its PORT is its process's
                     plus its index. Default: one of each.
  -tui               Show the terminal UI of prox top instead of the
                     processes' output. prox's own log lines are held
                     while it is open and printed when it closes. Quitting
                     it (q, Ctrl-C) asks, then stops every process as
                     Ctrl-C does without it.
  -watch             Reload (as prox reload does) when the configuration
                     file, its .env or an env_file changes, once they have
                     been quiet for 300ms. With errors in the file, nothing
                     changes and they are logged.
` + socketHelp + metaHelp)
}

// Synopsis implements cli.Command.
func (c *UpCommand) Synopsis() string {
	return "Start every process of the configuration and supervise them."
}

// Run implements cli.Command.
func (c *UpCommand) Run(args []string) int {
	logger, code := c.parse(args)
	if logger == nil {
		return code
	}
	if c.detach {
		return c.runDetach(logger)
	}
	if c.reportFD != "" {
		fd, err := reportFD(c.reportFD)
		if err != nil {
			return c.usageError(err.Error(), c.Help())
		}
		return c.runBackground(fd)
	}
	sigs, stopSignals := c.interrupts()
	defer stopSignals()
	a, ok := c.start(logger)
	if a != nil {
		defer a.Close()
	}
	if !ok {
		return exitFailure
	}
	if c.tui {
		return c.runTUI(a, sigs)
	}
	// prox's log lines follow the process output received before them.
	c.logOut.setBefore(a.SyncTerminal)
	defer c.logOut.setBefore(nil)
	return a.Run(sigs)
}

// parse parses the flags and makes the logger; nil and the exit code when
// the command stops there.
func (c *UpCommand) parse(args []string) (hclog.Logger, int) {
	fs := c.FlagSet("up")
	c.socketFlag(fs)
	fs.BoolVar(&c.quiet, "quiet", false, "do not print process output")
	fs.Func("m", "formation of a Procfile run: web=2,worker=1", func(s string) error {
		f, err := config.ParseFormation(s)
		c.formation = f
		return err
	})
	fs.BoolVar(&c.detach, "d", false, "run in the background")
	fs.StringVar(&c.reportFD, reportFDFlag, "", "the background prox's report pipe (internal)")
	fs.BoolVar(&c.tui, "tui", false, "terminal UI")
	fs.BoolVar(&c.watch, "watch", false, "reload when the configuration changes")
	if !c.parseFlags(fs, args, c.Help()) {
		return nil, exitUsage
	}
	if c.tui && (c.detach || c.reportFD != "") {
		c.Ui.Error("-tui and -d exclude each other: the UI needs the terminal prox -d leaves (open it with prox top)")
		return nil, exitUsage
	}
	if c.tui {
		if !isTerminal(c.stdout()) {
			c.Ui.Error("prox up -tui needs a terminal: its output is not one")
			return nil, exitUsage
		}
		c.quiet = true // the UI shows the output
		c.held = &heldOutput{w: c.stderr()}
		c.Stderr = c.held
	}
	if fs.NArg() > 0 {
		c.Ui.Error("up takes no arguments; name the file with -config")
		return nil, exitUsage
	}
	if c.detach && c.reportFD != "" {
		c.Ui.Error("-d and -" + reportFDFlag + " exclude each other")
		return nil, exitUsage
	}
	logger, err := c.Logger()
	if err != nil {
		c.Ui.Error(err.Error())
		return nil, exitUsage
	}
	return logger, exitOK
}

// start builds the agent and prints what it reports; false when it must
// not run. A non-nil agent must be closed.
func (c *UpCommand) start(logger hclog.Logger) (*agent.Agent, bool) {
	opts := agent.Options{ConfigPath: c.configPath, EnvFile: c.envFile, Socket: c.socket, Logger: logger, Formation: c.formation, Ready: c.ready, Watch: c.watch}
	if !c.quiet {
		opts.Terminal = func(names []string) agent.Terminal {
			out := newPrinter(c.stdout(), names, c.useColor(c.stdout()))
			out.onGone = func(err error) {
				logger.Warn("stdout is closed: process output is no longer printed (the sinks and `prox logs` still have it)", "error", err)
			}
			return out
		}
	}
	a, diags, err := agent.New(context.Background(), opts)
	// In the background, warnings alone were said by prox up -d already.
	if len(diags) > 0 && (c.reportFD == "" || diags.HasErrors()) {
		c.writeDiagnostics(a.Config(), diags)
	}
	if err != nil {
		c.Ui.Error(err.Error())
		return a, false
	}
	return a, !diags.HasErrors()
}

// interrupts returns the signals that stop prox up (c.signals in tests):
// SIGINT, SIGTERM and SIGHUP. It also keeps SIGPIPE from killing prox;
// stop undoes both.
func (c *UpCommand) interrupts() (sigs <-chan os.Signal, stop func()) {
	// A write to a stdout nobody reads any more (`prox up | head`, or tee
	// gone at Ctrl-C) must fail with EPIPE, not kill prox in the middle of
	// its processes' graceful stop. Notify, not Ignore: an ignored signal
	// would stay ignored in every process prox starts.
	brokenPipes := make(chan os.Signal, 1)
	signal.Notify(brokenPipes, syscall.SIGPIPE)
	if c.signals != nil {
		return c.signals, func() { signal.Stop(brokenPipes) }
	}
	ch := make(chan os.Signal, 4)
	stops := []os.Signal{os.Interrupt, syscall.SIGTERM}
	// SIGHUP: the terminal went away; stop as on Ctrl-C. Unless it is
	// ignored (nohup prox up): a handler would undo that.
	if !signal.Ignored(syscall.SIGHUP) {
		stops = append(stops, syscall.SIGHUP)
	}
	signal.Notify(ch, stops...)
	return ch, func() {
		signal.Stop(ch)
		signal.Stop(brokenPipes)
	}
}
