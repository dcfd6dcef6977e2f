package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/posener/complete"
	"github.com/prox-dev/prox/supervisor/control"
	"golang.org/x/sys/unix"
)

// DownCommand stops the running prox, detached or in a terminal.
type DownCommand struct {
	Meta
	// ctx, when set, replaces the context that ends on SIGINT or SIGTERM
	// (tests).
	ctx context.Context
}

// Help implements cli.Command.
func (c *DownCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox down [options]

  Stops the prox running on the control socket, whether it runs in the
  background (prox up -d) or in a terminal, as Ctrl-C does: the stop
  signal to every process (dependents first), SIGKILL after its stop
  timeout; then prox drains its sinks and shuts its plugins down. prox
  down waits until that prox has exited, then prints how each process
  ended (its state, its last exit, and why, e.g. killed after the stop
  timeout), as the stopping prox reports it, and, on standard error, a
  line for each sink that could not deliver everything within its
  drain_timeout ("sink file.small: 12,288 lines and 1 event not
  delivered: ...").

  Ctrl-C stops the waiting, not the shutdown.

  Exits 0 once prox has exited, 1 when no prox runs on the socket (it
  says so) or the shutdown failed, 2 on a usage error.

Options:
` + socketHelp + metaHelp)
}

// Synopsis implements cli.Command.
func (c *DownCommand) Synopsis() string {
	return "Stop the running prox and report how each process ended."
}

// AutocompleteArgs implements cli.CommandAutocomplete.
func (c *DownCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }

// AutocompleteFlags implements cli.CommandAutocomplete.
func (c *DownCommand) AutocompleteFlags() complete.Flags {
	return withCommonFlags(complete.Flags{})
}

// Run implements cli.Command.
func (c *DownCommand) Run(args []string) int {
	fs := c.FlagSet("down")
	c.socketFlag(fs)
	if !c.parseFlags(fs, args, c.Help()) {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return c.usageError("down takes no arguments", c.Help())
	}
	ctx, cancel := interruptible(c.ctx)
	defer cancel()
	client := c.controlClient()
	defer client.Close()

	reqCtx, cancelReq := context.WithTimeout(ctx, requestTimeout)
	st, err := client.Status(reqCtx)
	cancelReq()
	if errors.Is(err, control.ErrNoServer) {
		c.Ui.Error(fmt.Sprintf("prox is not running here: nothing listens on %s, so there is nothing to stop.", c.socketPath()))
		return exitFailure
	}
	if err != nil {
		return c.controlError(err)
	}
	// Hold the process before asking it to stop: its PID cannot be
	// another process's by the time it is waited for.
	exited, closeWait := exitWaiter(st.PID)
	defer closeWait()

	rep, err := client.ShutdownDrained(ctx)
	if err != nil {
		if ctx.Err() != nil {
			c.Ui.Error(fmt.Sprintf("stopped waiting; prox (PID %d) goes on stopping.", st.PID))
			return exitFailure
		}
		return c.controlError(err)
	}
	if err := exited(ctx); err != nil {
		c.Ui.Error(fmt.Sprintf("stopped waiting; every process has ended and prox (PID %d) goes on draining its sinks and shutting its plugins down.", rep.PID))
		c.Ui.Output(strings.TrimRight(downTable(rep.Processes), "\n"))
		return exitFailure
	}
	c.Ui.Output(fmt.Sprintf("prox (PID %d) has stopped. How each process ended:", rep.PID))
	c.Ui.Output(strings.TrimRight(downTable(rep.Processes), "\n"))
	for _, line := range undeliveredSinks(rep.Sinks) {
		c.Ui.Error(line)
	}
	return exitOK
}

// undeliveredSinks returns a line for each sink that was given up on at
// shutdown with something not delivered, as prox logs it: "sink
// file.small: 12,288 lines and 1 event not delivered: write: ...: no
// space left on device".
func undeliveredSinks(sinks []control.Sink) []string {
	var out []string
	for _, s := range sinks {
		if s.Undelivered == 0 && s.UndeliveredEvents == 0 {
			continue
		}
		line := fmt.Sprintf("sink %s: %s not delivered", s.Name, backlog(int(s.Undelivered), int(s.UndeliveredEvents)))
		if s.LastError != "" {
			line += ": " + s.LastError
		}
		out = append(out, line)
	}
	return out
}

// downTable renders how each process ended.
func downTable(ps []control.Process) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tLAST EXIT\tREASON")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.State, p.LastExit.Text(), psReason(p))
	}
	_ = tw.Flush()
	return b.String()
}

// exitPoll is how often the wait for prox's exit looks again (at the
// latest) for the end of the wait's context.
const exitPoll = 100 * time.Millisecond

// exitWaiter returns a function that waits until the process pid has
// exited, or ctx ends. It holds the process through a pidfd, which says
// when it exited also when it is not our child and nobody reaps it;
// where there are no pidfds, it looks at /proc. closeWait releases it.
func exitWaiter(pid int) (wait func(ctx context.Context) error, closeWait func()) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return func(context.Context) error { return nil }, func() {}
		}
		return func(ctx context.Context) error { return pollExit(ctx, pid) }, func() {}
	}
	return func(ctx context.Context) error {
			for {
				fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
				n, err := unix.Poll(fds, int(exitPoll/time.Millisecond))
				switch {
				case err != nil && !errors.Is(err, syscall.EINTR):
					return fmt.Errorf("wait for prox's exit: %w", err)
				case n > 0:
					return nil
				case ctx.Err() != nil:
					return ctx.Err()
				}
			}
		}, func() {
			_ = unix.Close(fd)
		}
}

// pollExit waits until the process pid is gone or a zombie.
func pollExit(ctx context.Context, pid int) error {
	t := time.NewTicker(exitPoll)
	defer t.Stop()
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return nil
		}
		if s := string(b); strings.HasPrefix(s[strings.LastIndexByte(s, ')')+1:], " Z") {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
