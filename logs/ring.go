package logs

import (
	"sync"
	"sync/atomic"

	"github.com/prox-dev/prox/sdk"
)

// procLog is one process's ring buffer of recent lines and the sinks it
// feeds.
type procLog struct {
	name string

	mu      sync.Mutex
	entries []LogEntry // ring: grows to size, then entries[next] is the oldest
	owners  []*Block   // owners[i] is held for entries[i]'s line (nil: none)
	next    int
	size    int

	// sinks are the sink runners this process feeds (copy on write).
	sinks atomic.Pointer[[]*sinkRunner]

	// lines and bytes count the output received, by stream (index
	// sdk.Stream; 0 for any other), under mu: added once per batch.
	lines, bytes [3]uint64
}

func newProcLog(name string, size int) *procLog {
	return &procLog{name: name, size: size}
}

// add stores entries of this process, under one lock. Their lines point
// into block (or into no buffer, when it is nil), are not modified by
// anyone while stored, and are stored as they are: block is held for each
// and released for each entry they overwrite. Each entry gets the
// process's name as stored.
func (p *procLog) add(entries []LogEntry, block *Block) {
	// The batch's lines and bytes per stream, summed in the loop that
	// stores the lines (no atomic, no call) and added to the counters
	// once, under the lock it holds anyway.
	var lines, size [3]int
	var dropped releaser
	block.hold(len(entries))
	p.mu.Lock()
	for i := range entries {
		// Field by field: a composite literal is built aside and copied.
		e := &entries[i]
		e.Process = p.name
		st := streamIndex(e.Stream)
		lines[st]++
		size[st] += len(e.Line)
		if len(p.entries) < p.size {
			p.entries = append(p.entries, *e)
			p.owners = append(p.owners, block)
			continue
		}
		p.entries[p.next] = *e
		dropped.add(p.owners[p.next])
		p.owners[p.next] = block
		p.next++
		if p.next == len(p.entries) {
			p.next = 0
		}
	}
	for i := range size {
		p.lines[i] += uint64(lines[i])
		p.bytes[i] += uint64(size[i])
	}
	p.mu.Unlock()
	dropped.flush()
}

// streamIndex is s's index in procLog's counters.
func streamIndex(s sdk.Stream) int {
	if s == sdk.Stdout || s == sdk.Stderr {
		return int(s)
	}
	return 0
}

// OutputCount is what a process has written, by stream.
type OutputCount struct {
	Process string
	// Lines and Bytes are indexed by sdk.Stream (sdk.Stdout, sdk.Stderr);
	// index 0 counts any other stream.
	Lines, Bytes [3]uint64
}

// counts returns the process's output counters.
func (p *procLog) counts() OutputCount {
	p.mu.Lock()
	defer p.mu.Unlock()
	return OutputCount{Process: p.name, Lines: p.lines, Bytes: p.bytes}
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
	owners := make([]*Block, 0, kept)
	for i := kept - 1; i >= 0; i-- {
		j := p.index(i)
		entries = append(entries, p.entries[j])
		owners = append(owners, p.owners[j])
	}
	var dropped releaser
	for i := kept; i < len(p.entries); i++ {
		dropped.add(p.owners[p.index(i)])
	}
	dropped.flush()
	p.entries, p.owners, p.next, p.size = entries, owners, 0, size
}

// index returns the position in the ring of the i-th newest entry (0 is
// the newest). p.mu must be held.
func (p *procLog) index(i int) int {
	n := len(p.entries)
	return (p.next - 1 - i + 2*n) % n
}

// newest appends to dst the newest entries matching m, at most limit of
// them (limit <= 0: all), newest first, with their lines copied into a:
// the ring's may be written over once they leave it.
func (p *procLog) newest(dst []LogEntry, m *Matcher, limit int, a *arena) []LogEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	found := 0
	for i := range len(p.entries) {
		e := p.entries[p.index(i)]
		if !m.Match(&e) {
			continue
		}
		e.Line = a.copy(e.Line)
		dst = append(dst, e)
		found++
		if limit > 0 && found == limit {
			break
		}
	}
	return dst
}
