package logs

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// retarget asks a sink's runner to move to another plugin (target) and
// options, at a batch boundary.
type retarget struct {
	target SinkTarget
	opts   SinkOptions
	done   chan error // buffered
}

// ReplaceSink moves the named sink to a new target (a relaunched plugin
// with a changed block) and options, fed by processes: the entries
// queued when it is called go to the old sink first, which is then
// flushed and closed (drained), and the new one gets everything after,
// from the same queue, so nothing is lost and the order is kept. It
// returns once the old sink is closed (its flush or close error, if any)
// or ctx ends.
func (m *Manager) ReplaceSink(ctx context.Context, name string, processes []string, target SinkTarget, opts SinkOptions) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return fmt.Errorf("replace sink %s: %w", name, err)
	}
	m.mu.Lock()
	r, ok := m.sinks[name]
	if !ok || m.closed {
		m.mu.Unlock()
		return fmt.Errorf("replace sink %s: no such sink", name)
	}
	m.setProcessesLocked(r, processes)
	m.mu.Unlock()
	req := retarget{target: target, opts: opts, done: make(chan error, 1)}
	select {
	case r.retarget <- req:
	case <-r.done:
		return fmt.Errorf("replace sink %s: the sink is closed", name)
	case <-ctx.Done():
		return ctx.Err()
	}
	r.queue.poke()
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetSinkProcesses changes which processes feed the named sink (every
// process when empty), from their next line on.
func (m *Manager) SetSinkProcesses(name string, processes []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.sinks[name]; ok && !m.closed {
		m.setProcessesLocked(r, processes)
	}
}

// setProcessesLocked sets r's processes and every process's list of
// sinks. m.mu must be held.
func (m *Manager) setProcessesLocked(r *sinkRunner, processes []string) {
	r.processes = slices.Clone(processes)
	for _, p := range processes {
		m.procLocked(p)
	}
	for pname, p := range *m.procs.Load() {
		p.sinks.Store(m.sinksFor(pname))
	}
}

// DetachSink stops feeding the named sink and drains it as Close does:
// what is queued is sent, then it is flushed and closed, within its drain
// timeout or until ctx ends. It returns what Close would report of it.
func (m *Manager) DetachSink(ctx context.Context, name string) error {
	m.mu.Lock()
	r, ok := m.sinks[name]
	if !ok || m.closed {
		m.mu.Unlock()
		return fmt.Errorf("detach sink %s: no such sink", name)
	}
	delete(m.sinks, name)
	for pname, p := range *m.procs.Load() {
		p.sinks.Store(m.sinksFor(pname))
	}
	m.mu.Unlock()
	// A writer that took the list before the change may still push: the
	// queue takes it until its consumer has sent everything and stopped.
	r.queue.beginClose()
	drain := time.NewTimer(r.drainTimeout())
	defer drain.Stop()
	select {
	case <-r.done:
	case <-drain.C:
		r.abort(fmt.Errorf("not drained within its drain timeout (%s)", r.drainTimeout()))
		<-r.done
	case <-ctx.Done():
		r.abort(fmt.Errorf("the drain was cut short: %w", context.Cause(ctx)))
		<-r.done
	}
	st := r.stats()
	if st.Undelivered > 0 || st.UndeliveredEvents > 0 {
		return &UndeliveredError{Sink: r.name, Entries: st.Undelivered, Events: st.UndeliveredEvents, Err: r.cause()}
	}
	if r.err != nil {
		return fmt.Errorf("sink %s: %w", r.name, r.err)
	}
	return nil
}

// drainTimeout is the sink's current drain timeout.
func (r *sinkRunner) drainTimeout() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.opts.DrainTimeout
}

// switchTarget moves the runner to req's target (run's goroutine): what
// the queue holds now goes to the old sink, which is then flushed and
// closed; the new sink is opened for the rest.
func (r *sinkRunner) switchTarget(req retarget) {
	entries, events := r.queue.queued()
	var batch []LogEntry
	var owners []*Block
	for (entries > 0 || events > 0) && r.ctx.Err() == nil {
		var evs []sdk.Event
		batch, owners, evs = r.queue.take(batch, owners)
		if len(batch) == 0 && len(evs) == 0 {
			break
		}
		entries -= len(batch)
		events -= len(evs)
		r.seq++
		err := r.deliver(&sdk.Batch{Seq: r.seq, Entries: batch, Events: evs})
		clear(batch)
		releaseAll(owners)
		if err != nil {
			req.done <- err
			return
		}
	}
	err := r.finish()
	r.target, r.opened = req.target, false
	r.mu.Lock()
	r.opts = req.opts
	r.mu.Unlock()
	r.queue.setOptions(req.opts)
	if oerr := r.open(); oerr != nil {
		r.failures.Add(1)
		r.setState(SinkFailing, oerr)
		r.logger.Error("cannot open the new sink; retrying when there is something to send", "error", oerr)
	}
	r.logger.Info("sink plugin replaced")
	req.done <- err
}

// queued returns how many entries and events the queue holds, not
// counting a batch taken and not yet acknowledged.
func (q *sinkQueue) queued() (entries, events int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, len(q.events)
}

// poke wakes the consumer up.
func (q *sinkQueue) poke() {
	q.mu.Lock()
	q.signal(true)
	q.mu.Unlock()
}

// setOptions applies a sink's new options to its queue: its size (never
// below what it holds), overflow policy and batch bounds.
func (q *sinkQueue) setOptions(o SinkOptions) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.size = max(o.QueueSize, q.n, 1)
	q.maxEntries, q.maxBytes = o.MaxBatchEntries, o.MaxBatchBytes
	q.dropOldest = o.Overflow == OverflowDropOldest
	q.notFull.Broadcast()
}
