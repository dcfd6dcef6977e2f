package sdktest

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// Field names a LogEntry field that a sink keeps besides the line.
type Field uint

// The LogEntry fields a SinkSuiteOptions.Read can give back besides Line.
const (
	FieldProcess Field = 1 << iota
	FieldStream
	FieldTimestamp
)

// SinkSuiteOptions adapt SinkSuite to a sink. The zero value suits a sink
// whose deliveries cannot be read back: the suite then checks the protocol
// only (acknowledgements, order of calls, Flush, Close, cancellation).
type SinkSuiteOptions struct {
	// Read returns, in order, the entries that s (as the factory returned
	// it, not the harness) has delivered; the suite calls it after Flush.
	// For a file sink: read and parse the files. Default: none.
	Read func(t *testing.T, s sdk.Sink) []sdk.LogEntry
	// Fields lists what Read gives back besides Line, which it always
	// gives back byte for byte. Default: Line only.
	Fields Field
	// ReadEvents returns, in order, the events s has delivered. The suite
	// compares their Process, and every other field ReadEvents sets (a
	// zero field is not compared, so a sink that keeps only the state
	// returns only the state; messages are compared with invalid UTF-8
	// replaced by U+FFFD, as on the wire). Default: none.
	ReadEvents func(t *testing.T, s sdk.Sink) []sdk.Event
	// Direct calls the sink directly instead of through the gRPC harness
	// (NewSinkHarness). Default false: through the harness, as prox calls
	// it.
	Direct bool
	// Timeout bounds every call; default DefaultTimeout.
	Timeout time.Duration
}

// SinkSuite checks that the sinks factory returns do what prox expects of
// every sink, one subtest per property:
//
//   - BatchesInOrderAndAcknowledged: batches written one after the other
//     (Seq 1, 2, ...) are acknowledged and delivered in order.
//   - TenThousandEntriesIntact: 10,000 entries, invalid UTF-8, control
//     bytes, empty and 64 KiB lines included, are delivered byte for byte.
//   - EventsDelivered: batches of events, alone and with entries, are
//     acknowledged and delivered.
//   - EmptyBatch: a batch with neither entries nor events is acknowledged.
//   - ResentBatchAccepted: a batch sent again with its Seq (prox retries a
//     failed Write) is acknowledged, and the next batch follows it.
//   - FlushThenClose: Flush makes everything written readable, Close
//     returns; nothing is written after Close.
//   - CancelledWrite: a Write whose context is cancelled returns promptly,
//     and the sink takes the next Write.
//
// factory is called once per subtest, with the subtest's t; it returns a
// ready (configured) sink.
func SinkSuite(t *testing.T, factory func(t *testing.T) sdk.Sink, opts SinkSuiteOptions) {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	s := &sinkSuite{factory: factory, opts: opts}
	t.Run("BatchesInOrderAndAcknowledged", s.batchesInOrder)
	t.Run("TenThousandEntriesIntact", s.tenThousandEntries)
	t.Run("EventsDelivered", s.eventsDelivered)
	t.Run("EmptyBatch", s.emptyBatch)
	t.Run("ResentBatchAccepted", s.resentBatch)
	t.Run("FlushThenClose", s.flushThenClose)
	t.Run("CancelledWrite", s.cancelledWrite)
}

type sinkSuite struct {
	factory func(t *testing.T) sdk.Sink
	opts    SinkSuiteOptions
}

// sink returns a fresh sink (to read back) and the way to reach it (the
// harness unless Direct).
func (s *sinkSuite) sink(t *testing.T) (impl, via sdk.Sink) {
	t.Helper()
	impl = s.factory(t)
	if impl == nil {
		t.Fatal("the factory returned a nil sink")
	}
	if s.opts.Direct {
		shutdownAtEnd(t, impl)
		return impl, closeAtEnd(t, impl)
	}
	return impl, NewSinkHarness(t, impl)
}

// call runs f with a context bounded by the timeout, failing the test when
// f does not return in time or returns an error.
func (s *sinkSuite) call(t *testing.T, what string, f func(ctx context.Context) error) {
	t.Helper()
	if err := s.try(t, what, f); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// try runs f like call and returns its error.
func (s *sinkSuite) try(t *testing.T, what string, f func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(s.opts.Timeout + time.Second):
		t.Fatalf("%s did not return within %s", what, s.opts.Timeout)
		return nil
	}
}

func (s *sinkSuite) write(t *testing.T, sink sdk.Sink, b *sdk.Batch) {
	t.Helper()
	s.call(t, fmt.Sprintf("Write of batch %d", b.Seq), func(ctx context.Context) error { return sink.Write(ctx, b) })
}

func (s *sinkSuite) flush(t *testing.T, sink sdk.Sink) {
	t.Helper()
	s.call(t, "Flush", sink.Flush)
}

