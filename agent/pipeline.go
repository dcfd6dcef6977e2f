package agent

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/plugins/loader"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor"
)

// terminalBuffer is how many lines the terminal may fall behind before it
// skips lines (they still reach the sinks and the log buffer): a slow
// terminal never stalls the processes.
const terminalBuffer = 16384

// terminalSyncWait bounds how long one of prox's log lines waits for the
// process output before it to be printed: a stalled terminal delays prox's
// logs by this much at most.
const terminalSyncWait = time.Second

// pipeline is the path of output and events in `prox up`: the log manager
// with its sinks, the terminal as a live subscriber, and the supervisor's
// events forwarded to the sinks.
type pipeline struct {
	logs     *logs.Manager
	termID   uint64
	termDone chan struct{}
	// termSync asks the terminal printer to print every batch waiting and
	// to close the channel it is given once written.
	termSync chan chan struct{}
	// termStalled is set when a sync timed out, until the printer writes
	// again: meanwhile log lines do not wait for it.
	termStalled atomic.Bool
	events      <-chan supervisor.SupervisorEvent
	sup         *supervisor.Manager
	evDone      chan struct{}
	once        sync.Once
	// sinkTargets are the sinks' plugins, by sink name, for /metrics.
	sinkTargets map[string]*loader.SinkTarget
}

// startPipeline builds the log manager, attaches every sink of the stack
// and starts the terminal printer (unless quiet).
func startPipeline(st *stack, logger hclog.Logger, out Terminal, quiet bool) (*pipeline, error) {
	sizes := map[string]int{}
	for _, proc := range st.cfg.Instances() {
		sizes[proc.Name] = proc.LogLines
	}
	p := &pipeline{
		logs: logs.NewManager(logs.ManagerOptions{
			Logger: logger.Named("logs"), SubscriberBuffer: terminalBuffer, BufferSizes: sizes,
		}),
		termDone:    make(chan struct{}),
		evDone:      make(chan struct{}),
		sinkTargets: map[string]*loader.SinkTarget{},
	}
	for id, inst := range st.sinks {
		var procs []string
		for _, proc := range st.cfg.Instances() {
			for _, ref := range proc.Sinks {
				if ref.String() == id {
					procs = append(procs, proc.Name)
				}
			}
		}
		target := loader.NewSinkTarget(st.loader, inst)
		p.sinkTargets[id] = target
		if err := p.logs.AttachSink(id, procs, target, st.sinkOpts[id]); err != nil {
			return nil, fmt.Errorf("sink %s: %w", id, err)
		}
	}
	if quiet {
		close(p.termDone)
		return p, nil
	}
	sub := p.logs.SubscribeBatches(nil)
	p.termID = sub.ID
	p.termSync = make(chan chan struct{})
	go func() {
		defer close(p.termDone)
		defer out.Flush()
		var skipped uint64
		show := func(batch logs.LineBatch) {
			out.QueueBatch(batch.Entries)
			sub.Done(batch)
			// Lines the terminal lost are said where they went missing.
			if n := sub.Dropped(); n > skipped {
				out.Notice(fmt.Sprintf("%d lines not shown here: the terminal fell behind; the sinks and `prox logs` have them", n-skipped))
				skipped = n
			}
		}
		for {
			select {
			case batch, ok := <-sub.C:
				if !ok {
					return
				}
				// Gather lines while more are waiting; write when the
				// terminal subscriber has caught up.
				show(batch)
				if len(sub.C) == 0 {
					out.Flush()
					p.termStalled.Store(false)
				}
			case done := <-p.termSync:
				// Everything sent before the request is in sub.C now.
				for n := len(sub.C); n > 0; n-- {
					batch, ok := <-sub.C
					if !ok {
						break
					}
					show(batch)
				}
				out.Flush()
				p.termStalled.Store(false)
				close(done)
			}
		}
	}()
	return p, nil
}

