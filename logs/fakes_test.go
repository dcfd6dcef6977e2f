package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/require"
)

// waitFor is the deadline of every require.Eventually in this package.
const waitFor = 10 * time.Second

// tick is the polling interval of require.Eventually.
const tick = time.Millisecond

// errFake is the error a failing fake sink returns.
var errFake = errors.New("fake sink failure")

// recorder is a SinkTarget whose sinks record every call, in order, and
// can be told to fail or to hold Write calls.
type recorder struct {
	mu       sync.Mutex
	calls    []string    // "open", "write <seq>", "flush", "close", in order
	acked    []sdk.Batch // acknowledged batches, in order
	attempts []uint64    // the Seq of every Write call
	times    []time.Time // when each Write call began
	opens    int
	failNext int           // the next failNext Write calls fail
	failWith error         // what they fail with; default errFake
	hold     chan struct{} // when set, Write waits for a receive on it
	entered  chan uint64   // when set, Write reports its Seq here before holding
}

// Open implements SinkTarget.
func (r *recorder) Open(context.Context) (sdk.Sink, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opens++
	r.calls = append(r.calls, "open")
	return &fakeSink{rec: r, instance: r.opens}, nil
}

// fakeSink is one opened instance of a recorder.
type fakeSink struct {
	rec      *recorder
	instance int
}

func (s *fakeSink) Write(ctx context.Context, b *sdk.Batch) error {
	r := s.rec
	r.mu.Lock()
	r.attempts = append(r.attempts, b.Seq)
	r.times = append(r.times, time.Now())
	r.calls = append(r.calls, fmt.Sprintf("write %d", b.Seq))
	hold, entered := r.hold, r.entered
	fail := r.failNext > 0
	if fail {
		r.failNext--
	}
	failWith := r.failWith
	if failWith == nil {
		failWith = errFake
	}
	r.mu.Unlock()
	if entered != nil {
		entered <- b.Seq
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail {
		return failWith
	}
	r.mu.Lock()
	// Keep copies: the array and the line bytes may be reused once Write
	// returns (see SinkTarget).
	entries := append([]LogEntry(nil), b.Entries...)
	for i := range entries {
		entries[i].Line = bytes.Clone(entries[i].Line)
	}
	r.acked = append(r.acked, sdk.Batch{Seq: b.Seq, Entries: entries, Events: append([]sdk.Event(nil), b.Events...)})
	r.mu.Unlock()
	return nil
}

func (s *fakeSink) Flush(context.Context) error {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.calls = append(s.rec.calls, "flush")
	return nil
}

func (s *fakeSink) Close(context.Context) error {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.calls = append(s.rec.calls, fmt.Sprintf("close %d", s.instance))
	return nil
}

// lines returns the acknowledged entries' lines, in order.
func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range r.acked {
		for _, e := range b.Entries {
			out = append(out, string(e.Line))
		}
	}
	return out
}

// batchSizes returns the number of entries of each acknowledged batch.
func (r *recorder) batchSizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, b := range r.acked {
		out = append(out, len(b.Entries))
	}
	return out
}

// events returns the acknowledged events, in order.
func (r *recorder) events() []sdk.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sdk.Event
	for _, b := range r.acked {
		out = append(out, b.Events...)
	}
	return out
}

// snapshot returns copies of the call log, the acknowledged batches and
// the Write attempts' sequence numbers.
func (r *recorder) snapshot() (calls []string, acked []sdk.Batch, attempts []uint64, opens int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...), append([]sdk.Batch(nil), r.acked...), append([]uint64(nil), r.attempts...), r.opens
}

// discardTarget opens sinks that acknowledge and forget every batch.
type discardTarget struct{}

func (discardTarget) Open(context.Context) (sdk.Sink, error) { return discardSink{}, nil }

type discardSink struct{}

func (discardSink) Write(context.Context, *sdk.Batch) error { return nil }
func (discardSink) Flush(context.Context) error             { return nil }
func (discardSink) Close(context.Context) error             { return nil }

// deadTarget can never open a sink.
type deadTarget struct{}

func (deadTarget) Open(context.Context) (sdk.Sink, error) { return nil, errFake }

// newTestManager returns a Manager logging to the test's output and
// closed (with a deadline) at the end of the test.
func newTestManager(t testing.TB, opts ManagerOptions) *Manager {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
		if tt, ok := t.(*testing.T); ok {
			opts.Logger = hclog.New(&hclog.LoggerOptions{Name: "logs", Output: testWriter{tt}, Level: hclog.Debug})
		}
	}
	m := NewManager(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = m.Close(ctx)
	})
	return m
}

// testWriter sends log output to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// entry builds a LogEntry.
func entry(process string, stream sdk.Stream, ts time.Time, line string) LogEntry {
	return LogEntry{Timestamp: ts, Process: process, Stream: stream, Line: []byte(line)}
}

// lineTexts returns the entries' lines as strings.
func lineTexts(entries []LogEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, string(e.Line))
	}
	return out
}

// closeManager closes m with a deadline and requires success.
func closeManager(t *testing.T, m *Manager) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, m.Close(ctx))
}

// runner returns the named sink's runner.
func (m *Manager) runner(t *testing.T, name string) *sinkRunner {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.sinks[name]
	require.True(t, ok, "sink %s", name)
	return r
}

// length returns the number of entries in the queue, the batch the
// consumer holds excluded.
func (q *sinkQueue) length() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// writeLine writes one entry through the one write path, as a batch of one
// (its line must not be modified afterwards).
func writeLine(m *Manager, e LogEntry) { m.WriteStableBatch([]LogEntry{e}, nil) }
