package logs

import (
	"slices"
	"sync"
	"sync/atomic"
)

// subscriber is one live reader of new lines: one line per value on ch,
// or, for a batch subscriber, the lines of one write per value on batches.
type subscriber struct {
	id      uint64
	matcher *Matcher
	ch      chan LogEntry  // nil for a batch subscriber
	batches chan LineBatch // nil for a line subscriber
	dropped atomic.Uint64
	// queued counts a batch subscriber's lines sent and not yet Done;
	// maxQueued bounds it.
	queued    atomic.Int64
	maxQueued int64

	// mu orders sends against the close of ch: offer holds it shared.
	mu     sync.RWMutex
	closed bool
}

// offer sends the entries that match, whose lines point into block (nil:
// into no buffer), under one read lock, without ever waiting: a line
// subscriber's full channel loses the entry and counts it, and a line it
// gets is a copy when block is not nil; a batch subscriber receives the
// matching ones as one value, in a slice of its own, holding block until
// Done, or loses them all, counted.
func (s *subscriber) offer(entries []LogEntry, block *Block) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	if s.batches != nil {
		s.offerBatchLocked(entries, block)
		return
	}
	var dropped uint64
	var copies arena // the copies of this call's lines, in shared chunks
	for i := range entries {
		if !s.matcher.Match(&entries[i]) {
			continue
		}
		if len(s.ch) == cap(s.ch) {
			dropped++ // full: no copy for a line that would be lost
			continue
		}
		e := entries[i]
		if block != nil {
			e.Line = copies.copy(e.Line)
		}
		select {
		case s.ch <- e:
		default:
			dropped++
		}
	}
	if dropped > 0 {
		s.dropped.Add(dropped)
	}
}

// offerBatchLocked is offer for a batch subscriber; s.mu is held
// shared. Whatever it drops costs no copy: a full subscriber is seen
// before the matching lines are gathered, or the array goes back to the
// pool.
func (s *subscriber) offerBatchLocked(entries []LogEntry, block *Block) {
	if len(s.batches) == cap(s.batches) {
		s.dropped.Add(uint64(s.matching(entries)))
		return
	}
	if q := s.queued.Load(); q > 0 && q+int64(len(entries)) > s.maxQueued {
		// Over the buffer even if every line matches; exact below.
		if n := int64(s.matching(entries)); n > 0 && q+n > s.maxQueued {
			s.dropped.Add(uint64(n))
			return
		}
	}
	matched := getBatch(len(entries))
	if s.matcher == nil {
		matched = append(matched, entries...)
	} else {
		for i := range entries {
			if s.matcher.Match(&entries[i]) {
				matched = append(matched, entries[i])
			}
		}
	}
	n := int64(len(matched))
	if n == 0 {
		putBatch(matched)
		return
	}
	if q := s.queued.Add(n); q > s.maxQueued && q > n {
		// Over the buffer, unless this batch alone is all there is: a
		// single batch larger than the buffer still goes.
		s.queued.Add(-n)
		s.dropped.Add(uint64(n))
		putBatch(matched)
		return
	}
	block.hold(1)
	select {
	case s.batches <- LineBatch{Entries: matched, block: block}:
	default:
		block.release(1)
		s.queued.Add(-n)
		s.dropped.Add(uint64(n))
		putBatch(matched)
	}
}

// matching counts the entries s's matcher takes.
func (s *subscriber) matching(entries []LogEntry) int {
	if s.matcher == nil {
		return len(entries)
	}
	n := 0
	for i := range entries {
		if s.matcher.Match(&entries[i]) {
			n++
		}
	}
	return n
}

// close closes the channel once no send is in progress.
func (s *subscriber) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		if s.batches != nil {
			close(s.batches)
		} else {
			close(s.ch)
		}
	}
	s.mu.Unlock()
}

// Subscribe registers a live reader of the lines written from now on that
// match f. The channel is buffered (ManagerOptions.SubscriberBuffer); when
// it is full, new lines for it are dropped and counted (Dropped) instead
// of waiting, so a slow reader never slows a process down. The channel is
// closed by Unsubscribe and by Close.
//
// An invalid filter (see Filter.Compile) gives id 0 and a closed channel:
// check the filter first, or use SubscribeMatcher. The entries' lines are
// shared and must not be modified.
func (m *Manager) Subscribe(f Filter) (uint64, <-chan LogEntry) {
	matcher, err := f.Compile()
	if err != nil {
		m.logger.Warn("subscription refused", "error", err)
		ch := make(chan LogEntry)
		close(ch)
		return 0, ch
	}
	return m.SubscribeMatcher(matcher)
}

