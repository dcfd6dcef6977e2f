package command

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/posener/complete"
	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/supervisor/control"
)

// SinksCommand lists the sinks of the running prox: their state and
// backlog.
type SinksCommand struct {
	Meta
	json bool
}

// Help implements cli.Command.
func (c *SinksCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox sinks [options]

  Lists the sinks of the prox running on the control socket, by name:
  their state (ok; failing: the sink answers with errors, and the batch
  is retried with backoff; relaunching: its plugin died and is being
  relaunched; closed), for how long, what waits for them, what they
  received, their failures and plugin relaunches, the lines lost (dropped
  by overflow = "drop_oldest", or not delivered at shutdown) and the last
  error. prox ps shows a line for every sink that is not ok.

  Exits 0 on success, 1 when no prox runs on the socket, 2 on a usage
  error.

Options:

  -json              Print a JSON array of objects with the keys name,
                     state, since, last_error, queued, queued_events,
                     sent, sent_events, batches, failures, relaunches,
                     dropped, dropped_events, undelivered and
                     undelivered_events: the objects of the control API.
` + socketHelp + metaHelp)
}

// Synopsis implements cli.Command.
func (c *SinksCommand) Synopsis() string {
	return "List the sinks of the running prox, their state and backlog."
}

// AutocompleteArgs implements cli.CommandAutocomplete: no arguments.
func (c *SinksCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }

// AutocompleteFlags implements cli.CommandAutocomplete.
func (c *SinksCommand) AutocompleteFlags() complete.Flags {
	return withCommonFlags(complete.Flags{"-json": complete.PredictNothing})
}

// Run implements cli.Command.
func (c *SinksCommand) Run(args []string) int {
	fs := c.FlagSet("sinks")
	c.socketFlag(fs)
	fs.BoolVar(&c.json, "json", false, "JSON output")
	if !c.parseFlags(fs, args, c.Help()) {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return c.usageError("sinks takes no arguments", c.Help())
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	client := c.controlClient()
	defer client.Close()
	sinks, err := client.Sinks(ctx)
	if err != nil {
		return c.controlError(err)
	}
	if c.json {
		if sinks == nil {
			sinks = []control.Sink{}
		}
		b, err := json.MarshalIndent(sinks, "", "  ")
		if err != nil {
			c.Ui.Error(err.Error())
			return exitFailure
		}
		c.Ui.Output(string(b))
		return exitOK
	}
	if len(sinks) == 0 {
		c.Ui.Output("No process sends its output to a sink.")
		return exitOK
	}
	c.Ui.Output(strings.TrimRight(sinksTable(sinks, time.Now()), "\n"))
	return exitOK
}

// sinksTable renders sinks as an aligned table.
func sinksTable(sinks []control.Sink, now time.Time) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tFOR\tWAITING\tSENT\tFAILURES\tRELAUNCHES\tLOST\tLAST ERROR")
	for _, s := range sinks {
		lastErr := s.LastError
		if lastErr == "" {
			lastErr = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", s.Name, s.State, control.DurationText(now.Sub(s.Since)),
			backlog(s.Queued, s.QueuedEvents), s.Sent, s.Failures, s.Relaunches, s.Dropped+s.Undelivered, lastErr)
	}
	_ = tw.Flush()
	return b.String()
}

// backlog says what waits: "12,288 lines and 1 event", "0 lines".
func backlog(lines, events int) string {
	out := logs.Quantity(uint64(lines), "line")
	if events > 0 {
		out += " and " + logs.Quantity(uint64(events), "event")
	}
	return out
}

// unhealthySinks returns a line for each sink that is failing or
// relaunching: "sink file.small: failing for 2m05s, 12,288 lines waiting:
// write: ...: no space left on device (prox sinks)".
func unhealthySinks(sinks []control.Sink, now time.Time) []string {
	var out []string
	for _, s := range sinks {
		if s.State == "ok" || s.State == "closed" {
			continue
		}
		out = append(out, fmt.Sprintf("sink %s: %s for %s, %s waiting: %s (prox sinks)",
			s.Name, s.State, control.DurationText(now.Sub(s.Since)), backlog(s.Queued, s.QueuedEvents), s.LastError))
	}
	return out
}
