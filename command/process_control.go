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

  With -all, every process, all at once. The new state of each process is
  printed.

  Exits 0 when every process was %s, 1 when one failed or is
  unknown, or no prox runs on the socket, 2 on a usage error.

Options:

  -all               Every process.
`, c.action, c.action, actionText[c.action].what, pastTense(c.action)) + socketHelp + metaHelp)
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
	return withCommonFlags(complete.Flags{"-all": complete.PredictNothing})
}

// Run implements cli.Command.
func (c *ActionCommand) Run(args []string) int {
	fs := c.FlagSet(c.action)
	c.socketFlag(fs)
	fs.BoolVar(&c.all, "all", false, "every process")
	if !c.parseFlags(fs, args, c.Help()) {
		return exitUsage
	}
	names := fs.Args()
	switch {
	case c.all && len(names) > 0:
		return c.usageError("give process names or -all, not both", c.Help())
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
	// One request per name, all at once; results in the given order.
	results := make([]*control.Process, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			var err error
			switch c.action {
			case "start":
				results[i], err = client.Start(ctx, name)
			case "stop":
				results[i], err = client.Stop(ctx, name)
			default:
				results[i], err = client.Restart(ctx, name)
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
		c.Ui.Output(processLine(*results[i]))
	}
	return code
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
