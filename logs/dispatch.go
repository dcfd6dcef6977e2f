package logs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
)

// discardTimeout bounds the Close call on a sink whose plugin died.
const discardTimeout = time.Second

// sinkRunner is one attached sink: its queue and the goroutine that turns
// the queue into acknowledged batches.
type sinkRunner struct {
	name      string
	processes []string // empty: every process
	target    SinkTarget
	opts      SinkOptions
	logger    hclog.Logger
	queue     *sinkQueue
	publish   func(SinkEvent)
	// retarget takes ReplaceSink's requests (see switchTarget).
	retarget chan retarget

	ctx    context.Context // cancelled when Close gives up
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns
	err    error         // run's flush and close errors, read after done

	// Owned by run.
	sink   sdk.Sink
	opened bool   // Open has succeeded once
	seq    uint64 // the last batch's

	mu    sync.Mutex // guards the state, read by stats
	state SinkState
	since time.Time
	// lastErr is the last failure of the current spell of failures, nil
	// while ok; lastFailure the last failure ever.
	lastErr, lastFailure error
	// aborted says why Close gave up, nil if it did not.
	aborted error

	sent, sentEvents, batches, failures, relaunches atomic.Uint64
	// latency times each acknowledged batch, from its first attempt.
	latency latencyHistogram
}

func newSinkRunner(name string, processes []string, target SinkTarget, opts SinkOptions, logger hclog.Logger, publish func(SinkEvent)) *sinkRunner {
	ctx, cancel := context.WithCancel(context.Background())
	return &sinkRunner{
		name:      name,
		processes: slices.Clone(processes),
		target:    target,
		opts:      opts,
		logger:    logger,
		queue:     newSinkQueue(opts),
		publish:   publish,
		retarget:  make(chan retarget),
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
		// Batch numbers start from the wall clock in nanoseconds, so that
		// they never repeat across runs of prox (see sdk.Batch.Seq).
		seq:   uint64(time.Now().UnixNano()),
		state: SinkOK,
		since: time.Now(),
	}
}

// feeds reports whether the named process's output goes to this sink.
func (r *sinkRunner) feeds(process string) bool {
	return len(r.processes) == 0 || slices.Contains(r.processes, process)
}

// abort gives up on the sink for reason: run stops as soon as it can and
// whatever is still queued or in flight is counted as undelivered.
func (r *sinkRunner) abort(reason error) {
	r.mu.Lock()
	r.aborted = reason
	r.mu.Unlock()
	r.cancel()
	r.queue.stop()
}

// cause says why entries were not delivered: the failure of a sink that
// Close gave up on while it failed, or why Close gave up on a sink that
// did not fail, or the failure during which a stopping queue refused
// lines.
func (r *sinkRunner) cause() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.aborted != nil && r.lastErr != nil:
		return r.lastErr
	case r.aborted != nil:
		return r.aborted
	case r.lastFailure != nil:
		return r.lastFailure
	}
	return errors.New("no failure recorded")
}

// stats snapshots the state and counters.
func (r *sinkRunner) stats() SinkStats {
	c := r.queue.counts()
	r.mu.Lock()
	st := SinkStats{Name: r.name, State: r.state, Since: r.since}
	if r.lastErr != nil {
		st.LastError = r.lastErr.Error()
	} else if r.state == SinkClosed && r.aborted != nil {
		st.LastError = r.aborted.Error()
	}
	r.mu.Unlock()
	st.Sent = r.sent.Load()
	st.SentEvents = r.sentEvents.Load()
	st.Batches = r.batches.Load()
	st.Failures = r.failures.Load()
	st.Relaunches = r.relaunches.Load()
	st.Latency = r.latency.snapshot()
	st.Dropped, st.DroppedEvents = c.dropped, c.droppedEvents
	st.Undelivered, st.UndeliveredEvents = c.undelivered, c.undeliveredEvents
	st.Queued, st.QueuedEvents = c.queued, c.queuedEvents
	return st
}

// setState moves the sink to state to, recording err (nil when to is ok
// or closed), and publishes the change. It returns the previous state
// and when the current spell of failures began.
func (r *sinkRunner) setState(to SinkState, err error) (from SinkState, since time.Time) {
	now := time.Now()
	r.mu.Lock()
	from = r.state
	failing := to == SinkFailing || to == SinkRelaunching
	wasFailing := from == SinkFailing || from == SinkRelaunching
	since = r.since
	if failing != wasFailing || to == SinkClosed {
		r.since = now // a spell of failures, or of health, begins
	}
	r.state = to
	switch {
	case failing:
		r.lastErr, r.lastFailure = err, err
	case to == SinkOK:
		r.lastErr = nil
	}
	r.mu.Unlock()
	r.queue.setFailing(failing)
	if from != to {
		c := r.queue.counts()
		ev := SinkEvent{Time: now, Sink: r.name, From: from, To: to, Queued: c.queued, QueuedEvents: c.queuedEvents}
		if err != nil {
			ev.Error = err.Error()
		}
		r.publish(ev)
	}
	return from, since
}

// failed records a failed Write or Open, logs it when it changes the
// sink's state, and returns the new state.
func (r *sinkRunner) failed(err error, seq uint64, retryIn time.Duration) SinkState {
	r.failures.Add(1)
	to := SinkFailing
	if r.sink == nil && r.opened {
		to = SinkRelaunching
	}
	from, _ := r.setState(to, err)
	c := r.queue.counts()
	args := []any{"error", err, "seq", seq, "waiting_lines", c.queued, "waiting_events", c.queuedEvents, "retry_in", retryIn}
	switch {
	case from == to:
		r.logger.Debug("sink still failing", args...)
	case to == SinkRelaunching:
		r.logger.Warn("sink plugin died; relaunching it and resending the batch", args...)
	default:
		r.logger.Warn("sink failing; retrying the batch until it is acknowledged", args...)
	}
	return to
}

