package command

import (
	"context"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/posener/complete"
	"github.com/prox-dev/prox/tui"
)

// TopCommand is a terminal UI over the running prox.
type TopCommand struct {
	Meta
}

// Help implements cli.Command.
func (c *TopCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox top [options]

  Opens a terminal UI over the prox running on the control socket (found
  as prox ps finds it): the process table (state, health, PID, CPU % and
  memory of a process on prox's machine, uptime, restarts, last exit),
  actions on the selected process (start, stop, restart, signal), and a
  log pane that follows the selected process's output or every
  process's, with search, filter, pause, scroll back and wrap. Press ?
  in the UI for every key.

  Quitting (q) stops nothing. When prox stops while the UI is open, the
  UI says so and exits 0. Exits 1 when no prox runs on the socket or the
  output is not a terminal, 2 on a usage error.
` + socketHelp + metaHelp)
}

// Synopsis implements cli.Command.
func (c *TopCommand) Synopsis() string {
	return "A terminal UI over the running prox: processes, actions, logs."
}

// AutocompleteArgs implements cli.CommandAutocomplete.
func (c *TopCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }

// AutocompleteFlags implements cli.CommandAutocomplete.
func (c *TopCommand) AutocompleteFlags() complete.Flags { return withCommonFlags(complete.Flags{}) }

// Run implements cli.Command.
func (c *TopCommand) Run(args []string) int {
	fs := c.FlagSet("top")
	c.socketFlag(fs)
	if !c.parseFlags(fs, args, c.Help()) {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return c.usageError("top takes no arguments", c.Help())
	}
	client := c.controlClient()
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	_, err := client.Status(ctx)
	cancel()
	if err != nil {
		return c.controlError(err)
	}
	if !isTerminal(c.stdout()) {
		c.Ui.Error("prox top needs a terminal: its output is not one (use prox ps, prox logs -f or prox events instead)")
		return exitFailure
	}
	res, err := tui.Run(context.Background(), tui.Options{Client: client, Color: c.useColor(c.stdout()), Output: c.stdout()})
	if err != nil {
		return c.controlError(err)
	}
	if res.ProxStopped {
		c.Ui.Output("prox has stopped.")
	}
	return exitOK
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
