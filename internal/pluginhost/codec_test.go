package pluginhost

import (
	"bytes"
	"context"
	"testing"
	"time"

	gproto "google.golang.org/protobuf/proto"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encode runs batchCodec's Marshal on b and returns the bytes.
func encode(t testing.TB, enc *batchEncoder, b *sdk.Batch) []byte {
	t.Helper()
	data, err := wire.Codec{}.Marshal(&outgoingBatch{batch: b, enc: enc})
	require.NoError(t, err)
	defer data.Free()
	return data.Materialize()
}

func TestBatchCodecWritesTheGeneratedEncoding(t *testing.T) {
	var enc batchEncoder
	for _, b := range codecBatches() {
		var got proto.WriteRequest
		require.NoError(t, gproto.Unmarshal(encode(t, &enc, b), &got), "standard protobuf reads what batchCodec writes")
		assert.True(t, gproto.Equal(packBatch(b), &got), "batch %d: same message as the generated code's", b.Seq)
	}
}

func TestBatchEncoderAllocatesPerBatchNotPerLine(t *testing.T) {
	const lines = 4096
	b := &sdk.Batch{Seq: 1}
	for i := range lines {
		b.Entries = append(b.Entries, sdk.LogEntry{Timestamp: time.Unix(0, int64(i)), Process: []string{"web", "db"}[i%2], Stream: sdk.Stdout, Line: bytes.Repeat([]byte("x"), 100)})
	}
	var enc batchEncoder
	encode(t, &enc, b) // warm up

	encodes := testing.AllocsPerRun(20, func() {
		data, err := wire.Codec{}.Marshal(&outgoingBatch{batch: b, enc: &enc})
		if err == nil {
			data.Free()
		}
	})
	assert.Less(t, encodes, float64(lines)/100, "allocations to encode %d lines", lines)
}

func TestSinkWriteThroughBatchCodec(t *testing.T) {
	// The plugin's server as Serve builds it, prox's dial options: Write
	// goes through batchCodec on both ends.
	rec := &keepingSink{}
	sink := connect(t, &sdk.ServeConfig{Name: "test", Sinks: map[string]sdk.Sink{"keep": rec}}).Sink
	batches := codecBatches()
	for _, b := range batches {
		require.NoError(t, sink.Write(context.Background(), b))
	}
	require.Len(t, rec.batches, len(batches))
	for i, b := range batches {
		want := *b
		want.Entries = append([]sdk.LogEntry(nil), b.Entries...)
		for j := range want.Entries {
			want.Entries[j].Process = wire.ValidUTF8(want.Entries[j].Process)
		}
		// The lines kept from every batch are still intact after the
		// later ones: a sink may keep the bytes of the lines.
		requireSameBatch(t, &want, rec.batches[i])
	}
}

func TestBatchReuserThroughBatchCodec(t *testing.T) {
	rec := &reusingSink{}
	sink := connect(t, &sdk.ServeConfig{Name: "test", Sinks: map[string]sdk.Sink{"reuse": rec}}).Sink
	batches := []*sdk.Batch{testBatch(1, 5000), testBatch(2, 3), testBatch(3, 5000)}
	for _, b := range batches {
		require.NoError(t, sink.Write(context.Background(), b))
	}
	require.Len(t, rec.batches, len(batches))
	for i, b := range batches {
		want := *b
		want.Entries = append([]sdk.LogEntry(nil), b.Entries...)
		for j := range want.Entries {
			want.Entries[j].Process = wire.ValidUTF8(want.Entries[j].Process)
		}
		requireSameBatch(t, &want, rec.batches[i])
	}
}
