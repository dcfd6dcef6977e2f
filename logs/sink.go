package logs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// SinkTarget opens a sink: typically launches its plugin and connects to it.
//
// The sinks it opens must not use a batch after their Write returned: the
// array behind Batch.Entries is reused for the next batch, and the bytes of
// its lines may be read into again (see Block). A sink that keeps a line
// copies it. (prox's gRPC client, in internal/pluginhost, packs a batch
// during Write and keeps nothing. This is stricter than sdk.Sink, whose
// Write may keep the line bytes: a plugin's lines are decoded copies. An
// sdk.Sink served in-process must not be opened here as it is.)
type SinkTarget interface {
	// Open returns a connected sink. It is called again only after a
	// sink's plugin died (a call failed with sdk.ErrPluginUnavailable, or
	// timed out with its outcome unknown), to relaunch it; a sink that
	// answers a Write with an error keeps its plugin and gets the batch
	// again.
	Open(ctx context.Context) (sdk.Sink, error)
}

// OverflowPolicy says what happens to a new entry when a sink's queue is
// full.
type OverflowPolicy string

// The overflow policies.
const (
	// OverflowBlock makes Write wait for room: the writing process's
	// stream stalls until the sink catches up. Nothing is lost.
	OverflowBlock OverflowPolicy = "block"
	// OverflowDropOldest drops the oldest queued entry (counted in
	// SinkStats.Dropped) to make room; Write never waits.
	OverflowDropOldest OverflowPolicy = "drop_oldest"
)

// ParseOverflowPolicy parses "block" or "drop_oldest"; "" is the default,
// OverflowBlock.
func ParseOverflowPolicy(s string) (OverflowPolicy, error) {
	switch p := OverflowPolicy(s); p {
	case "":
		return OverflowBlock, nil
	case OverflowBlock, OverflowDropOldest:
		return p, nil
	default:
		return "", fmt.Errorf("invalid overflow policy %q: want %q or %q", s, OverflowBlock, OverflowDropOldest)
	}
}

// Defaults of SinkOptions.
const (
	// DefaultSinkQueueSize is the default SinkOptions.QueueSize.
	DefaultSinkQueueSize = 8192
	// DefaultMaxBatchEntries is the default SinkOptions.MaxBatchEntries.
	// Each batch costs a round trip and its wake-ups on both sides; with
	// lines of 100 bytes, 4096 lines ended a batch long before 512 KiB,
	// and S1 took 490 batches instead of 380 (docs/performance.md, fourth
	// pass).
	DefaultMaxBatchEntries = 8192
	// DefaultMaxBatchBytes is the default SinkOptions.MaxBatchBytes.
	DefaultMaxBatchBytes = 512 << 10
	// DefaultFlushInterval is the default SinkOptions.FlushInterval.
	DefaultFlushInterval = 5 * time.Millisecond
	// DefaultWriteTimeout is the default SinkOptions.WriteTimeout.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultRetryMin is the default SinkOptions.RetryMin.
	DefaultRetryMin = 100 * time.Millisecond
	// DefaultRetryMax is the default SinkOptions.RetryMax.
	DefaultRetryMax = 5 * time.Second
	// DefaultDrainTimeout is the default SinkOptions.DrainTimeout.
	DefaultDrainTimeout = 10 * time.Second
)

