package logs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Defaults of ManagerOptions.
const (
	// DefaultBufferSize is the default number of lines kept per process.
	DefaultBufferSize = 1000
	// DefaultSubscriberBuffer is the default capacity of a subscriber's
	// channel.
	DefaultSubscriberBuffer = 1024
)

// ManagerOptions configures a Manager.
type ManagerOptions struct {
	// BufferSize is the number of lines kept per process for Query.
	// Default DefaultBufferSize (1000).
	BufferSize int
	// BufferSizes overrides BufferSize for the named processes. Default:
	// no overrides.
	BufferSizes map[string]int
	// SubscriberBuffer is the capacity of each subscriber's channel; a
	// subscriber that falls this far behind loses lines. Default
	// DefaultSubscriberBuffer (1024).
	SubscriberBuffer int
	// Logger receives the manager's own logs (sink failures, relaunches).
	// Default hclog.Default().
	Logger hclog.Logger
}

// Manager keeps the recent output of every process and distributes it to
// subscribers and sinks. All methods are safe for concurrent use;
// WriteStableBatch is meant to be called from many goroutines at once (one
// per process stream).
type Manager struct {
	opts   ManagerOptions
	logger hclog.Logger

	// procs maps a process name to its log (copy on write, so WriteStableBatch looks
	// a process up without a lock).
	procs atomic.Pointer[map[string]*procLog]
	// subs is the current list of subscribers (copy on write).
	subs atomic.Pointer[[]*subscriber]

	mu        sync.Mutex // serialises changes to everything below and above
	subByID   map[uint64]*subscriber
	lastSubID uint64
	sinks     map[string]*sinkRunner
	stopping  bool // Stopping was called
	closed    bool

	sinkEvents sinkEvents
}

// NewManager returns a Manager with opts applied over the defaults.
func NewManager(opts ManagerOptions) *Manager {
	if opts.BufferSize <= 0 {
		opts.BufferSize = DefaultBufferSize
	}
	if opts.SubscriberBuffer <= 0 {
		opts.SubscriberBuffer = DefaultSubscriberBuffer
	}
	opts.BufferSizes = maps.Clone(opts.BufferSizes)
	if opts.BufferSizes == nil {
		opts.BufferSizes = map[string]int{}
	}
	if opts.Logger == nil {
		opts.Logger = hclog.Default()
	}
	m := &Manager{
		opts:    opts,
		logger:  opts.Logger,
		subByID: map[uint64]*subscriber{},
		sinks:   map[string]*sinkRunner{},
	}
	m.procs.Store(&map[string]*procLog{})
	m.subs.Store(&[]*subscriber{})
	return m
}

// WriteStableBatch records entries, in order: each line goes into its
// process's ring buffer, is offered to every matching subscriber (never
// waiting for one) and is queued for every sink its process feeds. With a
// sink whose overflow policy is OverflowBlock and whose queue is full, it
// waits for room: backpressure on the calling stream only. Each lock is
// taken once per run of entries of the same process, not once per line:
// a Framer hands it every line of one read at once.
//
// The lines must not be modified by anyone while the manager keeps them
// (a Framer's are not): it keeps them as they are, without a copy. When
// block is not nil, every line points into it, and the manager holds
// block for each line it keeps, and releases it once the line is dropped
// (overwritten in the ring, acknowledged by a sink, done with by a batch
// subscriber); a line subscriber and Query get copies. With a nil block
// the lines are the manager's to keep for good. The slice itself is only
// read, and overwritten, during the call. It is the supervisor's output
// callback (supervisor.Options.OutputBatch).
func (m *Manager) WriteStableBatch(entries []LogEntry, block *Block) {
	for len(entries) > 0 {
		n := 1
		for n < len(entries) && entries[n].Process == entries[0].Process {
			n++
		}
		m.writeRun(entries[:n], block)
		entries = entries[n:]
	}
}

// writeRun is WriteStableBatch for entries of one process.
func (m *Manager) writeRun(entries []LogEntry, block *Block) {
	p := m.proc(entries[0].Process)
	p.add(entries, block)
	for _, s := range *m.subs.Load() {
		s.offer(entries, block)
	}
	if sinks := p.sinks.Load(); sinks != nil {
		for _, r := range *sinks {
			r.queue.push(entries, block)
		}
	}
}

