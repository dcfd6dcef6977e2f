package command

import (
	"fmt"
	"strings"

	"github.com/posener/complete"
	"github.com/prox-dev/prox/supervisor/control"
)

// ReloadCommand is `prox reload`: the running prox reads its
// configuration again and applies the difference.
type ReloadCommand struct {
	Meta
	dryRun bool
}

// Help implements cli.Command.
func (c *ReloadCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox reload [options]

  Makes the running prox read and validate its configuration file again,
  and apply the difference: new processes start, removed ones stop, and
  changed ones restart, in dependency order. A process has changed when
  any of its attributes has, or its runner's or sinks' blocks, or the
  content of its env_file. The others keep running, untouched. A changed
  runner or sink block relaunches that plugin; a sink gets everything
  queued for it first. Each step is an event (prox events).

  The running prox reads the env file it was started with again: its
  .env, or the -env-file of its prox up; reload takes no -env-file.

  When the configuration has errors, nothing changes and they are printed
  as prox validate prints them. A reload that removes a process another
  one depends on is refused, and so is a reload while prox stops.

  Exits 0 when the configuration was applied, 1 when it was refused or a
  process did not start, or no prox runs on the socket, 2 on a usage
  error.

Options:

  -dry-run           Print the plan, and change nothing.
` + socketHelp + metaHelp)
}

// Synopsis implements cli.Command.
func (c *ReloadCommand) Synopsis() string {
	return "Apply the changes of the configuration to the running prox."
}

// AutocompleteArgs implements cli.CommandAutocomplete.
func (c *ReloadCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }

// AutocompleteFlags implements cli.CommandAutocomplete.
func (c *ReloadCommand) AutocompleteFlags() complete.Flags {
	return withCommonFlags(complete.Flags{"-dry-run": complete.PredictNothing})
}

// Run implements cli.Command.
func (c *ReloadCommand) Run(args []string) int {
	fs := c.FlagSet("reload")
	c.socketFlag(fs)
	fs.BoolVar(&c.dryRun, "dry-run", false, "print the plan, change nothing")
	if !c.parseFlags(fs, args, c.Help()) {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return c.usageError("reload takes no arguments", c.Help())
	}
	if c.envFile != "" {
		// The running prox reads its configuration again with the env
		// file it was started with: taking the flag here would say
		// otherwise.
		return c.usageError("reload reads no -env-file: the running prox reads its configuration again with the env file it was started with (.env, or the -env-file of its prox up). "+
			"To read another, run \"prox down\" and then \"prox up -env-file FILE\".", c.Help())
	}
	ctx, cancel := signalContext()
	defer cancel()
	client := c.controlClient()
	defer client.Close()
	res, err := client.Reload(ctx, c.dryRun)
	if control.IsCode(err, control.CodeInvalidConfig) {
		c.Ui.Error("The configuration has errors; nothing was changed.\n")
		c.Ui.Error(err.Error())
		return exitFailure
	}
	if err != nil {
		return c.controlError(err)
	}
	return c.printPlan(*res)
}

// printPlan prints a reload's plan and outcome and returns the exit code.
func (m *Meta) printPlan(res control.ReloadResult) int {
	for _, line := range planLines(res) {
		m.Ui.Output(line)
	}
	switch {
	case !res.Applied:
		m.Ui.Output("Dry run: nothing was changed.")
	case res.StartError != "":
		m.Ui.Error("Applied, but some processes did not start: " + res.StartError)
		return exitFailure
	default:
		m.Ui.Output("Applied.")
	}
	return exitOK
}

// planLines describes a reload's plan, one line per kind of change:
// "restart: web, worker", and "nothing changed" when there is none.
func planLines(res control.ReloadResult) []string {
	var out []string
	add := func(what string, names []string) {
		if len(names) > 0 {
			out = append(out, fmt.Sprintf("%-20s %s", what+":", strings.Join(names, ", ")))
		}
	}
	add("add", res.Add)
	add("restart", res.Restart)
	add("remove", res.Remove)
	add("runner launch", res.Runners.Launched)
	add("runner relaunch", res.Runners.Relaunched)
	add("runner shut down", res.Runners.Closed)
	add("sink launch", res.Sinks.Launched)
	add("sink relaunch", res.Sinks.Relaunched)
	add("sink drain, shut down", res.Sinks.Closed)
	if len(out) == 0 {
		out = append(out, "nothing changed")
	}
	add("unchanged", res.Unchanged)
	return out
}
