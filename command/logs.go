package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/posener/complete"
	"github.com/prox-dev/prox/supervisor/control"
)

// followBacklog is how many kept lines `logs -f` prints first when -n is
// not given.
const followBacklog = 10

// LogsCommand prints, and with -f follows, the output of the running
// prox's processes.
type LogsCommand struct {
	Meta
	// ctx, when set, replaces the context that ends on SIGINT or SIGTERM
	// (tests).
	ctx context.Context

	follow     bool
	lines      int
	grep       string
	regex      string
	since      string
	onlyStderr bool
	onlyStdout bool
	json       bool
}

// Help implements cli.Command.
func (c *LogsCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox logs [options] [NAME...]

  Prints the output lines the running prox keeps (the last log_lines of
  each process, 1000 by default) of every process, or of the NAMEd ones,
  oldest first, as "name | line", coloured like prox up on a terminal.
  With -f it then follows: new lines are printed as they are written, until
  Ctrl-C or until prox stops. A follower that reads too slowly loses lines;
  prox says how many on stderr. The NAME of a process with replicas means
  all its instances, each line prefixed with its instance ("web.1 |").

  Exits 0 on success, 1 when no prox runs on the socket or a NAME is
  unknown, 2 on a usage error (an invalid -regex included).

Options:

  -f                 Follow: print new lines as they are written.
  -n=N               Print only the newest N kept lines. Default: every
                     kept line; with -f, 10.
  -grep=TEXT         Only lines that contain TEXT.
  -regex=RE          Only lines that match the regular expression RE
                     (RE2 syntax, unanchored).
  -stdout            Only standard output lines.
  -stderr            Only standard error lines.
  -since=WHEN        Only lines from WHEN on: a duration back from now
                     ("10m") or an RFC 3339 time.
  -json              One JSON object per line: {"time", "process",
                     "stream", "line"}, plus "line_base64" holding the
                     exact bytes when the line is not valid UTF-8.
` + socketHelp + metaHelp)
}

// Synopsis implements cli.Command.
func (c *LogsCommand) Synopsis() string {
	return "Print or follow the output of the running prox's processes."
}

// AutocompleteArgs implements cli.CommandAutocomplete: process names.
func (c *LogsCommand) AutocompleteArgs() complete.Predictor { return predictProcesses() }

// AutocompleteFlags implements cli.CommandAutocomplete.
func (c *LogsCommand) AutocompleteFlags() complete.Flags {
	return withCommonFlags(complete.Flags{
		"-f": complete.PredictNothing, "-n": complete.PredictAnything, "-grep": complete.PredictAnything,
		"-regex": complete.PredictAnything, "-stdout": complete.PredictNothing, "-stderr": complete.PredictNothing,
		"-since": complete.PredictAnything, "-json": complete.PredictNothing,
	})
}

// Run implements cli.Command.
func (c *LogsCommand) Run(args []string) int {
	fs := c.FlagSet("logs")
	c.socketFlag(fs)
	fs.BoolVar(&c.follow, "f", false, "follow")
	fs.IntVar(&c.lines, "n", -1, "newest lines")
	fs.StringVar(&c.grep, "grep", "", "substring")
	fs.StringVar(&c.regex, "regex", "", "regular expression")
	fs.StringVar(&c.since, "since", "", "since")
	fs.BoolVar(&c.onlyStdout, "stdout", false, "stdout only")
	fs.BoolVar(&c.onlyStderr, "stderr", false, "stderr only")
	fs.BoolVar(&c.json, "json", false, "JSON output")
	if !c.parseFlags(fs, args, c.Help()) {
		return exitUsage
	}
	return c.run(fs.Args(), c.Help())
}

// run prints (or follows) the lines of the named processes (all when
// none) as the flags say; help is the command's, for usage errors.
func (c *LogsCommand) run(names []string, help string) int {
	q, msg := c.query(names, time.Now())
	if msg != "" {
		return c.usageError(msg, help)
	}
	ctx, cancel := interruptible(c.ctx)
	defer cancel()
	client := c.controlClient()
	defer client.Close()

	// The processes in configuration order give the same padding and
	// colours as prox up.
	reqCtx, cancelReq := context.WithTimeout(ctx, requestTimeout)
	ps, err := client.Processes(reqCtx)
	cancelReq()
	if err != nil {
		return c.controlError(err)
	}
	all := make([]string, len(ps))
	for i, p := range ps {
		all[i] = p.Name
	}
	print := c.printFunc(all)

	if !c.follow {
		if q.Limit == 0 && c.lines == 0 {
			return exitOK // -n 0: none, where the API's 0 means all
		}
		reqCtx, cancelReq := context.WithTimeout(ctx, requestTimeout)
		defer cancelReq()
		lines, err := client.Logs(reqCtx, q)
		if err != nil {
			return c.controlError(err)
		}
		for _, l := range lines {
			print(l)
		}
		return exitOK
	}
	s, err := client.FollowLogs(ctx, q)
	if err != nil {
		return c.controlError(err)
	}
	defer s.Close()
	for {
		m, err := s.Next()
		switch {
		case ctx.Err() != nil:
			return exitOK // interrupted
		case errors.Is(err, io.EOF):
			c.Ui.Info("prox has stopped.")
			return exitOK
		case err != nil:
			return c.controlError(err)
		case m.Line != nil:
			print(*m.Line)
		default:
			c.Ui.Warn(fmt.Sprintf("prox: %d lines dropped: this reader fell behind.", m.Dropped))
		}
	}
}

// query builds the API query from the flags and names, or returns a usage
// problem.
func (c *LogsCommand) query(names []string, now time.Time) (control.LogQuery, string) {
	q := control.LogQuery{Processes: names, Contains: c.grep, Regex: c.regex}
	switch {
	case c.onlyStdout && c.onlyStderr:
		return q, "-stdout and -stderr exclude each other; give neither for both streams"
	case c.onlyStdout:
		q.Stream = "stdout"
	case c.onlyStderr:
		q.Stream = "stderr"
	}
	if c.regex != "" {
		if _, err := regexp.Compile(c.regex); err != nil {
			return q, fmt.Sprintf("invalid -regex %q: %v", c.regex, err)
		}
	}
	if c.since != "" {
		if t, err := time.Parse(time.RFC3339Nano, c.since); err == nil {
			q.Since = t
		} else if d, err := time.ParseDuration(c.since); err == nil && d >= 0 {
			q.Since = now.Add(-d)
		} else {
			return q, fmt.Sprintf("invalid -since %q: want a duration back from now (\"10m\") or an RFC 3339 time", c.since)
		}
	}
	switch {
	case c.lines < -1:
		return q, fmt.Sprintf("invalid -n %d: want a number of lines >= 0", c.lines)
	case c.lines >= 0:
		q.Limit = c.lines
	case c.follow:
		q.Limit = followBacklog
	}
	return q, ""
}

// printFunc returns the function that prints a line: as JSON, or as prox
// up does.
func (c *LogsCommand) printFunc(names []string) func(control.LogLine) {
	w := c.stdout()
	if c.json {
		return func(l control.LogLine) {
			b, err := json.Marshal(l)
			if err != nil {
				return
			}
			_, _ = w.Write(append(b, '\n'))
		}
	}
	p := newPrinter(w, names, c.useColor(w))
	return func(l control.LogLine) { p.Print(l.Entry()) }
}
