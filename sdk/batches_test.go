package sdk

// The batches and sinks of the sink tests, and the generated code's form
// of a batch. internal/pluginhost's tests have the same helpers: each side
// of the sink protocol is tested against the generated code.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/require"
)

// testBatch returns a batch of n entries of several processes and both
// streams, with empty lines, invalid UTF-8 and timestamps before and after
// the first one, and a few events.
func testBatch(seq uint64, n int) *Batch {
	base := time.Date(2025, 11, 26, 2, 49, 13, 123456789, time.UTC)
	processes := []string{"web", "db", "worker-1", "ünïcödé", ""}
	lines := [][]byte{
		[]byte("GET /healthz 200"),
		{},
		nil,
		{0xff, 0xfe, 0xfd, 'x', 0x80},
		[]byte("tab\tand\x00nul and \r carriage return"),
		[]byte("日本語のログ"),
		bytes.Repeat([]byte("long "), 300),
	}
	b := &Batch{Seq: seq}
	for i := range n {
		ts := base.Add(time.Duration(i*7919-3000) * time.Nanosecond)
		if i == 0 {
			ts = base
		}
		line := lines[i%len(lines)]
		if i%len(lines) == 0 {
			line = fmt.Appendf(nil, "line %d", i)
		}
		st := Stdout
		if i%3 == 1 {
			st = Stderr
		}
		b.Entries = append(b.Entries, LogEntry{Timestamp: ts, Process: processes[i%len(processes)], Stream: st, Line: line})
	}
	b.Events = []Event{
		{Timestamp: base.Add(-time.Hour), Process: "web", Type: "started", State: "running", PreviousState: "starting"},
		{Timestamp: base.Add(time.Nanosecond), Process: "db", Type: "exited", State: "crashed", PreviousState: "running",
			ExitCode: 137, Signal: "SIGKILL", Message: "out of memory", Restarts: 3},
		{Timestamp: base.Add(time.Minute), Process: "worker-1", Type: "failed", State: "failed", ExitCode: -1,
			Message: "gave up after 5 restarts", Restarts: 5},
	}
	return b
}

// requireSameBatch compares batches field by field: timestamps to the
// nanosecond (not their locations), lines byte for byte (nil and empty
// alike).
func requireSameBatch(t *testing.T, want, got *Batch) {
	t.Helper()
	require.Equal(t, want.Seq, got.Seq)
	require.Len(t, got.Entries, len(want.Entries))
	for i := range want.Entries {
		w, g := want.Entries[i], got.Entries[i]
		require.Equal(t, w.Timestamp.UnixNano(), g.Timestamp.UnixNano(), "entry %d timestamp", i)
		require.True(t, w.Timestamp.Equal(g.Timestamp), "entry %d timestamp", i)
		require.Equal(t, w.Process, g.Process, "entry %d process", i)
		require.Equal(t, w.Stream, g.Stream, "entry %d stream", i)
		require.True(t, bytes.Equal(w.Line, g.Line), "entry %d line: want %q, got %q", i, w.Line, g.Line)
	}
	require.Len(t, got.Events, len(want.Events))
	for i := range want.Events {
		w, g := want.Events[i], got.Events[i]
		require.True(t, w.Timestamp.Equal(g.Timestamp), "event %d timestamp: want %v, got %v", i, w.Timestamp, g.Timestamp)
		w.Timestamp, g.Timestamp = time.Time{}, time.Time{}
		require.Equal(t, w, g, "event %d", i)
	}
}

// codecBatches are batches of every shape the sink protocol carries.
func codecBatches() []*Batch {
	withEvents := testBatch(6, 20)
	withEvents.Events = testBatch(0, 0).Events
	return []*Batch{
		{Seq: 0},
		{Seq: 1, Entries: []LogEntry{{Timestamp: time.Unix(0, 0), Process: "p", Stream: Stdout}}},
		{Seq: 2, Entries: []LogEntry{{Timestamp: time.Unix(0, -5), Process: "bad\xffname", Stream: Stderr, Line: []byte("x")}}},
		testBatch(3, 1),
		testBatch(4, 10_000),
		{Seq: math.MaxUint64, Events: testBatch(0, 0).Events},
		withEvents,
	}
}

// reusingSink copies what it keeps and says so (BatchReuser).
type reusingSink struct {
	recordingSink
}

func (*reusingSink) ReuseBatches() bool { return true }

