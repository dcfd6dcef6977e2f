package logs

import (
	"slices"
	"sync"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// initialQueue is the starting capacity of a sink queue's ring; it doubles
// up to the queue's size as needed.
const initialQueue = 256

// sinkQueue is the bounded queue between writers and one sink's goroutine.
// Writers push; the sink goroutine (the only consumer) waits for a batch to
// be due and takes it.
type sinkQueue struct {
	size       int
	maxEntries int
	maxBytes   int
	dropOldest bool

	mu      sync.Mutex
	notFull sync.Cond // writers waiting for room (OverflowBlock)
	buf     []LogEntry
	owners  []*Block // owners[i] is held for buf[i]'s line (nil: none)
	head    int      // index of the oldest entry
	n       int      // entries queued
	bytes   int      // line bytes queued
	events  []sdk.Event
	firstAt time.Time // when the oldest queued item arrived in an empty queue
	waiting int       // writers blocked in push
	// signalled is set when wake holds (or held) a token the consumer has
	// not looked at yet, so writers send at most one per look.
	signalled bool
	closing   bool // no more items will come (but waiting writers may still push)
	stopped   bool // the consumer is gone: pushes are ignored
	// stopping is set once prox stops its processes, failing while the
	// sink's last attempt failed: together they release writers that wait
	// for room (see released).
	stopping, failing bool
	// pending and pendingEvents are the batch the consumer took and has
	// not had acknowledged yet.
	pending, pendingEvents int

	dropped       uint64 // entries dropped by OverflowDropOldest
	droppedEvents uint64
	// undelivered and undeliveredEvents are the items given up on: still
	// queued or pending when the consumer stopped, or refused by a full
	// queue while released.
	undelivered       uint64
	undeliveredEvents uint64

	// wake tells the consumer to look at the queue again.
	wake chan struct{}
}

func newSinkQueue(o SinkOptions) *sinkQueue {
	q := &sinkQueue{
		size:       o.QueueSize,
		maxEntries: o.MaxBatchEntries,
		maxBytes:   o.MaxBatchBytes,
		dropOldest: o.Overflow == OverflowDropOldest,
		buf:        make([]LogEntry, min(initialQueue, o.QueueSize)),
		owners:     make([]*Block, min(initialQueue, o.QueueSize)),
		wake:       make(chan struct{}, 1),
	}
	q.notFull.L = &q.mu
	return q
}

// push queues entries, whose lines point into block (nil: into no
// buffer), in order, under one lock (released only while waiting for
// room), holding block for each entry queued. When the queue is full it
// waits for room, or drops the oldest entry with OverflowDropOldest.
func (q *sinkQueue) push(entries []LogEntry, block *Block) {
	q.mu.Lock()
	defer q.mu.Unlock()
	started := false // the queue went from empty to not empty
	for len(entries) > 0 && !q.stopped && q.n < q.size {
		// As many as there is room for, in one or two bulk copies.
		k := min(len(entries), q.size-q.n)
		for q.n+k > len(q.buf) && len(q.buf) < q.size {
			q.grow()
		}
		k = min(k, len(q.buf)-q.n)
		tail := q.head + q.n
		if tail >= len(q.buf) {
			tail -= len(q.buf)
		}
		first := copy(q.buf[tail:min(tail+k, len(q.buf))], entries[:k])
		copy(q.buf[:k-first], entries[first:k])
		setOwners(q.owners[tail:tail+first], block)
		setOwners(q.owners[:k-first], block)
		block.hold(k)
		if q.n == 0 && len(q.events) == 0 {
			q.firstAt = time.Now()
			started = true
		}
		q.n += k
		for i := range k {
			q.bytes += len(entries[i].Line)
		}
		entries = entries[k:]
	}
	for i := range entries {
		if q.n == q.size && !q.stopped {
			if q.dropOldest {
				q.removeOldest()
				q.dropped++
			} else {
				// What is queued is due: make sure the consumer knows
				// before waiting for it.
				q.signal(true)
				q.waiting++
				for q.n == q.size && !q.stopped && !q.released() {
					q.notFull.Wait()
				}
				q.waiting--
			}
		}
		if q.stopped {
			return
		}
		if q.n == q.size {
			// Released: no room, and none will come before the stop ends.
			q.undelivered++
			continue
		}
		if q.n == len(q.buf) {
			q.grow()
		}
		j := q.head + q.n
		if j >= len(q.buf) {
			j -= len(q.buf)
		}
		q.buf[j] = entries[i]
		q.owners[j] = block
		block.hold(1)
		q.n++
		q.bytes += len(entries[i].Line)
		if q.n == 1 && len(q.events) == 0 {
			q.firstAt = time.Now()
			started = true
		}
	}
	q.signal(started || q.due())
}

// pushEvent queues ev; it never waits.
func (q *sinkQueue) pushEvent(ev sdk.Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped {
		return
	}
	if q.dropOldest && len(q.events) == q.size {
		q.events = append(q.events[:0], q.events[1:]...)
		q.droppedEvents++
	}
	q.events = append(q.events, ev)
	if q.n == 0 && len(q.events) == 1 {
		q.firstAt = time.Now()
		q.signal(true)
	}
}

// released reports whether writers stop waiting for room in a full
// queue: prox is stopping and the sink is failing, so nothing would make
// room before the stop ends. q.mu must be held.
func (q *sinkQueue) released() bool { return q.stopping && q.failing }

// setStopping marks the queue as stopping (see released).
func (q *sinkQueue) setStopping() {
	q.mu.Lock()
	q.stopping = true
	q.notFull.Broadcast()
	q.mu.Unlock()
}

// setFailing records whether the sink's last attempt failed (see
// released).
func (q *sinkQueue) setFailing(failing bool) {
	q.mu.Lock()
	q.failing = failing
	if q.released() {
		q.notFull.Broadcast()
	}
	q.mu.Unlock()
}

// signal wakes the consumer if cond holds and it was not woken already
// since it last looked. q.mu must be held.
func (q *sinkQueue) signal(cond bool) {
	if !cond || q.signalled {
		return
	}
	q.signalled = true
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// due reports whether a batch is full already. q.mu must be held.
func (q *sinkQueue) due() bool {
	return q.n >= q.maxEntries || q.bytes >= q.maxBytes
}

// grow doubles the ring, up to size. q.mu must be held.
func (q *sinkQueue) grow() {
	buf := make([]LogEntry, min(2*len(q.buf), q.size))
	owners := make([]*Block, len(buf))
	for i := range q.n {
		j := (q.head + i) % len(q.buf)
		buf[i], owners[i] = q.buf[j], q.owners[j]
	}
	q.buf, q.owners, q.head = buf, owners, 0
}

// removeOldest drops the oldest entry. q.mu must be held and q.n > 0.
func (q *sinkQueue) removeOldest() {
	q.bytes -= len(q.buf[q.head].Line)
	q.buf[q.head] = LogEntry{}
	q.owners[q.head].release(1)
	q.owners[q.head] = nil
	if q.head++; q.head == len(q.buf) {
		q.head = 0
	}
	q.n--
}

// beginClose tells the consumer that nothing new will come: it sends
// what is queued without waiting for batches to fill, then stops.
func (q *sinkQueue) beginClose() {
	q.mu.Lock()
	q.closing = true
	q.signalled = true
	select {
	case q.wake <- struct{}{}:
	default:
	}
	q.mu.Unlock()
}

// stop makes the queue refuse everything, releases waiting writers and
// counts what was still queued as undelivered. (The pending batch is the
// consumer's: acked or dropPending.)
func (q *sinkQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.undelivered += uint64(q.n)
	q.undeliveredEvents += uint64(len(q.events))
	for q.n > 0 {
		q.removeOldest()
	}
	q.events = nil
	q.notFull.Broadcast()
	q.mu.Unlock()
}

// queueState is what the consumer learns when it looks at the queue.
type queueState int

const (
	queueEmpty    queueState = iota // nothing queued: wait for a wake-up
	queueFilling                    // items queued, batch not due before the deadline
	queueDue                        // a batch is due: take it
	queueFinished                   // closing and nothing left: stop
)

// look tells the consumer what to do, and the deadline of a filling batch.
func (q *sinkQueue) look(flushInterval time.Duration, now time.Time) (queueState, time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.signalled = false
	switch {
	case q.n == 0 && len(q.events) == 0:
		if q.closing && q.waiting == 0 {
			q.stopped = true
			return queueFinished, time.Time{}
		}
		return queueEmpty, time.Time{}
	case q.closing || q.due() || q.waiting > 0:
		return queueDue, time.Time{}
	}
	deadline := q.firstAt.Add(flushInterval)
	if !now.Before(deadline) {
		return queueDue, time.Time{}
	}
	return queueFilling, deadline
}

// take moves the next batch into dst (reusing its array), and the owners
// of its lines into owners, which the caller releases once it is done with
// the batch (releaseAll): up to maxEntries entries and maxBytes line bytes
// (at least one entry if any is queued). It also returns every queued
// event, in a slice the queue no longer refers to. The batch shares
// nothing mutable with the queue.
func (q *sinkQueue) take(dst []LogEntry, owners []*Block) ([]LogEntry, []*Block, []sdk.Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k, size := 0, 0
	for i := q.head; k < q.n && k < q.maxEntries; k++ {
		l := len(q.buf[i].Line)
		if k > 0 && size+l > q.maxBytes {
			break
		}
		size += l
		if i++; i == len(q.buf) {
			i = 0
		}
	}
	dst = slices.Grow(dst[:0], k)[:k]
	owners = slices.Grow(owners[:0], k)[:k]
	first := min(k, len(q.buf)-q.head)
	copy(dst, q.buf[q.head:q.head+first])
	copy(dst[first:], q.buf[:k-first])
	copy(owners, q.owners[q.head:q.head+first])
	copy(owners[first:], q.owners[:k-first])
	clear(q.buf[q.head : q.head+first])
	clear(q.buf[:k-first])
	clear(q.owners[q.head : q.head+first])
	clear(q.owners[:k-first])
	q.head += k
	if q.head >= len(q.buf) {
		q.head -= len(q.buf)
	}
	q.n -= k
	q.bytes -= size
	events := q.events
	q.events = nil
	q.pending, q.pendingEvents = k, len(events)
	if q.waiting > 0 {
		q.notFull.Broadcast()
	}
	return dst, owners, events
}

// acked tells the queue that the pending batch was acknowledged.
func (q *sinkQueue) acked() {
	q.mu.Lock()
	q.pending, q.pendingEvents = 0, 0
	q.mu.Unlock()
}

// dropPending counts the pending batch as undelivered: the consumer gave
// up on it.
func (q *sinkQueue) dropPending() {
	q.mu.Lock()
	q.undelivered += uint64(q.pending)
	q.undeliveredEvents += uint64(q.pendingEvents)
	q.pending, q.pendingEvents = 0, 0
	q.mu.Unlock()
}

// queueCounts is a snapshot of a queue's counters.
type queueCounts struct {
	dropped, droppedEvents         uint64
	undelivered, undeliveredEvents uint64
	// queued and queuedEvents include the pending batch: the backlog.
	queued, queuedEvents int
}

// counts returns the queue's counters.
func (q *sinkQueue) counts() queueCounts {
	q.mu.Lock()
	defer q.mu.Unlock()
	return queueCounts{
		dropped: q.dropped, droppedEvents: q.droppedEvents,
		undelivered: q.undelivered, undeliveredEvents: q.undeliveredEvents,
		queued: q.n + q.pending, queuedEvents: len(q.events) + q.pendingEvents,
	}
}

// waiters returns the number of writers blocked in push.
func (q *sinkQueue) waiters() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.waiting
}

// setOwners sets every element of owners to b.
func setOwners(owners []*Block, b *Block) {
	for i := range owners {
		owners[i] = b
	}
}