// proc returns the log of the named process, creating it on first use.
func (m *Manager) proc(name string) *procLog {
	if p, ok := (*m.procs.Load())[name]; ok {
		return p
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.procLocked(name)
}

// procLocked is proc with m.mu held.
func (m *Manager) procLocked(name string) *procLog {
	procs := *m.procs.Load()
	if p, ok := procs[name]; ok {
		return p
	}
	size := m.opts.BufferSize
	if n, ok := m.opts.BufferSizes[name]; ok && n > 0 {
		size = n
	}
	p := newProcLog(name, size)
	if !m.closed {
		p.sinks.Store(m.sinksFor(name))
	}
	next := maps.Clone(procs)
	next[name] = p
	m.procs.Store(&next)
	return p
}

// OutputCounts returns, per process that has written output, how many
// lines and bytes it wrote by stream, sorted by process.
func (m *Manager) OutputCounts() []OutputCount {
	procs := *m.procs.Load()
	out := make([]OutputCount, 0, len(procs))
	for _, p := range procs {
		out = append(out, p.counts())
	}
	slices.SortFunc(out, func(a, b OutputCount) int { return cmp.Compare(a.Process, b.Process) })
	return out
}

// SetBufferSize sets how many lines are kept for the named process,
// keeping its newest lines. n <= 0 restores the manager's BufferSize.
func (m *Manager) SetBufferSize(process string, n int) {
	m.mu.Lock()
	if n <= 0 {
		delete(m.opts.BufferSizes, process)
		n = m.opts.BufferSize
	} else {
		m.opts.BufferSizes[process] = n
	}
	p := m.procLocked(process)
	m.mu.Unlock()
	p.resize(n)
}

// Query returns the newest limit entries matching f, oldest first (by
// timestamp; entries of one process with equal timestamps keep their
// order). limit <= 0 means every kept entry. An invalid filter matches
// nothing: check it with Filter.Compile first, or use QueryMatcher.
//
// The entries' lines are the caller's own copies.
func (m *Manager) Query(f Filter, limit int) []LogEntry {
	matcher, err := f.Compile()
	if err != nil {
		return nil
	}
	return m.QueryMatcher(matcher, limit)
}

// QueryMatcher is Query with a compiled filter.
func (m *Manager) QueryMatcher(matcher *Matcher, limit int) []LogEntry {
	var found []LogEntry
	var lines arena
	procs := *m.procs.Load()
	for _, name := range slices.Sorted(maps.Keys(procs)) {
		if matcher.MatchProcess(name) {
			found = procs[name].newest(found, matcher, limit, &lines)
		}
	}
	// Each process contributed newest first; oldest first overall, stable
	// so that a process's entries with equal timestamps keep their order.
	slices.Reverse(found)
	slices.SortStableFunc(found, func(a, b LogEntry) int { return a.Timestamp.Compare(b.Timestamp) })
	if limit > 0 && len(found) > limit {
		found = found[len(found)-limit:]
	}
	return found
}

// Processes returns the names of the processes that have written lines or
// have a buffer size set, sorted.
func (m *Manager) Processes() []string {
	return slices.Sorted(maps.Keys(*m.procs.Load()))
}

// Close stops delivery: subscribers' channels are closed; every sink's
// queue is drained into the sink (retrying a failing sink), then the sink
// is flushed and closed. Everything written before Close was called
// reaches every sink it was meant for, unless the sink's DrainTimeout
// (counted from the call) or ctx ends first: then what the sink has not
// acknowledged is given up on (counted in SinkStats.Undelivered). After
// Close, WriteStableBatch only fills the ring buffers (Query still works) and
// Subscribe returns a closed channel.
//
// Close returns, joined, an *UndeliveredError for each sink that did not
// get everything (lines refused while Stopping included), and the sinks'
// flush and close errors. Calling it again returns nil.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.stopping = true
	runners := slices.SortedFunc(maps.Values(m.sinks), func(a, b *sinkRunner) int { return cmp.Compare(a.name, b.name) })
	for _, p := range *m.procs.Load() {
		p.sinks.Store(nil)
	}
	subs := *m.subs.Load()
	m.subs.Store(&[]*subscriber{})
	clear(m.subByID)
	m.mu.Unlock()

	for _, s := range subs {
		s.close()
	}
	start := time.Now()
	for _, r := range runners {
		r.queue.setStopping()
		r.queue.beginClose()
	}
	var errs []error
	for _, r := range runners {
		drain := time.NewTimer(time.Until(start.Add(r.drainTimeout())))
		select {
		case <-r.done:
		case <-drain.C:
			r.abort(fmt.Errorf("not drained within its drain timeout (%s)", r.drainTimeout()))
			<-r.done
		case <-ctx.Done():
			r.abort(fmt.Errorf("the drain was cut short: %w", context.Cause(ctx)))
			<-r.done
		}
		drain.Stop()
		st := r.stats()
		if st.Undelivered > 0 || st.UndeliveredEvents > 0 {
			errs = append(errs, &UndeliveredError{Sink: r.name, Entries: st.Undelivered, Events: st.UndeliveredEvents, Err: r.cause()})
		}
		if r.err != nil {
			errs = append(errs, fmt.Errorf("sink %s: %w", r.name, r.err))
		}
	}
	m.closeSinkEvents()
	return errors.Join(errs...)
}