// run opens the sink, then sends batches until the queue is closed and
// drained, then flushes and closes the sink.
func (r *sinkRunner) run() {
	defer close(r.done)
	defer r.cancel()
	if err := r.open(); err != nil {
		r.failures.Add(1)
		r.setState(SinkFailing, err)
		r.logger.Error("cannot open sink; retrying when there is something to send", "error", err)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// entries is the array of every batch's entries, owners their lines'
	// Blocks: a sink is done with a batch when its Write returns (see
	// SinkTarget).
	var entries []LogEntry
	var owners []*Block
	for {
		if r.ctx.Err() != nil {
			r.lost()
			return
		}
		select {
		case req := <-r.retarget:
			r.switchTarget(req)
			continue
		default:
		}
		state, deadline := r.queue.look(r.opts.FlushInterval, time.Now())
		switch state {
		case queueFinished:
			r.err = r.finish()
			r.setState(SinkClosed, nil)
			return
		case queueEmpty, queueFilling:
			if state == queueFilling {
				timer.Reset(time.Until(deadline))
			}
			select {
			case <-r.queue.wake:
			case req := <-r.retarget:
				r.switchTarget(req)
			case <-timer.C:
			case <-r.ctx.Done():
				r.lost()
				return
			}
			timer.Stop()
		case queueDue:
			var events []sdk.Event
			entries, owners, events = r.queue.take(entries, owners)
			r.seq++
			b := &sdk.Batch{Seq: r.seq, Entries: entries, Events: events}
			err := r.deliver(b)
			clear(entries) // the array is reused: let the lines go
			releaseAll(owners)
			if err != nil {
				r.lost()
				return
			}
		}
	}
}

// lost closes a sink that Close gave up on, counting what the queue still
// held and the batch in flight as undelivered.
func (r *sinkRunner) lost() {
	r.queue.stop()
	r.queue.dropPending()
	r.discard()
	r.setState(SinkClosed, nil)
}

// deliver writes b until the sink acknowledges it, with capped
// exponential backoff between attempts. A sink whose plugin answered with
// an error keeps its plugin and gets b again; one whose plugin died (or
// did not answer in time) is reopened, which relaunches the plugin. b
// keeps its Seq throughout. deliver returns an error only when the runner
// was aborted.
func (r *sinkRunner) deliver(b *sdk.Batch) error {
	backoff := r.opts.RetryMin
	start := time.Now()
	for {
		err := r.writeOnce(b)
		if err == nil {
			r.latency.observe(time.Since(start))
			r.queue.acked()
			r.sent.Add(uint64(len(b.Entries)))
			r.sentEvents.Add(uint64(len(b.Events)))
			r.batches.Add(1)
			if from, since := r.setState(SinkOK, nil); from != SinkOK {
				r.logger.Info("sink recovered", "failing_for", time.Since(since).Round(time.Millisecond), "failures", r.failures.Load())
			}
			return nil
		}
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
		if r.sink != nil && pluginLost(err) {
			r.discard()
		}
		r.failed(err, b.Seq, backoff)
		select {
		case <-time.After(backoff):
		case <-r.ctx.Done():
			return r.ctx.Err()
		}
		backoff = min(2*backoff, r.opts.RetryMax)
	}
}

// pluginLost reports whether a failed call means the sink's plugin is
// gone or its outcome is unknown: the plugin could not be reached
// (sdk.ErrPluginUnavailable: it exited, crashed, was killed, or the
// connection was lost), or the call was cut short by its timeout. An
// error the plugin answered with (ENOSPC, a refused connection on its
// side) is not: the plugin is alive and is asked again.
func pluginLost(err error) bool {
	return errors.Is(err, sdk.ErrPluginUnavailable) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// writeOnce opens the sink if needed and writes b once.
func (r *sinkRunner) writeOnce(b *sdk.Batch) error {
	if r.sink == nil {
		if err := r.open(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.opts.WriteTimeout)
	defer cancel()
	return r.sink.Write(ctx, b)
}

// open opens the sink, or relaunches it after its plugin died.
func (r *sinkRunner) open() error {
	if r.opened {
		r.relaunches.Add(1)
	}
	s, err := r.target.Open(r.ctx)
	if err == nil && s == nil {
		err = errors.New("the target returned no sink")
	}
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	if r.opened {
		r.logger.Info("sink plugin relaunched")
	}
	r.sink, r.opened = s, true
	return nil
}

// discard closes a sink whose plugin died, best effort.
func (r *sinkRunner) discard() {
	if r.sink == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(discardTimeout, r.opts.WriteTimeout))
	defer cancel()
	if err := r.sink.Close(ctx); err != nil {
		r.logger.Debug("closing the failed sink", "error", err)
	}
	r.sink = nil
}

// finish flushes and closes the sink after the last batch.
func (r *sinkRunner) finish() error {
	if r.sink == nil {
		return nil // never opened: nothing was ever sent
	}
	var errs []error
	if err := r.sink.Flush(r.ctx); err != nil {
		errs = append(errs, fmt.Errorf("flush: %w", err))
	}
	if err := r.sink.Close(r.ctx); err != nil {
		errs = append(errs, fmt.Errorf("close: %w", err))
	}
	r.sink = nil
	return errors.Join(errs...)
}