// SubscribeMatcher is Subscribe with a compiled filter; a nil matcher
// matches every line.
func (m *Manager) SubscribeMatcher(matcher *Matcher) (uint64, <-chan LogEntry) {
	s := &subscriber{matcher: matcher, ch: make(chan LogEntry, m.opts.SubscriberBuffer)}
	return m.addSubscriber(s), s.ch
}

// minBatches is the least number of batches a batch subscriber's channel
// holds, however small SubscriberBuffer is.
const minBatches = 16

// BatchSubscription is a live reader of lines in bulk (SubscribeBatches).
type BatchSubscription struct {
	// ID names the subscription (Unsubscribe, Dropped).
	ID uint64
	// C delivers, in order, the matching lines of each write (for a
	// process's output, one read of one of its streams) as one slice,
	// the reader's own; the lines are shared and must not be modified, and
	// are valid until Done. It is closed by Unsubscribe and by Close.
	C <-chan LineBatch

	s *subscriber
}

// Dropped returns how many lines the subscription has lost so far because
// its reader fell behind; it is Manager.Dropped(b.ID) without a lookup,
// cheap enough to ask after every batch.
func (b *BatchSubscription) Dropped() uint64 {
	if b.s == nil {
		return 0
	}
	return b.s.dropped.Load()
}

// LineBatch is the matching lines of one write, as a batch subscriber
// receives them.
type LineBatch struct {
	Entries []LogEntry
	block   *Block // held for the lines until Done
}

// Done tells the manager the reader has handled batch: its lines no
// longer count against the subscriber's buffer, and its array and the
// bytes of its lines are reused, so the reader must not touch batch
// afterwards. (A reader that never calls Done only loses the reuse, and
// its buffer fills.)
func (b *BatchSubscription) Done(batch LineBatch) {
	if b.s != nil {
		b.s.queued.Add(-int64(len(batch.Entries)))
	}
	batch.block.release(1)
	putBatch(batch.Entries)
}

// Batch arrays are reused through batchPool: the terminal takes every line
// of every process, so allocating them would be as much garbage as the
// lines themselves. Arrays above maxPooledBatch entries are left to the GC.
const maxPooledBatch = 8192

var batchPool sync.Pool // of *[]LogEntry, empty

// getBatch returns an empty slice with room for n entries.
func getBatch(n int) []LogEntry {
	if p, ok := batchPool.Get().(*[]LogEntry); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]LogEntry, 0, max(n, 64))
}

// putBatch makes b's array available to getBatch, without its lines.
func putBatch(b []LogEntry) {
	if cap(b) == 0 || cap(b) > maxPooledBatch {
		return
	}
	b = b[:cap(b)]
	clear(b) // let the lines go
	b = b[:0]
	batchPool.Put(&b)
}

// SubscribeBatches is SubscribeMatcher for a reader that takes lines in
// bulk, such as a terminal. The buffer still counts lines: a batch that
// would take the lines received and not yet Done above SubscriberBuffer
// is dropped whole, and its lines counted (Dropped), as is one arriving
// when the channel is full (SubscriberBuffer/16 batches, at least 16).
func (m *Manager) SubscribeBatches(matcher *Matcher) *BatchSubscription {
	n := max(m.opts.SubscriberBuffer/16, minBatches)
	s := &subscriber{matcher: matcher, batches: make(chan LineBatch, n), maxQueued: int64(m.opts.SubscriberBuffer)}
	return &BatchSubscription{ID: m.addSubscriber(s), C: s.batches, s: s}
}

// addSubscriber registers s and returns its id; 0 when the manager is
// closed (s is closed at once).
func (m *Manager) addSubscriber(s *subscriber) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		s.close()
		return 0
	}
	m.lastSubID++
	s.id = m.lastSubID
	m.subByID[s.id] = s
	subs := append(slices.Clone(*m.subs.Load()), s)
	m.subs.Store(&subs)
	return s.id
}

// Unsubscribe removes the subscriber and closes its channel. Unknown ids
// are ignored.
func (m *Manager) Unsubscribe(id uint64) {
	m.mu.Lock()
	s, ok := m.subByID[id]
	if ok {
		delete(m.subByID, id)
		subs := slices.DeleteFunc(slices.Clone(*m.subs.Load()), func(x *subscriber) bool { return x == s })
		m.subs.Store(&subs)
	}
	m.mu.Unlock()
	if ok {
		s.close()
	}
}

// Dropped returns how many lines the subscriber has lost because its
// channel was full; 0 for an unknown (or removed) subscriber.
func (m *Manager) Dropped(id uint64) uint64 {
	m.mu.Lock()
	s, ok := m.subByID[id]
	m.mu.Unlock()
	if !ok {
		return 0
	}
	return s.dropped.Load()
}