// SinkOptions configures how entries reach one sink. Zero fields take
// their defaults.
type SinkOptions struct {
	// QueueSize is how many entries may wait for the sink before Overflow
	// applies. Default DefaultSinkQueueSize (8192).
	QueueSize int
	// MaxBatchEntries sends a batch as soon as this many entries are
	// queued, and bounds a batch's entries. Default DefaultMaxBatchEntries
	// (8192), at most QueueSize.
	MaxBatchEntries int
	// MaxBatchBytes sends a batch as soon as this many line bytes are
	// queued, and bounds a batch's line bytes (a longer single line still
	// travels, alone). Default DefaultMaxBatchBytes (512 KiB).
	MaxBatchBytes int
	// FlushInterval is the longest an entry or event waits for more to
	// join its batch, counted from the first queued one. Default
	// DefaultFlushInterval (5 ms).
	FlushInterval time.Duration
	// Overflow is the policy for a full queue. Default OverflowBlock.
	Overflow OverflowPolicy
	// WriteTimeout bounds one Write call; a Write that takes longer has
	// an unknown outcome, as if the plugin had died: the sink is reopened
	// (its plugin relaunched) and the batch resent. Default
	// DefaultWriteTimeout (30 s).
	WriteTimeout time.Duration
	// RetryMin is the wait before the first retry after a failure; it
	// doubles with each further failure up to RetryMax, and is reset by a
	// successful Write. Default DefaultRetryMin (100 ms).
	RetryMin time.Duration
	// RetryMax caps the wait between retries. Default DefaultRetryMax
	// (5 s).
	RetryMax time.Duration
	// DrainTimeout bounds the sink's drain at Close, counted from the
	// call: what it has not acknowledged by then is given up on, counted
	// and reported (UndeliveredError). Default DefaultDrainTimeout (10 s).
	DrainTimeout time.Duration
}

// withDefaults checks o and fills in its zero fields.
func (o SinkOptions) withDefaults() (SinkOptions, error) {
	if o.QueueSize < 0 || o.MaxBatchEntries < 0 || o.MaxBatchBytes < 0 || o.FlushInterval < 0 ||
		o.WriteTimeout < 0 || o.RetryMin < 0 || o.RetryMax < 0 || o.DrainTimeout < 0 {
		return o, errors.New("sink options must not be negative")
	}
	policy, err := ParseOverflowPolicy(string(o.Overflow))
	if err != nil {
		return o, err
	}
	o.Overflow = policy
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.QueueSize, DefaultSinkQueueSize)
	def(&o.MaxBatchEntries, DefaultMaxBatchEntries)
	def(&o.MaxBatchBytes, DefaultMaxBatchBytes)
	defDur(&o.FlushInterval, DefaultFlushInterval)
	defDur(&o.WriteTimeout, DefaultWriteTimeout)
	defDur(&o.RetryMin, DefaultRetryMin)
	defDur(&o.RetryMax, DefaultRetryMax)
	defDur(&o.DrainTimeout, DefaultDrainTimeout)
	o.MaxBatchEntries = min(o.MaxBatchEntries, o.QueueSize)
	o.RetryMax = max(o.RetryMax, o.RetryMin)
	return o, nil
}

// SinkState is the health of a sink.
type SinkState string

// The sink states.
const (
	// SinkOK: the sink acknowledges batches (or has not failed yet).
	SinkOK SinkState = "ok"
	// SinkFailing: the sink's plugin answered the last Write (or Open)
	// with an error; the batch is retried with backoff, the plugin kept.
	SinkFailing SinkState = "failing"
	// SinkRelaunching: the sink's plugin died (or a call's outcome is
	// unknown); it is being relaunched, and the batch will be resent.
	SinkRelaunching SinkState = "relaunching"
	// SinkClosed: Close is done with the sink.
	SinkClosed SinkState = "closed"
)

