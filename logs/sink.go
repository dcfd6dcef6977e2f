package logs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// SinkTarget opens a sink: typically launches its plugin and connects to it.
//
// The sinks it opens must not use a batch after their Write returned: the
// array behind Batch.Entries is reused for the next batch. (The line bytes
// are never reused and may be kept; the SDK's gRPC client packs a batch
// during Write and keeps nothing.)
type SinkTarget interface {
	// Open returns a connected sink; it is called again after the sink failed (its plugin died), to relaunch it.
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
	DefaultMaxBatchEntries = 4096
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
)

// SinkOptions configures how entries reach one sink. Zero fields take
// their defaults.
type SinkOptions struct {
	// QueueSize is how many entries may wait for the sink before Overflow
	// applies. Default DefaultSinkQueueSize (8192).
	QueueSize int
	// MaxBatchEntries sends a batch as soon as this many entries are
	// queued, and bounds a batch's entries. Default DefaultMaxBatchEntries
	// (4096), at most QueueSize.
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
	// WriteTimeout bounds one Write call; a Write that takes longer is a
	// failure (the sink is reopened and the batch resent). Default
	// DefaultWriteTimeout (30 s).
	WriteTimeout time.Duration
	// RetryMin is the wait before the first reopen after a failure; it
	// doubles with each further failure up to RetryMax, and is reset by a
	// successful Write. Default DefaultRetryMin (100 ms).
	RetryMin time.Duration
	// RetryMax caps the wait between reopens. Default DefaultRetryMax (5 s).
	RetryMax time.Duration
}

// withDefaults checks o and fills in its zero fields.
func (o SinkOptions) withDefaults() (SinkOptions, error) {
	if o.QueueSize < 0 || o.MaxBatchEntries < 0 || o.MaxBatchBytes < 0 || o.FlushInterval < 0 ||
		o.WriteTimeout < 0 || o.RetryMin < 0 || o.RetryMax < 0 {
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
	o.MaxBatchEntries = min(o.MaxBatchEntries, o.QueueSize)
	o.RetryMax = max(o.RetryMax, o.RetryMin)
	return o, nil
}

// SinkStats counts what happened to one sink's traffic.
type SinkStats struct {
	// Sent is the number of entries the sink acknowledged.
	Sent uint64
	// SentEvents is the number of events the sink acknowledged.
	SentEvents uint64
	// Dropped is the number of entries lost: dropped by OverflowDropOldest,
	// or still queued when Close gave up.
	Dropped uint64
	// DroppedEvents is the number of events lost the same ways.
	DroppedEvents uint64
	// Batches is the number of acknowledged batches (a resent batch counts
	// once).
	Batches uint64
	// Failures is the number of failed Write and Open calls.
	Failures uint64
	// Reopens is the number of Open calls made to relaunch the sink after
	// a failure.
	Reopens uint64
	// Queued is the number of entries waiting now.
	Queued int
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
	r := newSinkRunner(name, processes, target, opts, m.logger.With("sink", name))
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

// SinkStats returns the named sink's counters, and false when no such
// sink was attached.
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
