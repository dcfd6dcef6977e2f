package sdk

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/require"
	gproto "google.golang.org/protobuf/proto"
)

// FuzzBatchCodec checks the sink batch codec (sink_codec.go) both ways.
//
// Decoding: arbitrary bytes decode to a batch or to an error wrapping
// errMalformed, never a panic or a read past the input (it is given with
// no spare capacity); batchDecoder reads a batch exactly when the
// generated protobuf code does, and the same one (but for a process name
// that is not UTF-8: a protobuf string, which the generated code refuses
// and batchDecoder takes as it comes); and that batch, encoded again,
// decodes to itself.
//
// Encoding: a batch built from the same bytes (see fuzzBatch), encoded by
// batchEncoder, decodes to itself through batchDecoder and through the
// generated code, and the generated code's encoding of it decodes to
// itself through batchDecoder.
func FuzzBatchCodec(f *testing.F) {
	var enc batchEncoder
	for _, b := range codecBatches() {
		if len(b.Entries) <= 20 { // not testBatch's 10,000 lines
			raw, err := wire.Codec{}.Marshal(&outgoingBatch{batch: b, enc: &enc})
			require.NoError(f, err)
			f.Add(raw.Materialize())
			raw.Free()
		}
	}
	f.Add([]byte{})
	f.Add(splitLogsRequest(testBatch(1, 3)))
	f.Add(testBatchFuzzInput())

	f.Fuzz(func(t *testing.T, data []byte) {
		var enc batchEncoder
		var dec batchDecoder

		// Arbitrary bytes: batchDecoder and the generated code agree.
		got, err := dec.decode(data[:len(data):len(data)])
		var req proto.WriteRequest
		var want *Batch
		perr := gproto.Unmarshal(data, &req)
		if perr == nil {
			want, perr = unpackBatch(&req)
		}
		switch {
		case err != nil:
			require.ErrorIs(t, err, errMalformed)
			require.Nil(t, got)
			require.Error(t, perr, "batchDecoder refuses what the generated code reads: %v", err)
		case perr != nil:
			// A process name that is not UTF-8 is the one thing
			// batchDecoder takes and the generated code refuses.
			require.Contains(t, perr.Error(), "UTF-8", "the generated code refuses what batchDecoder read: %v", perr)
			require.True(t, hasInvalidUTF8(dec.names), "the generated code refuses valid UTF-8: %v", perr)
		default:
			requireSameBatch(t, want, got)
			require.Equal(t, req.SharedLength, dec.shared, "shared_length")
		}
		if err == nil {
			// Encoded again, the same batch (names made valid UTF-8).
			roundTrip(t, &enc, &dec, cloneBatch(got))
		}

		// A batch built from the bytes.
		roundTrip(t, &enc, &dec, fuzzBatch(data))
	})
}

// roundTrip encodes b with enc and checks that dec and the generated code
// read it back, and that dec reads the generated code's encoding of it.
func roundTrip(t *testing.T, enc *batchEncoder, dec *batchDecoder, b *Batch) {
	t.Helper()
	want := cloneBatch(b)
	for i := range want.Entries {
		want.Entries[i].Process = wire.ValidUTF8(want.Entries[i].Process)
	}
	for i := range want.Events {
		e := &want.Events[i]
		e.Process, e.Type, e.State = wire.ValidUTF8(e.Process), EventType(wire.ValidUTF8(string(e.Type))), ProcessState(wire.ValidUTF8(string(e.State)))
		e.PreviousState, e.Signal, e.Message = ProcessState(wire.ValidUTF8(string(e.PreviousState))), wire.ValidUTF8(e.Signal), wire.ValidUTF8(e.Message)
	}

	bufs, err := wire.Codec{}.Marshal(&outgoingBatch{batch: b, enc: enc})
	require.NoError(t, err)
	raw := bufs.Materialize()
	bufs.Free()
	got, err := dec.decode(raw)
	require.NoError(t, err, "batchDecoder reads batchEncoder's bytes")
	requireSameBatch(t, want, got)

	var req proto.WriteRequest
	require.NoError(t, gproto.Unmarshal(raw, &req), "the generated code reads batchEncoder's bytes")
	got, err = unpackBatch(&req)
	require.NoError(t, err)
	requireSameBatch(t, want, got)

	raw, err = gproto.Marshal(packBatch(b))
	require.NoError(t, err)
	got, err = dec.decode(raw)
	require.NoError(t, err, "batchDecoder reads the generated code's bytes")
	requireSameBatch(t, want, got)
}

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