// fuzzBatch builds a batch from data: a sequence number, up to three
// process names, up to 64 entries and up to 3 events, their fields taken
// from data in turn (zeros once it runs out).
func fuzzBatch(data []byte) *Batch {
	r := fuzzReader{data}
	b := &Batch{Seq: r.uvarint()}
	names := []string{r.str(), r.str(), r.str()}
	for range int(r.byte()) % 65 {
		b.Entries = append(b.Entries, LogEntry{
			Timestamp: time.Unix(0, r.varint()),
			Process:   names[int(r.byte())%len(names)],
			Stream:    Stream(r.byte()),
			Line:      []byte(r.str()),
		})
	}
	for range int(r.byte()) % 4 {
		b.Events = append(b.Events, Event{
			Timestamp: time.Unix(0, r.varint()), Process: r.str(), Type: EventType(r.str()), State: ProcessState(r.str()),
			PreviousState: ProcessState(r.str()), ExitCode: int(int32(r.varint())), Signal: r.str(), Message: r.str(),
			Restarts: int(uint32(r.uvarint())),
		})
	}
	return b
}

// fuzzReader takes values from the start of a byte string.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *fuzzReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// str takes a length byte and that many bytes.
func (r *fuzzReader) str() string {
	n := min(int(r.byte()), len(r.b))
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// testBatchFuzzInput is an input of FuzzBatchCodec from which fuzzBatch
// builds a batch of three entries and an event.
func testBatchFuzzInput() []byte {
	var b []byte
	b = binary.AppendUvarint(b, 7)
	for _, name := range []string{"web", "bad\xffname", ""} {
		b = append(append(b, byte(len(name))), name...)
	}
	b = append(b, 3)
	for i, line := range []string{"GET / 200", "", "\xff\xfe"} {
		b = binary.AppendVarint(b, int64(i)*1_000_000_007-1)
		b = append(b, byte(i), byte(i%2+1), byte(len(line)))
		b = append(b, line...)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, 1764125353123456789)
	for _, s := range []string{"web", "exited", "crashed", "running"} {
		b = append(append(b, byte(len(s))), s...)
	}
	b = binary.AppendVarint(b, -1)
	for _, s := range []string{"SIGKILL", "killed"} {
		b = append(append(b, byte(len(s))), s...)
	}
	return binary.AppendUvarint(b, 3)
}

// cloneBatch copies b and everything it points to.
func cloneBatch(b *Batch) *Batch {
	c := &Batch{Seq: b.Seq, Entries: make([]LogEntry, len(b.Entries)), Events: append([]Event(nil), b.Events...)}
	for i, e := range b.Entries {
		e.Line = append([]byte{}, e.Line...)
		e.Process = strings.Clone(e.Process)
		c.Entries[i] = e
	}
	return c
}

func hasInvalidUTF8(names []string) bool {
	for _, n := range names {
		if !utf8.ValidString(n) {
			return true
		}
	}
	return false
}

// genRequest is b as the generated code's WriteRequest: the host's form
// of a batch, built field by field (the oracle of the decoder's tests).
func genRequest(b *Batch) *proto.WriteRequest {
	req := &proto.WriteRequest{Seq: b.Seq}
	if len(b.Entries) > 0 {
		lb := &proto.LogBatch{
			TsDeltas:     make([]int64, len(b.Entries)),
			Lengths:      make([]uint32, len(b.Entries)),
			ProcessIndex: make([]uint32, len(b.Entries)),
			Streams:      make([]byte, len(b.Entries)),
		}
		size := 0
		for i := range b.Entries {
			size += len(b.Entries[i].Line)
		}
		lb.Data = make([]byte, 0, size)
		base := b.Entries[0].Timestamp.UnixNano()
		lb.BaseUnixNano = base
		index := make(map[string]uint32)
		for i := range b.Entries {
			e := &b.Entries[i]
			idx, ok := index[e.Process]
			if !ok {
				idx = uint32(len(lb.Processes))
				index[e.Process] = idx
				lb.Processes = append(lb.Processes, wire.ValidUTF8(e.Process))
			}
			lb.TsDeltas[i] = e.Timestamp.UnixNano() - base
			lb.Lengths[i] = uint32(len(e.Line))
			lb.ProcessIndex[i] = idx
			lb.Streams[i] = byte(e.Stream)
			lb.Data = append(lb.Data, e.Line...)
		}
		req.Logs = lb
	}
	for i := range b.Events {
		req.Events = append(req.Events, genEvent(&b.Events[i]))
	}
	return req
}

// genEvent is e as the generated code's Event.
func genEvent(e *Event) *proto.Event {
	return &proto.Event{
		UnixNano: e.Timestamp.UnixNano(), Process: wire.ValidUTF8(e.Process), Type: wire.ValidUTF8(string(e.Type)),
		State: wire.ValidUTF8(string(e.State)), PreviousState: wire.ValidUTF8(string(e.PreviousState)), ExitCode: int32(e.ExitCode),
		Signal: wire.ValidUTF8(e.Signal), Message: wire.ValidUTF8(e.Message), Restarts: uint32(e.Restarts),
	}
}
