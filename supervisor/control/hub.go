package control

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prox-dev/prox/logs"
)

// Tuning of the hubs.
const (
	// maxBatchEntries bounds the lines of one batch.
	maxBatchEntries = 1024
	// followerBatches is the capacity of a follower's queue of batches; a
	// follower that falls further behind loses batches (counted).
	followerBatches = 32
)

// A logHub is one subscription to the log manager shared by every follow
// stream with the same filter: each line is received, filtered and
// encoded once, whatever the number of streams, and the streams get
// immutable batches of encoded lines. So many followers cost the process
// that writes (whose output goes through the manager's subscriptions)
// about what one costs.
type logHub struct {
	key string
	lm  *logs.Manager
	id  uint64
	ch  <-chan logs.LogEntry

	mu      sync.Mutex
	members map[*follower]struct{}

	stop  chan struct{} // closed by the last member to leave
	ended chan struct{} // closed when the hub's goroutine returns
}

// follower is one follow stream's membership of a hub.
type follower struct {
	batches chan *logBatch
	// dropped counts the lines lost because batches was full.
	dropped atomic.Uint64
}

// logBatch is what a hub sends its followers: lines, and how many lines
// the hub's own subscription lost just before them. It is never modified
// once sent.
type logBatch struct {
	entries []logs.LogEntry
	data    []byte // the entries' NDJSON
	dropped uint64
}

// lines counts the lines a batch stands for, lost ones included.
func (b *logBatch) lines() uint64 { return uint64(len(b.entries)) + b.dropped }

// hubKey is the canonical form of a filter: streams with equal keys share
// a hub.
func hubKey(f logs.Filter) string {
	procs := slices.Clone(f.Processes)
	slices.Sort(procs)
	var b strings.Builder
	for _, p := range procs {
		b.WriteString(strconv.Quote(p))
	}
	b.WriteString("|" + strconv.Itoa(int(f.Stream)) + "|" + strconv.Quote(f.Contains) + "|" + strconv.Quote(f.Regex) + "|")
	if !f.Since.IsZero() {
		b.WriteString(strconv.FormatInt(f.Since.UnixNano(), 10))
	}
	return b.String()
}

// hubs are the server's live hubs, by key.
type hubs struct {
	mu  sync.Mutex
	all map[string]*logHub
}

// join adds a follower to the hub of p's filter, starting the hub if
// there is none. Every line written after join returns reaches the
// follower (or is counted as dropped).
func (hs *hubs) join(lm *logs.Manager, p *logParams) (*logHub, *follower) {
	key := hubKey(p.filter)
	f := &follower{batches: make(chan *logBatch, followerBatches)}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.all == nil {
		hs.all = map[string]*logHub{}
	}
	h, ok := hs.all[key]
	if !ok {
		h = &logHub{key: key, lm: lm, members: map[*follower]struct{}{}, stop: make(chan struct{}), ended: make(chan struct{})}
		h.id, h.ch = lm.SubscribeMatcher(p.matcher)
		hs.all[key] = h
		go h.run()
	}
	h.mu.Lock()
	h.members[f] = struct{}{}
	h.mu.Unlock()
	return h, f
}

// leave removes a follower; the last one to leave stops the hub.
func (hs *hubs) leave(h *logHub, f *follower) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	h.mu.Lock()
	delete(h.members, f)
	empty := len(h.members) == 0
	h.mu.Unlock()
	if empty && hs.all[h.key] == h {
		delete(hs.all, h.key)
		close(h.stop)
	}
}

// count returns the number of followers of every hub.
func (hs *hubs) count() int {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	n := 0
	for _, h := range hs.all {
		h.mu.Lock()
		n += len(h.members)
		h.mu.Unlock()
	}
	return n
}

// run receives the hub's lines, batches and encodes them, and hands the
// batches to every member, until the last member leaves or the log
// manager closes.
func (h *logHub) run() {
	defer close(h.ended)
	defer h.lm.Unsubscribe(h.id)
	ticker := time.NewTicker(dropCheckInterval)
	defer ticker.Stop()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	var reported uint64
	for {
		var b *logBatch
		select {
		case <-h.stop:
			return
		case <-ticker.C:
			if d := h.lm.Dropped(h.id); d > reported {
				b = &logBatch{dropped: d - reported}
				reported = d
			}
		case e, ok := <-h.ch:
			if !ok {
				return // the log manager closed: prox is stopping
			}
			// Collect lines for a moment, or until the batch is full: then
			// one batch, and one wake-up of each stream, carries many.
			b = &logBatch{entries: []logs.LogEntry{e}}
			closed := false
			linger.Reset(lingerDelay)
		collect:
			for len(b.entries) < maxBatchEntries {
				select {
				case e, ok := <-h.ch:
					if !ok {
						closed = true
						break collect
					}
					b.entries = append(b.entries, e)
				case <-linger.C:
					break collect
				case <-h.stop:
					return
				}
			}
			linger.Stop()
			if d := h.lm.Dropped(h.id); d > reported {
				b.dropped = d - reported
				reported = d
			}
			b.data = make([]byte, 0, len(b.entries)*128)
			for i := range b.entries {
				b.data = appendLogLine(b.data, &b.entries[i])
			}
			if closed {
				h.broadcast(b)
				return
			}
		}
		if b != nil {
			h.broadcast(b)
		}
	}
}

// broadcast hands b to every member, never waiting: a member whose queue
// is full loses it, and counts its lines.
func (h *logHub) broadcast(b *logBatch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for f := range h.members {
		select {
		case f.batches <- b:
		default:
			f.dropped.Add(b.lines())
		}
	}
}
