package command

import (
	"context"
	"strings"

	"github.com/posener/complete"
)

// AttachCommand follows the output of every process of the running prox,
// as prox up prints it.
type AttachCommand struct {
	Meta
	// ctx, when set, replaces the context that ends on SIGINT or SIGTERM
	// (tests).
	ctx context.Context
}

// Help implements cli.Command.
func (c *AttachCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox attach [options]

  Follows the output of every process of the prox running on the control
  socket (one started with prox up -d, or one in another terminal), from
  now on, as prox up prints it: "name | line", the names padded and, on a
  terminal, coloured alike. Ctrl-C detaches: it stops nothing. When prox
  stops, prox attach says so and exits. A reader too slow for the
  processes loses lines; prox says how many on stderr. prox logs -f
  follows some processes, or starts with the lines prox kept.

  Exits 0 when detached or when prox stopped, 1 when no prox runs on the
  socket.

Options:
` + socketHelp + metaHelp)
}

// Synopsis implements cli.Command.
func (c *AttachCommand) Synopsis() string {
	return "Follow the output of every process of the running prox."
}

// AutocompleteArgs implements cli.CommandAutocomplete.
func (c *AttachCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }

// AutocompleteFlags implements cli.CommandAutocomplete.
func (c *AttachCommand) AutocompleteFlags() complete.Flags {
	return withCommonFlags(complete.Flags{})
}

// Run implements cli.Command.
func (c *AttachCommand) Run(args []string) int {
	fs := c.FlagSet("attach")
	c.socketFlag(fs)
	if !c.parseFlags(fs, args, c.Help()) {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return c.usageError("attach takes no arguments; prox logs -f NAME... follows some processes", c.Help())
	}
	// prox logs -f -n 0: the same stream, the same printer.
	logs := &LogsCommand{Meta: c.Meta, ctx: c.ctx, follow: true, lines: 0}
	return logs.run(nil, c.Help())
}
