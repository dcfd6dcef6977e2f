package command

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/posener/complete"
	"github.com/prox-dev/prox/supervisor/control"
)

// ActionCommand is `prox start`, `prox stop` and `prox restart`: one
// action on some processes of the running prox, or on all of them.
type ActionCommand struct {
	Meta
	// action is "start", "stop" or "restart".
	action string
	all    bool
	// rolling is restart's -rolling.
	rolling bool
}

// newActionCommand returns the command of action.
func newActionCommand(meta Meta, action string) *ActionCommand {
	return &ActionCommand{Meta: meta, action: action}
}

// actionText describes each action in the help.
var actionText = map[string]struct{ what, done string }{
	"start": {
		what: "Starts the NAMEd processes of the running prox (stopped, crashed or\n  failed ones; a running one is left as it is) and waits until they run.",
		done: "Start",
	},
	"stop": {
		what: "Stops the NAMEd processes of the running prox gracefully (their stop\n  signal, then SIGKILL after their stop timeout) and waits until they have\n  ended. A stopped process is not restarted, whatever its restart policy,\n  until it is started again.",
		done: "Stop",
	},
	"restart": {
		what: "Restarts the NAMEd processes of the running prox: stops each (if it\n  runs) and starts it again, and waits until it runs. The restart count\n  goes up by one.",
		done: "Restart",
	},
}

// Help implements cli.Command.
func (c *ActionCommand) Help() string {
	return strings.TrimSpace(fmt.Sprintf(`
Usage: prox %s [options] NAME...
       prox %s [options] -all

  %s

  With -all, every process, all at once. The NAME of a process with
  replicas means all its instances, at once; NAME.INDEX is one instance.
  The new state of each process is printed.
%s
  Exits 0 when every process was %s, 1 when one failed or is
  unknown, or no prox runs on the socket, 2 on a usage error.

Options:

  -all               Every process.
%s`, c.action, c.action, actionText[c.action].what, rollingText(c.action), pastTense(c.action), rollingFlagText(c.action)) + socketHelp + metaHelp)
}

// pastTense is "started", "stopped", "restarted".
func pastTense(action string) string {
	if action == "stop" {
		return "stopped"
	}
	return action + "ed"
}

// Synopsis implements cli.Command.
func (c *ActionCommand) Synopsis() string {
	return actionText[c.action].done + " processes of the running prox, or all of them."
}

// AutocompleteArgs implements cli.CommandAutocomplete: process names.
func (c *ActionCommand) AutocompleteArgs() complete.Predictor { return predictProcesses() }

// AutocompleteFlags implements cli.CommandAutocomplete.
func (c *ActionCommand) AutocompleteFlags() complete.Flags {
	flags := complete.Flags{"-all": complete.PredictNothing}
	if c.action == "restart" {
		flags["-rolling"] = complete.PredictNothing
	}
	return withCommonFlags(flags)
}

// Run implements cli.Command.
func (c *ActionCommand) Run(args []string) int {
	fs := c.FlagSet(c.action)
	c.socketFlag(fs)
	fs.BoolVar(&c.all, "all", false, "every process")
	if c.action == "restart" {
		fs.BoolVar(&c.rolling, "rolling", false, "one instance at a time")
	}
	if !c.parseFlags(fs, args, c.Help()) {
		return exitUsage
	}
	names := fs.Args()
	switch {
	case c.all && len(names) > 0:
		return c.usageError("give process names or -all, not both", c.Help())
	case c.all && c.rolling:
		return c.usageError("-rolling restarts the instances of the NAMEd processes; it does not go with -all", c.Help())
	case !c.all && len(names) == 0:
		return c.usageError(c.action+" needs process names, or -all", c.Help())
	}
	ctx, cancel := signalContext()
	defer cancel()
	client := c.controlClient()
	defer client.Close()

	if c.all {
		ps, err := client.All(ctx, c.action)
		if err != nil {
			return c.controlError(err)
		}
		for _, p := range ps {
			c.Ui.Output(processLine(p))
		}
		return exitOK
	}
	// Which names are process blocks to act on as a whole: a process
	// with replicas (all its instances), or any process with -rolling.
	ps, err := client.Processes(ctx)
	if err != nil {
		return c.controlError(err)
	}
	group := groupRoutes(ps, names, c.rolling)
	// One request per name, all at once; results in the given order.
	results := make([][]control.Process, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			if group[i] {
				results[i], errs[i] = client.Group(ctx, c.action, name, c.rolling)
				return
			}
			var p *control.Process
			var err error
			switch c.action {
			case "start":
				p, err = client.Start(ctx, name)
			case "stop":
				p, err = client.Stop(ctx, name)
			default:
				p, err = client.Restart(ctx, name)
			}
			if err == nil {
				results[i] = []control.Process{*p}
			}
			errs[i] = err
		})
	}
	wg.Wait()
	code := exitOK
	for i := range names {
		if errs[i] != nil {
			if code = c.controlError(errs[i]); code == exitFailure && isNoServer(errs[i]) {
				return code // said once is enough
			}
			continue
		}
		for _, p := range results[i] {
			c.Ui.Output(processLine(p))
		}
	}
	return code
}

// groupRoutes tells, for each name, whether it goes to the group route:
// the name of a process with replicas (no process has that name), or,
// with rolling, the name of any process block.
func groupRoutes(ps []control.Process, names []string, rolling bool) []bool {
	out := make([]bool, len(names))
	for i, n := range names {
		isProcess, isGroup := false, false
		for _, p := range ps {
			isProcess = isProcess || p.Name == n
			isGroup = isGroup || groupOf(p) == n
		}
		out[i] = isGroup && (!isProcess || rolling)
	}
	return out
}

// rollingText is restart's paragraph on -rolling; "" for the others.
func rollingText(action string) string {
	if action != "restart" {
		return ""
	}
	return `
  With -rolling, the instances of each NAMEd process restart one at a
  time, each once the previous one is ready: healthy where it has a
  health check, running otherwise. An instance that crashes, fails or is
  stopped instead ends the roll (exit 1), and the ones after it keep
  running as they were.
`
}

// rollingFlagText is restart's -rolling in the options; "" for the others.
func rollingFlagText(action string) string {
	if action != "restart" {
		return ""
	}
	return `  -rolling           One instance at a time, each once the previous one is
                     ready.
`
}

// processLine describes a process after an action: "web: running (PID
// 1234)".
func processLine(p control.Process) string {
	if p.PID > 0 {
		return fmt.Sprintf("%s: %s (PID %d)", p.Name, p.State, p.PID)
	}
	return fmt.Sprintf("%s: %s", p.Name, p.State)
}

// isNoServer reports whether err means no prox runs on the socket.
func isNoServer(err error) bool {
	return errors.Is(err, control.ErrNoServer)
}
