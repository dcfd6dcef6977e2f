package command

import (
	"context"
	"fmt"
	"strings"

	"github.com/posener/complete"
	"github.com/prox-dev/prox/supervisor/control"
)

// SignalCommand sends a signal to a process of the running prox.
type SignalCommand struct {
	Meta
}

// signalNames are the signals shell completion offers.
var signalNames = []string{"SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGSTOP", "SIGCONT", "SIGWINCH"}

// Help implements cli.Command.
func (c *SignalCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox signal [options] NAME SIGNAL

  Sends SIGNAL to the running process NAME of the running prox: to its
  whole process group (or what its runner has instead, e.g. a container).
  SIGNAL is a name ("HUP", "SIGHUP", "hup") or a number ("1"). The signal
  changes nothing in how prox supervises the process: if it ends the
  process, its restart policy applies as to any exit. The NAME of a
  process with replicas sends it to each of its instances.

  Exits 0 when the signal was sent, 1 when the process is unknown or not
  running or no prox runs on the socket, 2 on a usage error (an unknown
  signal included).

Options:
` + socketHelp + metaHelp)
}

// Synopsis implements cli.Command.
func (c *SignalCommand) Synopsis() string {
	return "Send a signal to a process of the running prox."
}

// AutocompleteArgs implements cli.CommandAutocomplete: a process name, then
// a signal name.
func (c *SignalCommand) AutocompleteArgs() complete.Predictor {
	procs := predictProcesses()
	return complete.PredictFunc(func(a complete.Args) []string {
		if len(a.Completed) == 0 || len(a.Completed) == 1 && a.Completed[0] == "signal" {
			return procs.Predict(a)
		}
		return signalNames
	})
}

// AutocompleteFlags implements cli.CommandAutocomplete.
func (c *SignalCommand) AutocompleteFlags() complete.Flags {
	return withCommonFlags(complete.Flags{})
}

// Run implements cli.Command.
func (c *SignalCommand) Run(args []string) int {
	fs := c.FlagSet("signal")
	c.socketFlag(fs)
	if !c.parseFlags(fs, args, c.Help()) {
		return exitUsage
	}
	if fs.NArg() != 2 {
		return c.usageError("signal needs exactly two arguments: NAME SIGNAL", c.Help())
	}
	name, sig := fs.Arg(0), fs.Arg(1)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	client := c.controlClient()
	defer client.Close()
	targets := []string{name}
	if ps, err := client.Processes(ctx); err == nil {
		// The name of a process with replicas: each instance.
		if sel, err := selectProcesses(ps, []string{name}); err == nil {
			targets = targets[:0]
			for _, p := range sel {
				targets = append(targets, p.Name)
			}
		}
	}
	code := exitOK
	for _, target := range targets {
		p, err := client.Signal(ctx, target, sig)
		if err != nil {
			if control.IsCode(err, control.CodeInvalidSignal) {
				return c.usageError(err.Error(), c.Help())
			}
			code = c.controlError(err)
			continue
		}
		c.Ui.Output(fmt.Sprintf("Sent %s to %s (PID %d).", normalSignal(sig), p.Name, p.PID))
	}
	return code
}

// normalSignal writes a signal name as "SIGHUP"; numbers stay numbers.
func normalSignal(sig string) string {
	s := strings.ToUpper(strings.TrimSpace(sig))
	if s == "" || s[0] >= '0' && s[0] <= '9' || strings.HasPrefix(s, "SIG") {
		return s
	}
	return "SIG" + s
}
