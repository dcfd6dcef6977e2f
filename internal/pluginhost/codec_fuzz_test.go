package pluginhost

import (
	"bytes"
	"testing"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/require"
	gproto "google.golang.org/protobuf/proto"
)

// FuzzBatchEncoder checks the host's end of the sink batch codec (the
// batchEncoder of sink.go) against the generated protobuf code; the
// plugin's end is the sdk's FuzzBatchDecoder. A batch built from the bytes
// (see fuzzBatch), encoded by batchEncoder, is exactly the message the
// generated code builds and encodes from it (packBatch), and reads back,
// through the generated code, as itself (names made valid UTF-8).
func FuzzBatchEncoder(f *testing.F) {
	var enc batchEncoder
	for _, b := range codecBatches() {
		if len(b.Entries) <= 20 { // not testBatch's 10,000 lines
			f.Add(encode(f, &enc, b))
		}
	}
	f.Add([]byte{})
	f.Add(testBatchFuzzInput())

	f.Fuzz(func(t *testing.T, data []byte) {
		var enc batchEncoder
		b := fuzzBatch(data)
		want := cloneBatch(b)
		for i := range want.Entries {
			want.Entries[i].Process = wire.ValidUTF8(want.Entries[i].Process)
		}
		for i := range want.Events {
			e := &want.Events[i]
			e.Process, e.Type, e.State = wire.ValidUTF8(e.Process), sdk.EventType(wire.ValidUTF8(string(e.Type))), sdk.ProcessState(wire.ValidUTF8(string(e.State)))
			e.PreviousState, e.Signal, e.Message = sdk.ProcessState(wire.ValidUTF8(string(e.PreviousState))), wire.ValidUTF8(e.Signal), wire.ValidUTF8(e.Message)
		}

		raw := encode(t, &enc, b)
		var req proto.WriteRequest
		require.NoError(t, gproto.Unmarshal(raw, &req), "the generated code reads batchEncoder's bytes")
		require.True(t, gproto.Equal(packBatch(b), &req), "the same message as the generated code's")
		got, err := genUnpack(&req)
		require.NoError(t, err)
		requireSameBatch(t, want, got)

		// Into a region of exactly its size, and not into a smaller one.
		dst := make([]byte, len(raw))
		n, fits, err := enc.encodeInto(dst, b)
		require.NoError(t, err)
		require.True(t, fits)
		require.True(t, bytes.Equal(raw, dst[:n]), "the same bytes in a region")
		if len(raw) > 0 {
			_, fits, err = enc.encodeInto(dst[:len(raw)-1], b)
			require.NoError(t, err)
			require.False(t, fits)
		}
	})
}
