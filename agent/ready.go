package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prox-dev/prox/supervisor"
	"github.com/prox-dev/prox/supervisor/control"
)

// StartError says which process failed to start, and why: Options.Ready
// receives it.
type StartError struct {
	// Process is the process's name.
	Process string
	// Reason says why: how it exited, its start error, its failing health
	// check, or that prox was stopped.
	Reason string
}

// Error implements error.
func (e *StartError) Error() string {
	if e.Process == "" {
		return e.Reason
	}
	return fmt.Sprintf("%s failed to start: %s", e.Process, e.Reason)
}

// errStoppedBeforeReady is Ready's error when prox stops before every
// process is up (a signal, or every process ended by itself).
var errStoppedBeforeReady = &StartError{Reason: "prox stopped before every process was up"}

// settleTime is how long a process without a health check must have run
// to count as up: one that exits at once (a wrong argument, a port in
// use) fails the start rather than being reported up.
const settleTime = time.Second

// readiness tells from a snapshot taken at now whether the start is over:
// done with a nil error once every process is up, done with a *StartError
// once one failed to start. A process is up when it runs and is healthy
// (with a health check) or has run for settleTime (without one), or when
// it has stopped (it ran to its end successfully, or was stopped on
// request). It failed to start when it is failed, crashed (an exit the
// restart policy calls a failure), in backoff after such an exit, or
// unhealthy. The first process in configuration order that failed is
// named. When not done, recheck, if not 0, is when to look again though
// nothing changes: the first process to run for settleTime.
func readiness(procs []supervisor.ProcessInfo, now time.Time) (done bool, recheck time.Duration, err error) {
	waiting := false
	for _, p := range procs {
		switch p.State {
		case supervisor.StateFailed, supervisor.StateCrashed:
			return true, 0, &StartError{Process: p.Name, Reason: failureReason(p)}
		case supervisor.StateBackoff:
			if e := p.LastExit; e == nil || e.Code != 0 || e.Signal != "" || e.Error != "" {
				return true, 0, &StartError{Process: p.Name, Reason: failureReason(p)}
			}
			waiting = true // a clean exit, restarted by an always policy
		case supervisor.StateRunning:
			if p.Health == nil {
				if left := settleTime - now.Sub(p.StartedAt); left > 0 {
					waiting = true
					if recheck == 0 || left < recheck {
						recheck = left
					}
				}
				continue
			}
			switch p.Health.Status {
			case supervisor.HealthHealthy:
			case supervisor.HealthUnhealthy:
				return true, 0, &StartError{Process: p.Name, Reason: "its health check failed: " + oneLine(p.Health.Output)}
			default:
				waiting = true
			}
		case supervisor.StateStopped:
		default: // starting (also waiting for its dependencies), stopping
			waiting = true
		}
	}
	if !waiting {
		recheck = 0
	}
	return !waiting, recheck, nil
}

// failureReason says why p failed: its reason, else how it exited.
func failureReason(p supervisor.ProcessInfo) string {
	why := control.ProcessFrom(p).Reason
	if e := p.LastExit; why == "" && e != nil {
		switch {
		case e.Error != "":
			why = e.Error
		case e.Signal != "":
			why = "killed by " + e.Signal
		default:
			why = fmt.Sprintf("exited with code %d", e.Code)
		}
	}
	if why == "" {
		why = string(p.State)
	}
	return oneLine(why)
}

// oneLine joins the lines and spaces of s into one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// watchReady calls Options.Ready once the start is over (see readiness),
// or with errStoppedBeforeReady when ctx ends first (Run cancels it when
// prox is interrupted, not when every process ended by itself: the last
// snapshot then says how the start went); after a failed start
// it asks Run to stop everything, as Ctrl-C does, so that a detached
// start that failed leaves nothing running.
func (a *Agent) watchReady(ctx context.Context, sup *supervisor.Manager) {
	events := sup.Subscribe()
	defer sup.Unsubscribe(events)
	recheck := time.NewTimer(time.Hour)
	defer recheck.Stop()
	for {
		// Every change is an event; a subscriber loses events only when
		// its channel is full, so another look always follows the last
		// change.
		procs := sup.Processes()
		if ctx.Err() != nil {
			// Interrupted, perhaps between the snapshot and now: the
			// processes may be stopping, which is no start.
			a.opts.Ready(errStoppedBeforeReady)
			return
		}
		done, after, err := readiness(procs, time.Now())
		if done {
			if err != nil {
				a.requestStop(err.Error(), true)
			}
			a.opts.Ready(err)
			return
		}
		if after > 0 {
			recheck.Reset(after)
		}
		select {
		case <-recheck.C:
		case <-ctx.Done():
			a.opts.Ready(errStoppedBeforeReady)
			return
		case _, ok := <-events:
			if !ok {
				events = nil
			}
		}
	}
}

// requestStop asks Run to stop every process gracefully, as the first
// Ctrl-C does; why is logged. failed makes Run's exit code 1. Only the
// first request counts.
func (a *Agent) requestStop(why string, failed bool) {
	a.stopOnce.Do(func() {
		a.stopWhy, a.stopFailed = why, failed
		close(a.stopReq)
	})
}

// shutdownHook is the control API's Shutdown (POST /v1/shutdown, prox
// down): stop as Ctrl-C does and return once every process has ended.
func (a *Agent) shutdownHook(sup *supervisor.Manager) func(context.Context) error {
	return func(ctx context.Context) error {
		a.requestStop("shutdown requested through the control API", false)
		select {
		case <-sup.Done():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