// SinkStats is the state of one sink and counts what happened to its
// traffic.
type SinkStats struct {
	// Name is the sink's name.
	Name string
	// State is the sink's health.
	State SinkState
	// Since is when the sink became ok, or when its failures began (the
	// first failure since the last acknowledged batch) while failing or
	// relaunching, or when it was closed.
	Since time.Time
	// LastError is the last failure while failing or relaunching, or what
	// Close gave up on; "" otherwise.
	LastError string
	// Sent is the number of entries the sink acknowledged.
	Sent uint64
	// SentEvents is the number of events the sink acknowledged.
	SentEvents uint64
	// Dropped is the number of entries dropped by OverflowDropOldest.
	Dropped uint64
	// DroppedEvents is the number of events dropped by OverflowDropOldest.
	DroppedEvents uint64
	// Undelivered is the number of entries given up on while prox stopped:
	// still queued or in flight when Close gave up, or refused by the full
	// queue of a failing sink once Stopping was called.
	Undelivered uint64
	// UndeliveredEvents is the number of events given up on.
	UndeliveredEvents uint64
	// Batches is the number of acknowledged batches (a resent batch counts
	// once).
	Batches uint64
	// Failures is the number of failed Write and Open calls.
	Failures uint64
	// Relaunches is the number of Open calls made to relaunch the sink's
	// plugin after it died.
	Relaunches uint64
	// Queued is the number of entries waiting now, the batch in flight
	// included: the backlog.
	Queued int
	// QueuedEvents is the number of events waiting now, in flight
	// included.
	QueuedEvents int
	// Latency times the acknowledged batches, each from its first
	// attempt to its acknowledgement (retries included).
	Latency Latency
}

// SinkEvent is a change of a sink's state.
type SinkEvent struct {
	// Time is when it happened.
	Time time.Time
	// Sink is the sink's name.
	Sink string
	// From and To are the states before and after.
	From, To SinkState
	// Error is the failure, when To is failing or relaunching.
	Error string
	// Queued and QueuedEvents are the backlog at the change.
	Queued, QueuedEvents int
}

// sinkEventBuffer is the capacity of a sink event subscriber's channel;
// a subscriber that falls further behind misses events.
const sinkEventBuffer = 64

// sinkEvents fans sink events out to subscribers, never waiting.
type sinkEvents struct {
	mu     sync.Mutex
	subs   map[<-chan SinkEvent]chan SinkEvent
	closed bool
}

// publish offers ev to every subscriber.
func (b *sinkEvents) publish(ev SinkEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

// SubscribeSinkEvents returns a channel of every change of a sink's
// state from now on. A subscriber that falls 64 events behind misses
// events. The channel is closed by UnsubscribeSinkEvents, or by Close once
// every sink is closed.
func (m *Manager) SubscribeSinkEvents() <-chan SinkEvent {
	b := &m.sinkEvents
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan SinkEvent, sinkEventBuffer)
	if b.closed {
		close(ch)
		return ch
	}
	if b.subs == nil {
		b.subs = map[<-chan SinkEvent]chan SinkEvent{}
	}
	b.subs[ch] = ch
	return ch
}

// UnsubscribeSinkEvents ends a subscription of SubscribeSinkEvents.
func (m *Manager) UnsubscribeSinkEvents(ch <-chan SinkEvent) {
	b := &m.sinkEvents
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.subs[ch]; ok {
		delete(b.subs, ch)
		close(c)
	}
}

// closeSinkEvents closes every subscriber's channel.
func (m *Manager) closeSinkEvents() {
	b := &m.sinkEvents
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for k, c := range b.subs {
		delete(b.subs, k)
		close(c)
	}
}

// UndeliveredError reports what a sink never acknowledged before Close
// gave up on it, and why.
type UndeliveredError struct {
	// Sink is the sink's name.
	Sink string
	// Entries and Events count what was not delivered (SinkStats'
	// Undelivered and UndeliveredEvents).
	Entries, Events uint64
	// Err is the sink's last failure, or why Close gave up on a sink that
	// was not failing.
	Err error
}

// Error returns e.g. "sink file.small: 12,288 lines and 1 event not
// delivered: write: ...: no space left on device".
func (e *UndeliveredError) Error() string {
	var what string
	switch {
	case e.Entries > 0 && e.Events > 0:
		what = Quantity(e.Entries, "line") + " and " + Quantity(e.Events, "event")
	case e.Events > 0:
		what = Quantity(e.Events, "event")
	default:
		what = Quantity(e.Entries, "line")
	}
	return fmt.Sprintf("sink %s: %s not delivered: %v", e.Sink, what, e.Err)
}

