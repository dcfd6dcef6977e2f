package logs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
)

// discardTimeout bounds the Close call on a sink that failed.
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

	ctx    context.Context // cancelled when Close gives up
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns
	err    error         // run's outcome, read after done

	// Owned by run.
	sink   sdk.Sink
	opened bool // Open has succeeded once
	seq    uint64

	sent, sentEvents, batches, failures, reopens atomic.Uint64
}

func newSinkRunner(name string, processes []string, target SinkTarget, opts SinkOptions, logger hclog.Logger) *sinkRunner {
	ctx, cancel := context.WithCancel(context.Background())
	return &sinkRunner{
		name:      name,
		processes: slices.Clone(processes),
		target:    target,
		opts:      opts,
		logger:    logger,
		queue:     newSinkQueue(opts),
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
	}
}

// feeds reports whether the named process's output goes to this sink.
func (r *sinkRunner) feeds(process string) bool {
	return len(r.processes) == 0 || slices.Contains(r.processes, process)
}

// abort gives up on the sink: run stops as soon as it can and whatever is
// still queued is dropped.
func (r *sinkRunner) abort() {
	r.cancel()
	r.queue.stop()
}

// stats snapshots the counters.
func (r *sinkRunner) stats() SinkStats {
	dropped, droppedEvents, queued := r.queue.counts()
	return SinkStats{
		Sent:          r.sent.Load(),
		SentEvents:    r.sentEvents.Load(),
		Dropped:       dropped,
		DroppedEvents: droppedEvents,
		Batches:       r.batches.Load(),
		Failures:      r.failures.Load(),
		Reopens:       r.reopens.Load(),
		Queued:        queued,
	}
}

// run opens the sink, then sends batches until the queue is closed and
// drained, then flushes and closes the sink.
func (r *sinkRunner) run() {
	defer close(r.done)
	defer r.cancel()
	if err := r.open(); err != nil {
		r.failures.Add(1)
		r.logger.Error("cannot open sink; retrying when there is something to send", "error", err)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// entries is the array of every batch's entries: a sink is done with a
	// batch when its Write returns (see SinkTarget).
	var entries []LogEntry
	for {
		state, deadline := r.queue.look(r.opts.FlushInterval, time.Now())
		switch state {
		case queueFinished:
			r.err = r.finish()
			return
		case queueEmpty, queueFilling:
			if state == queueFilling {
				timer.Reset(time.Until(deadline))
			}
			select {
			case <-r.queue.wake:
			case <-timer.C:
			case <-r.ctx.Done():
				r.err = r.lost()
				return
			}
			timer.Stop()
		case queueDue:
			var events []sdk.Event
			entries, events = r.queue.take(entries)
			r.seq++
			b := &sdk.Batch{Seq: r.seq, Entries: entries, Events: events}
			err := r.deliver(b)
			clear(entries) // the array is reused: let the lines go
			if err != nil {
				r.queue.stop()
				r.queue.countDropped(len(entries), len(events))
				r.err = r.lost()
				return
			}
		}
	}
}

// lost reports the entries Close gave up on.
func (r *sinkRunner) lost() error {
	st := r.stats()
	r.discard()
	return fmt.Errorf("not drained before the deadline: %d entries and %d events lost in total", st.Dropped, st.DroppedEvents)
}

// deliver writes b until the sink acknowledges it, reopening the sink
// after each failure with exponential backoff. It returns an error only
// when the runner was aborted.
func (r *sinkRunner) deliver(b *sdk.Batch) error {
	backoff := r.opts.RetryMin
	for {
		err := r.writeOnce(b)
		if err == nil {
			r.sent.Add(uint64(len(b.Entries)))
			r.sentEvents.Add(uint64(len(b.Events)))
			r.batches.Add(1)
			return nil
		}
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
		r.failures.Add(1)
		r.logger.Warn("sink failed; reopening it and resending the batch", "seq", b.Seq, "entries", len(b.Entries), "retry_in", backoff, "error", err)
		r.discard()
		select {
		case <-time.After(backoff):
		case <-r.ctx.Done():
			return r.ctx.Err()
		}
		backoff = min(2*backoff, r.opts.RetryMax)
	}
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
	if err := r.sink.Write(ctx, b); err != nil {
		return fmt.Errorf("write batch %d: %w", b.Seq, err)
	}
	return nil
}

// open opens (or reopens) the sink.
func (r *sinkRunner) open() error {
	if r.opened {
		r.reopens.Add(1)
	}
	s, err := r.target.Open(r.ctx)
	if err == nil && s == nil {
		err = errors.New("the target returned no sink")
	}
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	if r.opened {
		r.logger.Info("sink reopened")
	}
	r.sink, r.opened = s, true
	return nil
}

// discard closes a sink that failed, best effort: its plugin may be gone.
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
		if r.seq == 0 {
			return nil // never opened, and nothing was ever sent
		}
		return errors.New("the sink is not open: cannot flush")
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
