package pluginhost

// The batches and sinks of the sink tests; sdk's tests have the same
// helpers: each side of the sink protocol is tested against the generated
// code.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/proto"
)

// testBatch returns a batch of n entries of several processes and both
// streams, with empty lines, invalid UTF-8 and timestamps before and after
// the first one, and a few events.
func testBatch(seq uint64, n int) *sdk.Batch {
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
	b := &sdk.Batch{Seq: seq}
	for i := range n {
		ts := base.Add(time.Duration(i*7919-3000) * time.Nanosecond)
		if i == 0 {
			ts = base
		}
		line := lines[i%len(lines)]
		if i%len(lines) == 0 {
			line = fmt.Appendf(nil, "line %d", i)
		}
		st := sdk.Stdout
		if i%3 == 1 {
			st = sdk.Stderr
		}
		b.Entries = append(b.Entries, sdk.LogEntry{Timestamp: ts, Process: processes[i%len(processes)], Stream: st, Line: line})
	}
	b.Events = []sdk.Event{
		{Timestamp: base.Add(-time.Hour), Process: "web", Type: "started", State: "running", PreviousState: "starting"},
		{Timestamp: base.Add(time.Nanosecond), Process: "db", Type: "exited", State: "crashed", PreviousState: "running",
			ExitCode: 137, Signal: "SIGKILL", Message: "out of memory", Restarts: 3},
		{Timestamp: base.Add(time.Minute), Process: "worker-1", Type: "failed", State: "failed", ExitCode: -1,
			Message: "gave up after 5 restarts", Restarts: 5},
	}
	return b
}

// codecBatches are batches of every shape the sink protocol carries.
func codecBatches() []*sdk.Batch {
	withEvents := testBatch(6, 20)
	withEvents.Events = testBatch(0, 0).Events
	return []*sdk.Batch{
		{Seq: 0},
		{Seq: 1, Entries: []sdk.LogEntry{{Timestamp: time.Unix(0, 0), Process: "p", Stream: sdk.Stdout}}},
		{Seq: 2, Entries: []sdk.LogEntry{{Timestamp: time.Unix(0, -5), Process: "bad\xffname", Stream: sdk.Stderr, Line: []byte("x")}}},
		testBatch(3, 1),
		testBatch(4, 10_000),
		{Seq: math.MaxUint64, Events: testBatch(0, 0).Events},
		withEvents,
	}
}

// keepingSink keeps every batch's entries and their lines as they were
// delivered, without copying the lines (which Sink.Write allows).
type keepingSink struct {
	batches []*sdk.Batch
}

func (s *keepingSink) Write(_ context.Context, b *sdk.Batch) error {
	s.batches = append(s.batches, &sdk.Batch{Seq: b.Seq, Entries: append([]sdk.LogEntry(nil), b.Entries...), Events: append([]sdk.Event(nil), b.Events...)})
	return nil
}

func (s *keepingSink) Flush(context.Context) error { return nil }
func (s *keepingSink) Close(context.Context) error { return nil }

// reusingSink copies what it keeps and says so (BatchReuser).
type reusingSink struct {
	recordingSink
}

func (*reusingSink) ReuseBatches() bool { return true }

// fuzzBatch builds a batch from data: a sequence number, up to three
// process names, up to 64 entries and up to 3 events, their fields taken
// from data in turn (zeros once it runs out).
func fuzzBatch(data []byte) *sdk.Batch {
	r := fuzzReader{data}
	b := &sdk.Batch{Seq: r.uvarint()}
	names := []string{r.str(), r.str(), r.str()}
	for range int(r.byte()) % 65 {
		b.Entries = append(b.Entries, sdk.LogEntry{
			Timestamp: time.Unix(0, r.varint()),
			Process:   names[int(r.byte())%len(names)],
			Stream:    sdk.Stream(r.byte()),
			Line:      []byte(r.str()),
		})
	}
	for range int(r.byte()) % 4 {
		b.Events = append(b.Events, sdk.Event{
			Timestamp: time.Unix(0, r.varint()), Process: r.str(), Type: sdk.EventType(r.str()), State: sdk.ProcessState(r.str()),
			PreviousState: sdk.ProcessState(r.str()), ExitCode: int(int32(r.varint())), Signal: r.str(), Message: r.str(),
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
func cloneBatch(b *sdk.Batch) *sdk.Batch {
	c := &sdk.Batch{Seq: b.Seq, Entries: make([]sdk.LogEntry, len(b.Entries)), Events: append([]sdk.Event(nil), b.Events...)}
	for i, e := range b.Entries {
		e.Line = append([]byte{}, e.Line...)
		e.Process = strings.Clone(e.Process)
		c.Entries[i] = e
	}
	return c
}

// genUnpack reads the generated code's WriteRequest back into a batch
// (the sdk's unpackBatch, repeated: the oracle of the encoder's tests).
func genUnpack(req *proto.WriteRequest) (*sdk.Batch, error) {
	b := &sdk.Batch{Seq: req.Seq}
	if lb := req.Logs; lb != nil {
		n := len(lb.Lengths)
		if len(lb.TsDeltas) != n || len(lb.ProcessIndex) != n || len(lb.Streams) != n {
			return nil, fmt.Errorf("malformed log batch: %d lengths, %d timestamps, %d processes, %d streams",
				n, len(lb.TsDeltas), len(lb.ProcessIndex), len(lb.Streams))
		}
		b.Entries = make([]sdk.LogEntry, n)
		off := 0
		for i := 0; i < n; i++ {
			l := int(lb.Lengths[i])
			if off+l > len(lb.Data) {
				return nil, fmt.Errorf("malformed log batch: line %d runs past the data", i)
			}
			pi := int(lb.ProcessIndex[i])
			if pi >= len(lb.Processes) {
				return nil, fmt.Errorf("malformed log batch: process index %d out of range", pi)
			}
			b.Entries[i] = sdk.LogEntry{
				Timestamp: time.Unix(0, lb.BaseUnixNano+lb.TsDeltas[i]),
				Process:   lb.Processes[pi],
				Stream:    sdk.Stream(lb.Streams[i]),
				Line:      lb.Data[off : off+l : off+l],
			}
			off += l
		}
		if off != len(lb.Data) {
			return nil, fmt.Errorf("malformed log batch: %d bytes of data after the last line", len(lb.Data)-off)
		}
	}
	for _, e := range req.Events {
		b.Events = append(b.Events, genEventFromProto(e))
	}
	return b, nil
}

func genEventFromProto(e *proto.Event) sdk.Event {
	return sdk.Event{
		Timestamp: time.Unix(0, e.UnixNano), Process: e.Process, Type: sdk.EventType(e.Type),
		State: sdk.ProcessState(e.State), PreviousState: sdk.ProcessState(e.PreviousState), ExitCode: int(e.ExitCode),
		Signal: e.Signal, Message: e.Message, Restarts: int(e.Restarts),
	}
}