// syncTerminal returns once the terminal has printed every line the log
// manager had received when it was called, or after terminalSyncWait.
// Without a terminal (quiet), or while it is stalled (a previous sync
// timed out and it has not written since), it returns at once.
func (p *pipeline) syncTerminal() {
	if p.termSync == nil || p.termStalled.Load() {
		return
	}
	t := time.NewTimer(terminalSyncWait)
	defer t.Stop()
	done := make(chan struct{})
	select {
	case p.termSync <- done:
	case <-p.termDone:
		return
	case <-t.C:
		p.termStalled.Store(true)
		return
	}
	select {
	case <-done:
	case <-p.termDone:
	case <-t.C:
		// A stalled terminal (a paused or slow reader): the next log
		// lines go out without waiting, until it writes again.
		p.termStalled.Store(true)
	}
}

// forwardEvents sends the supervisor's events to the sinks.
func (p *pipeline) forwardEvents(sup *supervisor.Manager) {
	p.sup = sup
	p.events = sup.Subscribe()
	go func() {
		defer close(p.evDone)
		for ev := range p.events {
			if ev.Process == "" {
				continue // the start and end of a reload: no process's sinks
			}
			p.logs.WriteEvent(sinkEvent(ev))
		}
	}()
}

// close drains the pipeline: the remaining events, every sink (Flush and
// Close, each within its drain timeout, or until ctx ends), the terminal.
// What a sink never got is said in one line per sink. It is safe to call
// more than once.
func (p *pipeline) close(ctx context.Context, logger hclog.Logger) {
	p.once.Do(func() {
		if p.sup != nil {
			if lost := p.sup.Unsubscribe(p.events); lost > 0 {
				logger.Warn("events lost on the way to the sinks", "count", lost)
			}
			<-p.evDone
		}
		if p.termID != 0 {
			if n := p.logs.Dropped(p.termID); n > 0 {
				logger.Warn("the terminal fell behind and skipped lines (the sinks have them)", "lines", n)
			}
		}
		err := p.logs.Close(ctx)
		// One line per sink: "sink file.small: 12,288 lines and 1 event
		// not delivered: ...", or its flush or close error.
		errs := []error{err}
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			errs = joined.Unwrap()
		}
		for _, err := range errs {
			if err != nil {
				logger.Error(err.Error())
			}
		}
		for _, s := range p.logs.AllSinkStats() {
			if s.Dropped > 0 || s.DroppedEvents > 0 {
				logger.Warn("sink dropped entries (overflow = \"drop_oldest\")", "sink", s.Name, "lines", s.Dropped, "events", s.DroppedEvents)
			}
		}
		<-p.termDone
	})
}

// sinkEvent turns a supervisor event into the event sinks receive: Type
// says what happened (started, exited, crashed, restarting, failed,
// stopped, starting, stopping, health), State the new state — for health
// events the health status, so a sink can select "unhealthy".
func sinkEvent(ev supervisor.SupervisorEvent) sdk.Event {
	out := sdk.Event{
		Timestamp: ev.Time, Process: ev.Process, State: sdk.ProcessState(ev.To),
		PreviousState: sdk.ProcessState(ev.From), Message: ev.Reason, Restarts: ev.Restarts,
	}
	if ev.Exit != nil {
		out.ExitCode, out.Signal = ev.Exit.Code, ev.Exit.Signal
		if ev.Exit.Error != "" && out.Message == "" {
			out.Message = ev.Exit.Error
		}
	}
	switch {
	case ev.Type == supervisor.EventHealth:
		out.Type, out.State = sdk.EventHealth, sdk.ProcessState(ev.Health)
	case ev.Type == supervisor.EventReload:
		// A step of a reload ("--- prox: process web reload: its
		// configuration changed: restarting"): not a change of state.
		out.Type = sdk.EventType(supervisor.EventReload)
		out.State, out.PreviousState = "", ""
	case ev.To == supervisor.StateRunning:
		out.Type = sdk.EventStarted
	case ev.To == supervisor.StateCrashed:
		out.Type = sdk.EventCrashed
	case ev.To == supervisor.StateBackoff:
		out.Type = sdk.EventRestarting
	case ev.To == supervisor.StateFailed:
		out.Type = sdk.EventFailed
	case ev.To == supervisor.StateStopped && ev.Exit != nil:
		out.Type = sdk.EventExited
	default:
		// starting, stopping, stopped: named after the state.
		out.Type = sdk.EventType(ev.To)
	}
	return out
}