// Unwrap returns the cause.
func (e *UndeliveredError) Unwrap() error { return e.Err }

// Quantity returns n and noun for people, with a comma between groups of
// three digits and a plural "s": "1 line", "12,288 lines".
func Quantity(n uint64, noun string) string {
	if n != 1 {
		noun += "s"
	}
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String() + " " + noun
}

// AttachSink starts delivering the output of processes (every process when
// empty) and their events to a sink opened through target. The sink is
// opened in the background; while it cannot be opened or keeps failing,
// entries queue and Overflow applies (with OverflowBlock, the writers of
// its processes wait until it recovers or Close gives up). The name
// identifies the sink in logs and SinkStats.
func (m *Manager) AttachSink(name string, processes []string, target SinkTarget, opts SinkOptions) error {
	if name == "" {
		return errors.New("attach sink: empty name")
	}
	if target == nil {
		return fmt.Errorf("attach sink %s: no target", name)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return fmt.Errorf("attach sink %s: %w", name, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("attach sink %s: the log manager is closed", name)
	}
	if _, ok := m.sinks[name]; ok {
		return fmt.Errorf("attach sink %s: a sink with this name is already attached", name)
	}
	r := newSinkRunner(name, processes, target, opts, m.logger.With("sink", name), m.sinkEvents.publish)
	if m.stopping {
		r.queue.setStopping()
	}
	m.sinks[name] = r
	for pname, p := range *m.procs.Load() {
		p.sinks.Store(m.sinksFor(pname))
	}
	go r.run()
	return nil
}

// sinksFor lists the sink runners fed by the named process, by name.
// m.mu must be held.
func (m *Manager) sinksFor(process string) *[]*sinkRunner {
	var list []*sinkRunner
	for _, r := range m.sinks {
		if r.feeds(process) {
			list = append(list, r)
		}
	}
	slices.SortFunc(list, func(a, b *sinkRunner) int { return cmp.Compare(a.name, b.name) })
	return &list
}

// WriteEvent queues ev for every sink fed by ev.Process. It never waits:
// events for an OverflowBlock sink are never dropped (they are few), and
// an OverflowDropOldest sink keeps at most QueueSize of them.
func (m *Manager) WriteEvent(ev sdk.Event) {
	if sinks := m.proc(ev.Process).sinks.Load(); sinks != nil {
		for _, r := range *sinks {
			r.queue.pushEvent(ev)
		}
	}
}

// Stopping tells the manager that prox is stopping its processes. From
// then on a writer no longer waits for room in the full queue of an
// OverflowBlock sink while that sink is failing or relaunching: nothing
// would make room before the stop ends, and the processes' output must
// still be read for them to end. The lines it has no room for are counted
// as undelivered to that sink (they still reach the log buffer and every
// other subscriber and sink). Writers still wait for a sink that delivers.
// Close implies Stopping.
func (m *Manager) Stopping() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopping = true
	for _, r := range m.sinks {
		r.queue.setStopping()
	}
}

// AllSinkStats returns the state and counters of every attached sink,
// sorted by name.
func (m *Manager) AllSinkStats() []SinkStats {
	m.mu.Lock()
	runners := slices.SortedFunc(maps.Values(m.sinks), func(a, b *sinkRunner) int { return cmp.Compare(a.name, b.name) })
	m.mu.Unlock()
	out := make([]SinkStats, len(runners))
	for i, r := range runners {
		out[i] = r.stats()
	}
	return out
}

// SinkStats returns the named sink's state and counters, and false when
// no such sink was attached.
func (m *Manager) SinkStats(name string) (SinkStats, bool) {
	m.mu.Lock()
	r, ok := m.sinks[name]
	m.mu.Unlock()
	if !ok {
		return SinkStats{}, false
	}
	return r.stats(), true
}

// Sinks returns the names of the attached sinks, sorted.
func (m *Manager) Sinks() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.sinks))
}
