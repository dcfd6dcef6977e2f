package command

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/posener/complete"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/prox-dev/prox/supervisor/control"
)

// ScaleCommand is `prox scale NAME=N...`: another count of instances of
// processes of the running prox.
type ScaleCommand struct {
	Meta
	dryRun bool
}

// Help implements cli.Command.
func (c *ScaleCommand) Help() string {
	return strings.TrimSpace(fmt.Sprintf(`
Usage: prox scale [options] NAME=N...

  Runs N instances of the process NAME of the running prox (replicas = N
  for as long as it runs; the next prox reload of the file brings the
  file's count back). Instances are added or removed by name (NAME.0,
  NAME.1, ...): the new ones start, the removed ones stop, the others keep
  running. It is a reload of the running configuration with that count:
  the plan is printed as prox reload prints it, and each step is an
  event. N is a whole number from 1 to %d.

  Exits 0 when the counts were applied, 1 when the running prox refused
  them or an instance did not start, or no prox runs on the socket, 2 on
  a usage error (NAME=abc, a count below 1).

Options:

  -dry-run           Print the plan, and change nothing.
`, config.MaxReplicas) + socketHelp + metaHelp)
}

// Synopsis implements cli.Command.
func (c *ScaleCommand) Synopsis() string {
	return "Change how many instances of a process the running prox runs."
}

// AutocompleteArgs implements cli.CommandAutocomplete.
func (c *ScaleCommand) AutocompleteArgs() complete.Predictor { return predictProcesses() }

// AutocompleteFlags implements cli.CommandAutocomplete.
func (c *ScaleCommand) AutocompleteFlags() complete.Flags {
	return withCommonFlags(complete.Flags{"-dry-run": complete.PredictNothing})
}

// parseCounts reads NAME=N arguments.
func parseCounts(args []string) (map[string]int, error) {
	counts := map[string]int{}
	for _, arg := range args {
		name, value, ok := strings.Cut(arg, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("scale: %q is not NAME=N (e.g. web=3)", arg)
		}
		n, err := strconv.Atoi(value)
		if err != nil {
			return nil, fmt.Errorf("scale %s: %q is not a count: N is a whole number from 1 to %d", arg, value, config.MaxReplicas)
		}
		if n < 1 || n > config.MaxReplicas {
			return nil, fmt.Errorf("scale %s: a count is from 1 to %d (prox stop %s stops every instance)", arg, config.MaxReplicas, name)
		}
		if _, dup := counts[name]; dup {
			return nil, fmt.Errorf("scale: %s is named twice", name)
		}
		counts[name] = n
	}
	return counts, nil
}

// Run implements cli.Command.
func (c *ScaleCommand) Run(args []string) int {
	fs := c.FlagSet("scale")
	c.socketFlag(fs)
	fs.BoolVar(&c.dryRun, "dry-run", false, "print the plan, change nothing")
	if !c.parseFlags(fs, args, c.Help()) {
		return exitUsage
	}
	if fs.NArg() == 0 {
		return c.usageError("scale needs NAME=N", c.Help())
	}
	counts, err := parseCounts(fs.Args())
	if err != nil {
		c.Ui.Error(err.Error())
		return exitUsage
	}
	ctx, cancel := signalContext()
	defer cancel()
	client := c.controlClient()
	defer client.Close()
	res, err := client.Scale(ctx, counts, c.dryRun)
	if control.IsCode(err, control.CodeInvalidConfig) {
		c.Ui.Error("prox cannot run that count; nothing was changed.\n")
		c.Ui.Error(err.Error())
		return exitFailure
	}
	if err != nil {
		return c.controlError(err)
	}
	return c.printPlan(*res)
}
