package sdk

import (
	"testing"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/require"
	gproto "google.golang.org/protobuf/proto"
)

// FuzzBatchDecoder checks the plugin's end of the sink batch codec
// (sink_codec.go) against the generated protobuf code; the host's end is
// internal/pluginhost's FuzzBatchEncoder.
//
// Arbitrary bytes decode to a batch or to an error wrapping errMalformed,
// never a panic or a read past the input (it is given with no spare
// capacity); batchDecoder reads a batch exactly when the generated code
// does, and the same one (but for a process name that is not UTF-8: a
// protobuf string, which the generated code refuses and batchDecoder
// takes as it comes); and that batch, encoded again by the generated code,
// decodes to itself. A batch built from the same bytes (see fuzzBatch),
// encoded by the generated code, decodes to itself.
func FuzzBatchDecoder(f *testing.F) {
	for _, b := range codecBatches() {
		if len(b.Entries) <= 20 { // not testBatch's 10,000 lines
			raw, err := gproto.Marshal(genRequest(b))
			require.NoError(f, err)
			f.Add(raw)
		}
	}
	f.Add([]byte{})
	f.Add(splitLogsRequest(testBatch(1, 3)))
	f.Add(testBatchFuzzInput())

	f.Fuzz(func(t *testing.T, data []byte) {
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
			roundTrip(t, &dec, cloneBatch(got))
		}

		// A batch built from the bytes.
		roundTrip(t, &dec, fuzzBatch(data))
	})
}

// roundTrip checks that dec reads the generated code's encoding of b.
func roundTrip(t *testing.T, dec *batchDecoder, b *Batch) {
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
	raw, err := gproto.Marshal(genRequest(b))
	require.NoError(t, err)
	got, err := dec.decode(raw)
	require.NoError(t, err, "batchDecoder reads the generated code's bytes")
	requireSameBatch(t, want, got)
}
