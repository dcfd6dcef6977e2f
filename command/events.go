package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/posener/complete"
	"github.com/prox-dev/prox/supervisor/control"
)

// EventsCommand follows the state changes of the running prox's
// processes.
type EventsCommand struct {
	Meta
	// ctx, when set, replaces the context that ends on SIGINT or SIGTERM
	// (tests).
	ctx context.Context
	// ready, when set, is closed once the subscription is in place
	// (tests).
	ready chan struct{}
	json  bool
}

// Help implements cli.Command.
func (c *EventsCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox events [options]

  Follows the running prox: first prints the current state of every
  process ("15:04:05.000 web is running, healthy"), then every change of
  a process's state (starting, running, stopping, stopped, crashed,
  backoff, failed) and of its health, and of a sink's state (ok,
  failing, relaunching, closed), as it happens, until Ctrl-C or until
  prox stops. A change reads "15:04:05.000 web running -> stopping", then
  how the process exited, its restart count and the reason, when there
  are; or "15:04:05.000 sink file.small ok -> failing: REASON (12,288
  lines waiting)".

  Exits 0 when interrupted or when prox stops, 1 when no prox runs on the
  socket, 2 on a usage error.

Options:

  -json              One JSON object per event: {"time", "type" ("current"
                     for the states first printed, then "state", "health"
                     or "sink"), "process", "sink", "from", "to", "health",
                     "restarts", "reason", "exit" {"code", "signal",
                     "error"}, "next_restart", "queued", "queued_events"};
                     empty members are left out.
` + socketHelp + metaHelp)
}

// Synopsis implements cli.Command.
func (c *EventsCommand) Synopsis() string {
	return "Follow the state changes of the running prox's processes."
}

// AutocompleteArgs implements cli.CommandAutocomplete: no arguments.
func (c *EventsCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }

// AutocompleteFlags implements cli.CommandAutocomplete.
func (c *EventsCommand) AutocompleteFlags() complete.Flags {
	return withCommonFlags(complete.Flags{"-json": complete.PredictNothing})
}

// Run implements cli.Command.
func (c *EventsCommand) Run(args []string) int {
	fs := c.FlagSet("events")
	c.socketFlag(fs)
	fs.BoolVar(&c.json, "json", false, "JSON output")
	if !c.parseFlags(fs, args, c.Help()) {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return c.usageError("events takes no arguments", c.Help())
	}
	ctx, cancel := interruptible(c.ctx)
	defer cancel()
	client := c.controlClient()
	defer client.Close()
	s, err := client.FollowEvents(ctx)
	if err != nil {
		return c.controlError(err)
	}
	defer s.Close()
	// Then the current state of every process, as kubectl get -w does:
	// after the subscription, so that no change falls in between.
	ps, err := client.Processes(ctx)
	if err != nil {
		return c.controlError(err)
	}
	if c.ready != nil {
		close(c.ready)
	}
	w := c.stdout()
	now := time.Now()
	for _, p := range ps {
		ev := currentEvent(p, now)
		var line []byte
		if c.json {
			line, _ = json.Marshal(ev)
		} else {
			line = []byte(eventLine(ev))
		}
		_, _ = w.Write(append(line, '\n'))
	}
	for {
		ev, err := s.Next()
		switch {
		case ctx.Err() != nil:
			return exitOK
		case errors.Is(err, io.EOF):
			c.Ui.Info("prox has stopped.")
			return exitOK
		case err != nil:
			return c.controlError(err)
		}
		var line []byte
		if c.json {
			line, _ = json.Marshal(ev)
		} else {
			line = []byte(eventLine(ev))
		}
		_, _ = w.Write(append(line, '\n'))
	}
}

// currentType is the type of the events that give each process's state
// before the changes.
const currentType = "current"

// currentEvent is the event that gives p's current state.
func currentEvent(p control.Process, now time.Time) control.Event {
	ev := control.Event{Time: now, Type: currentType, Process: p.Name, To: p.State, Restarts: p.Restarts, Reason: p.Reason}
	if p.Health != nil {
		ev.Health = p.Health.Status
		if p.Health.Status == control.HealthUnhealthy && ev.Reason == "" {
			ev.Reason = "health check: " + p.Health.Output
		}
	}
	return ev
}

// eventLine renders an event for people.
func eventLine(ev control.Event) string {
	var b strings.Builder
	b.WriteString(ev.Time.Local().Format("15:04:05.000") + " ")
	if ev.Type == control.EventSink {
		// "sink file.small ok -> failing: ...: no space left on device
		// (12,288 lines waiting)"
		b.WriteString("sink " + ev.Sink + " " + ev.From + " -> " + ev.To)
		switch {
		case ev.To == "ok":
			b.WriteString(": recovered")
		case ev.Reason != "":
			b.WriteString(": " + ev.Reason)
		}
		if ev.Queued > 0 || ev.QueuedEvents > 0 {
			b.WriteString(" (" + backlog(ev.Queued, ev.QueuedEvents) + " waiting)")
		}
		return b.String()
	}
	if ev.Type == control.EventReload {
		// "reload web restart: its configuration changed: restarting"
		b.WriteString("reload")
		if ev.Process != "" {
			b.WriteString(" " + ev.Process + " " + ev.Action)
		}
		b.WriteString(": " + ev.Reason)
		return b.String()
	}
	b.WriteString(ev.Process + " ")
	switch ev.Type {
	case currentType:
		b.WriteString("is " + ev.To)
		if ev.Health != "" {
			b.WriteString(", " + ev.Health)
		}
	case "health":
		b.WriteString("health " + ev.Health)
	default:
		b.WriteString(ev.From + " -> " + ev.To)
	}
	if ev.Exit != nil {
		switch {
		case ev.Exit.Error != "":
			b.WriteString(" (exit unknown: " + ev.Exit.Error + ")")
		case ev.Exit.Signal != "":
			b.WriteString(" (" + ev.Exit.Signal + ")")
		default:
			fmt.Fprintf(&b, " (exit %d)", ev.Exit.Code)
		}
	}
	if ev.Restarts > 0 {
		fmt.Fprintf(&b, " restarts=%d", ev.Restarts)
	}
	if ev.NextRestart != nil {
		b.WriteString(" next restart " + ev.NextRestart.Local().Format("15:04:05.000"))
	}
	if ev.Reason != "" {
		b.WriteString(": " + ev.Reason)
	}
	return b.String()
}