// entries returns n entries starting at index from, over two processes and
// both streams, with increasing timestamps.
func entries(from, n int, base time.Time) []sdk.LogEntry {
	out := make([]sdk.LogEntry, n)
	for i := range out {
		k := from + i
		out[i] = sdk.LogEntry{
			Timestamp: base.Add(time.Duration(k) * time.Millisecond),
			Process:   []string{"web", "worker"}[k%2],
			Stream:    []sdk.Stream{sdk.Stdout, sdk.Stderr}[(k/2)%2],
			Line:      fmt.Appendf(nil, "line %d of the suite", k),
		}
	}
	return out
}

// suiteTime is the base timestamp of the suite's entries: whole
// microseconds in UTC, which every timestamp format a sink might use keeps.
var suiteTime = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// requireEntries checks what Read gives back against want.
func (s *sinkSuite) requireEntries(t *testing.T, impl sdk.Sink, want []sdk.LogEntry) {
	t.Helper()
	if s.opts.Read == nil {
		return
	}
	got := s.opts.Read(t, impl)
	if len(got) != len(want) {
		t.Fatalf("Read gave back %d entries, %d were written", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !bytes.Equal(g.Line, w.Line) {
			t.Fatalf("entry %d: line %q, want %q", i, g.Line, w.Line)
		}
		if s.opts.Fields&FieldProcess != 0 && g.Process != w.Process {
			t.Fatalf("entry %d: process %q, want %q", i, g.Process, w.Process)
		}
		if s.opts.Fields&FieldStream != 0 && g.Stream != w.Stream {
			t.Fatalf("entry %d: stream %s, want %s", i, g.Stream, w.Stream)
		}
		if s.opts.Fields&FieldTimestamp != 0 && !g.Timestamp.Equal(w.Timestamp) {
			t.Fatalf("entry %d: timestamp %s, want %s", i, g.Timestamp, w.Timestamp)
		}
	}
}

func (s *sinkSuite) batchesInOrder(t *testing.T) {
	impl, sink := s.sink(t)
	const batches, per = 20, 50
	var all []sdk.LogEntry
	for i := range batches {
		b := &sdk.Batch{Seq: uint64(i + 1), Entries: entries(i*per, per, suiteTime)}
		s.write(t, sink, b)
		all = append(all, b.Entries...)
	}
	s.flush(t, sink)
	s.requireEntries(t, impl, all)
}

// awkwardLine returns the i-th line of the 10,000: mostly text, with
// invalid UTF-8, control bytes, empty and long lines mixed in.
func awkwardLine(i int) []byte {
	switch {
	case i%1000 == 999:
		return bytes.Repeat([]byte{'x'}, 64<<10)
	case i%7 == 3:
		return fmt.Appendf(nil, "bad utf-8 \xff\xfe\x80 %d \xc3\x28", i)
	case i%11 == 5:
		return []byte{}
	case i%13 == 7:
		return fmt.Appendf(nil, "ctl\t\x00\x01\x1b[31m\r %d", i)
	case i%17 == 9:
		return fmt.Appendf(nil, "unicode é ✓ 😀 %d", i)
	}
	return fmt.Appendf(nil, "plain line %d", i)
}

func (s *sinkSuite) tenThousandEntries(t *testing.T) {
	impl, sink := s.sink(t)
	const total, per = 10000, 1000
	all := entries(0, total, suiteTime)
	for i := range all {
		all[i].Line = awkwardLine(i)
	}
	for i := 0; i < total; i += per {
		s.write(t, sink, &sdk.Batch{Seq: uint64(i/per + 1), Entries: all[i : i+per]})
	}
	s.flush(t, sink)
	s.requireEntries(t, impl, all)
}

func (s *sinkSuite) eventsDelivered(t *testing.T) {
	impl, sink := s.sink(t)
	events := []sdk.Event{
		{Timestamp: suiteTime, Process: "web", Type: sdk.EventStarted, State: sdk.StateRunning, PreviousState: sdk.StateStarting},
		{Timestamp: suiteTime.Add(time.Second), Process: "worker", Type: sdk.EventExited, State: sdk.StateStopped, PreviousState: sdk.StateRunning, ExitCode: 3, Message: "exit status 3"},
	}
	more := []sdk.Event{
		{Timestamp: suiteTime.Add(2 * time.Second), Process: "web", Type: sdk.EventCrashed, State: sdk.StateCrashed, PreviousState: sdk.StateRunning, ExitCode: -1, Signal: "SIGKILL", Message: "killed by SIGKILL \xff", Restarts: 2},
	}
	lines := entries(0, 10, suiteTime)
	s.write(t, sink, &sdk.Batch{Seq: 1, Events: events})
	s.write(t, sink, &sdk.Batch{Seq: 2, Entries: lines, Events: more})
	s.flush(t, sink)
	if s.opts.ReadEvents != nil {
		want := append(append([]sdk.Event{}, events...), more...)
		got := s.opts.ReadEvents(t, impl)
		if len(got) != len(want) {
			t.Fatalf("ReadEvents gave back %d events, %d were written", len(got), len(want))
		}
		for i := range want {
			if diff := eventDiff(got[i], want[i]); diff != "" {
				t.Fatalf("event %d (%s of %q): %s", i, want[i].Type, want[i].Process, diff)
			}
		}
	}
	s.requireEntries(t, impl, lines)
}

// eventDiff compares the fields of got that are set with want.
func eventDiff(got, want sdk.Event) string {
	var diffs []string
	check := func(name string, set, equal bool, g, w any) {
		if set && !equal {
			diffs = append(diffs, fmt.Sprintf("%s %v, want %v", name, g, w))
		}
	}
	check("process", true, got.Process == want.Process, got.Process, want.Process)
	check("timestamp", !got.Timestamp.IsZero(), got.Timestamp.Equal(want.Timestamp), got.Timestamp, want.Timestamp)
	check("type", got.Type != "", got.Type == want.Type, got.Type, want.Type)
	check("state", got.State != "", got.State == want.State, got.State, want.State)
	check("previous state", got.PreviousState != "", got.PreviousState == want.PreviousState, got.PreviousState, want.PreviousState)
	check("exit code", got.ExitCode != 0, got.ExitCode == want.ExitCode, got.ExitCode, want.ExitCode)
	check("signal", got.Signal != "", got.Signal == want.Signal, got.Signal, want.Signal)
	check("restarts", got.Restarts != 0, got.Restarts == want.Restarts, got.Restarts, want.Restarts)
	gm, wm := strings.ToValidUTF8(got.Message, "\uFFFD"), strings.ToValidUTF8(want.Message, "\uFFFD")
	check("message", got.Message != "", gm == wm, strconv.Quote(gm), strconv.Quote(wm))
	return strings.Join(diffs, "; ")
}

func (s *sinkSuite) emptyBatch(t *testing.T) {
	impl, sink := s.sink(t)
	s.write(t, sink, &sdk.Batch{Seq: 1})
	lines := entries(0, 3, suiteTime)
	s.write(t, sink, &sdk.Batch{Seq: 2, Entries: lines})
	s.flush(t, sink)
	s.requireEntries(t, impl, lines)
}

func (s *sinkSuite) resentBatch(t *testing.T) {
	impl, sink := s.sink(t)
	first := &sdk.Batch{Seq: 1, Entries: entries(0, 5, suiteTime)}
	second := &sdk.Batch{Seq: 2, Entries: entries(5, 5, suiteTime)}
	s.write(t, sink, first)
	s.write(t, sink, first)
	s.write(t, sink, second)
	s.flush(t, sink)
	if s.opts.Read == nil {
		return
	}
	// Delivery is at least once: the resent batch may appear twice, but
	// every entry arrives and the next batch comes last.
	got := s.opts.Read(t, impl)
	if len(got) < 10 {
		t.Fatalf("Read gave back %d entries, want at least 10", len(got))
	}
	s.requireEntries(t, impl, append(append([]sdk.LogEntry{}, got[:len(got)-5]...), second.Entries...))
	for _, e := range first.Entries {
		if !containsLine(got, e.Line) {
			t.Fatalf("the resent batch's line %q was not delivered", e.Line)
		}
	}
}

func containsLine(entries []sdk.LogEntry, line []byte) bool {
	for _, e := range entries {
		if bytes.Equal(e.Line, line) {
			return true
		}
	}
	return false
}

func (s *sinkSuite) flushThenClose(t *testing.T) {
	impl, sink := s.sink(t)
	lines := entries(0, 100, suiteTime)
	s.write(t, sink, &sdk.Batch{Seq: 1, Entries: lines[:50]})
	s.write(t, sink, &sdk.Batch{Seq: 2, Entries: lines[50:]})
	s.flush(t, sink)
	s.requireEntries(t, impl, lines)
	s.call(t, "Close", sink.Close)
	// Nothing written before survives only in memory: Close lost nothing.
	s.requireEntries(t, impl, lines)
}

func (s *sinkSuite) cancelledWrite(t *testing.T) {
	check := func(t *testing.T, impl, sink sdk.Sink) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		b := &sdk.Batch{Seq: 1, Entries: entries(0, 10, suiteTime)}
		// Prompt: the call returns well within the timeout, with an error
		// or having delivered the batch.
		_ = s.try(t, "a Write with a cancelled context", func(context.Context) error { return sink.Write(ctx, b) })
		// prox retries a batch whose Write failed, with the same Seq.
		s.write(t, sink, b)
		next := &sdk.Batch{Seq: 2, Entries: entries(10, 10, suiteTime)}
		s.write(t, sink, next)
		s.flush(t, sink)
		if s.opts.Read != nil {
			got := s.opts.Read(t, impl)
			if len(got) < 20 {
				t.Fatalf("Read gave back %d entries, want at least 20", len(got))
			}
			s.requireEntries(t, impl, append(append([]sdk.LogEntry{}, got[:len(got)-10]...), next.Entries...))
		}
	}
	t.Run("Sink", func(t *testing.T) {
		impl := s.factory(t)
		shutdownAtEnd(t, impl)
		check(t, impl, closeAtEnd(t, impl))
	})
	if !s.opts.Direct {
		t.Run("Harness", func(t *testing.T) {
			impl, sink := s.sink(t)
			check(t, impl, sink)
		})
	}
}
