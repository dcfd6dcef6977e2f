package command

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/posener/complete"
	"github.com/prox-dev/prox/supervisor/control"
)

// requestTimeout bounds the requests of commands that do not follow.
const requestTimeout = 30 * time.Second

// PsCommand lists the processes of the running prox.
type PsCommand struct {
	Meta
	json bool
}

// Help implements cli.Command.
func (c *PsCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox ps [options] [NAME...]

  Lists the processes of the prox running on the control socket, in
  configuration order (or only the NAMEd ones; the NAME of a process with
  replicas means all its instances): name, state, health (of a process
  with a health check: checking, healthy or unhealthy), PID, runner,
  uptime, restart count, how the last run ended, and the reason of its
  state (what a starting process waits for, why it crashed or failed,
  what its failing health check said). The instances of a process with
  replicas are listed under a row of their process that counts them by
  state ("2/3 running, 1 crashed"). Under the table, a line for each sink
  that is failing or relaunching (see prox sinks).

  Exits 0 on success, 1 when no prox runs on the socket or a NAME is
  unknown, 2 on a usage error.

Options:

  -json              Print a JSON array of objects with the keys name,
                     group (the process an instance of replicas belongs
                     to; its own name otherwise), state, pid, runner,
                     restarts, started_at (RFC 3339, null when not
                     running), uptime_seconds and last_exit ({code,
                     signal}, null before the first exit), health
                     ({status, output, checked_at}, null without a
                     check), reason and containment (what keeps a running
                     process's descendants from outliving it: "cgroup",
                     "subreaper", "process-group"; "" if not running or
                     not said): the objects of the control API.
` + socketHelp + metaHelp)
}

// Synopsis implements cli.Command.
func (c *PsCommand) Synopsis() string {
	return "List the processes of the running prox and their state."
}

// AutocompleteArgs implements cli.CommandAutocomplete: process names.
func (c *PsCommand) AutocompleteArgs() complete.Predictor { return predictProcesses() }

// AutocompleteFlags implements cli.CommandAutocomplete.
func (c *PsCommand) AutocompleteFlags() complete.Flags {
	return withCommonFlags(complete.Flags{"-json": complete.PredictNothing})
}

// Run implements cli.Command.
func (c *PsCommand) Run(args []string) int {
	fs := c.FlagSet("ps")
	c.socketFlag(fs)
	fs.BoolVar(&c.json, "json", false, "JSON output")
	if !c.parseFlags(fs, args, c.Help()) {
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	client := c.controlClient()
	defer client.Close()
	ps, err := client.Processes(ctx)
	if err != nil {
		return c.controlError(err)
	}
	if names := fs.Args(); len(names) > 0 {
		if ps, err = selectProcesses(ps, names); err != nil {
			c.Ui.Error(err.Error())
			return exitFailure
		}
	}
	if c.json {
		if ps == nil {
			ps = []control.Process{}
		}
		b, err := json.MarshalIndent(ps, "", "  ")
		if err != nil {
			c.Ui.Error(err.Error())
			return exitFailure
		}
		c.Ui.Output(string(b))
		return exitOK
	}
	c.Ui.Output(strings.TrimRight(psTable(ps), "\n"))
	// A sink that fails is said under the table. (A prox without sinks
	// in its API, an older one, says nothing.)
	if sinks, err := client.Sinks(ctx); err == nil {
		for _, line := range unhealthySinks(sinks, time.Now()) {
			c.Ui.Output(line)
		}
	}
	return exitOK
}

// psTable renders processes as an aligned table.
func psTable(ps []control.Process) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tHEALTH\tPID\tRUNNER\tUPTIME\tRESTARTS\tLAST EXIT\tREASON")
	row := func(name string, p control.Process) {
		pid, uptime, health := "-", "-", "-"
		if p.PID > 0 {
			pid = fmt.Sprint(p.PID)
		}
		if p.StartedAt != nil {
			uptime = control.DurationText(time.Duration(p.UptimeSeconds * float64(time.Second)))
		}
		if p.Health != nil {
			health = p.Health.Status
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", name, p.State, health, pid, p.Runner, uptime, p.Restarts, p.LastExit.Text(), psReason(p))
	}
	// The instances of a process with replicas, under a row of their
	// process that counts them by state.
	for _, g := range groupProcesses(ps) {
		if len(g.instances) == 1 {
			row(g.instances[0].Name, g.instances[0])
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t-\t-\t%s\t-\t-\t-\t-\n", g.name, groupSummary(g.instances), g.instances[0].Runner)
		for _, p := range g.instances {
			row("  "+p.Name, p)
		}
	}
	_ = tw.Flush()
	return b.String()
}

// maxReason bounds the REASON column: a check's output can be long.
const maxReason = 100

// psReason is the REASON column: why the process is in its state, or
// what its failing health check said.
func psReason(p control.Process) string {
	why := p.Reason
	if p.Health != nil && p.Health.Status == control.HealthUnhealthy && why == "" {
		why = "health check: " + p.Health.Output
	}
	why = strings.Join(strings.Fields(why), " ") // one line
	if why == "" {
		return "-"
	}
	if r := []rune(why); len(r) > maxReason {
		why = string(r[:maxReason-1]) + "…"
	}
	return why
}
