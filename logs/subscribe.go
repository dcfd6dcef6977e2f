package logs

import (
	"slices"
	"sync"
	"sync/atomic"
)

// subscriber is one live reader of new lines.
type subscriber struct {
	id      uint64
	matcher *Matcher
	ch      chan LogEntry
	dropped atomic.Uint64

	// mu orders sends against the close of ch: offer holds it shared.
	mu     sync.RWMutex
	closed bool
}

// offer sends e if it matches, without ever waiting: a full channel loses
// the entry and counts it.
func (s *subscriber) offer(e *LogEntry) {
	if !s.matcher.Match(e) {
		return
	}
	s.mu.RLock()
	if !s.closed {
		select {
		case s.ch <- *e:
		default:
			s.dropped.Add(1)
		}
	}
	s.mu.RUnlock()
}

// offerBatch is offer for many entries, under one read lock.
func (s *subscriber) offerBatch(entries []LogEntry) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	var dropped uint64
	for i := range entries {
		if !s.matcher.Match(&entries[i]) {
			continue
		}
		select {
		case s.ch <- entries[i]:
		default:
			dropped++
		}
	}
	if dropped > 0 {
		s.dropped.Add(dropped)
	}
}

// close closes the channel once no send is in progress.
func (s *subscriber) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.ch)
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
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		s.close()
		return 0, s.ch
	}
	m.lastSubID++
	s.id = m.lastSubID
	m.subByID[s.id] = s
	subs := append(slices.Clone(*m.subs.Load()), s)
	m.subs.Store(&subs)
	return s.id, s.ch
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
