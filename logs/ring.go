package logs

import (
	"sync"
	"sync/atomic"
)

// Arena chunk sizes: a process's line bytes are carved from chunks that
// start small and double up to maxChunk, so a quiet process costs little
// and a busy one allocates once per many lines. Lines longer than
// maxArenaLine get their own allocation.
const (
	minChunk     = 1 << 10
	maxChunk     = 32 << 10
	maxArenaLine = maxChunk / 4
)

// procLog is one process's ring buffer of recent lines, the arena the
// bytes of its lines are copied into, and the sinks it feeds.
type procLog struct {
	name string

	mu      sync.Mutex
	entries []LogEntry // ring: grows to size, then entries[next] is the oldest
	next    int
	size    int
	chunk   []byte // lines are carved from chunk[len(chunk):cap(chunk)]

	// sinks are the sink runners this process feeds (copy on write).
	sinks atomic.Pointer[[]*sinkRunner]
}

func newProcLog(name string, size int) *procLog {
	return &procLog{name: name, size: size}
}

// add copies e's line into the arena, stores the entry and returns the
// stored copy, whose line bytes are never modified again.
func (p *procLog) add(e *LogEntry) LogEntry {
	p.mu.Lock()
	stored := LogEntry{Timestamp: e.Timestamp, Process: p.name, Stream: e.Stream, Line: p.copyLine(e.Line)}
	if len(p.entries) < p.size {
		p.entries = append(p.entries, stored)
	} else {
		p.entries[p.next] = stored
		p.next++
		if p.next == len(p.entries) {
			p.next = 0
		}
	}
	p.mu.Unlock()
	return stored
}

// addBatch is add for many entries of this process, under one lock: each
// entry is replaced by its stored copy.
func (p *procLog) addBatch(entries []LogEntry) {
	p.mu.Lock()
	for i := range entries {
		e := &entries[i]
		*e = LogEntry{Timestamp: e.Timestamp, Process: p.name, Stream: e.Stream, Line: p.copyLine(e.Line)}
		if len(p.entries) < p.size {
			p.entries = append(p.entries, *e)
			continue
		}
		p.entries[p.next] = *e
		p.next++
		if p.next == len(p.entries) {
			p.next = 0
		}
	}
	p.mu.Unlock()
}

// copyLine returns a copy of line whose capacity equals its length, so an
// append by a reader reallocates instead of overwriting the next line.
// p.mu must be held.
func (p *procLog) copyLine(line []byte) []byte {
	n := len(line)
	if n > maxArenaLine {
		return append([]byte(nil), line...)
	}
	if cap(p.chunk)-len(p.chunk) < n || p.chunk == nil {
		size := min(max(2*cap(p.chunk), minChunk), maxChunk)
		p.chunk = make([]byte, 0, size)
	}
	start := len(p.chunk)
	p.chunk = append(p.chunk, line...)
	return p.chunk[start : start+n : start+n]
}

// resize changes the ring's capacity, keeping the newest entries.
func (p *procLog) resize(size int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if size == p.size {
		return
	}
	kept := min(size, len(p.entries))
	entries := make([]LogEntry, 0, kept)
	for i := kept - 1; i >= 0; i-- {
		entries = append(entries, p.at(i))
	}
	p.entries, p.next, p.size = entries, 0, size
}

// at returns the i-th newest entry (0 is the newest). p.mu must be held.
func (p *procLog) at(i int) LogEntry {
	n := len(p.entries)
	return p.entries[(p.next-1-i+2*n)%n]
}

// newest appends to dst the newest entries matching m, at most limit of
// them (limit <= 0: all), newest first.
func (p *procLog) newest(dst []LogEntry, m *Matcher, limit int) []LogEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	found := 0
	for i := range len(p.entries) {
		e := p.at(i)
		if !m.Match(&e) {
			continue
		}
		dst = append(dst, e)
		found++
		if limit > 0 && found == limit {
			break
		}
	}
	return dst
}
