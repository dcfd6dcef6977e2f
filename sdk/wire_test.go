package sdk

import (
	"math"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gproto "google.golang.org/protobuf/proto"
)

func TestUnpackBatchReadsTheGeneratedForm(t *testing.T) {
	for _, b := range []*Batch{
		{Seq: 0},
		{Seq: 1, Entries: []LogEntry{{Timestamp: time.Unix(0, 1), Process: "p", Stream: Stdout}}},
		testBatch(2, 1),
		testBatch(3, 10_000),
		{Seq: math.MaxUint64, Events: testBatch(0, 0).Events},
	} {
		req := genRequest(b)
		// Through the wire encoding too.
		raw, err := gproto.Marshal(req)
		require.NoError(t, err)
		var decoded proto.WriteRequest
		require.NoError(t, gproto.Unmarshal(raw, &decoded))
		got, err := unpackBatch(&decoded)
		require.NoError(t, err)
		requireSameBatch(t, b, got)
	}
}

func TestUnpackBatchLinesDoNotOverlap(t *testing.T) {
	b, err := unpackBatch(genRequest(&Batch{Entries: []LogEntry{
		{Process: "p", Line: []byte("ab")},
		{Process: "p", Line: []byte("cd")},
	}}))
	require.NoError(t, err)
	// Appending to one line must not overwrite the next.
	_ = append(b.Entries[0].Line, 'X')
	assert.Equal(t, "cd", string(b.Entries[1].Line))
}

func TestUnpackBatchMalformed(t *testing.T) {
	valid := func() *proto.WriteRequest {
		return genRequest(&Batch{Seq: 1, Entries: []LogEntry{
			{Timestamp: time.Unix(1, 0), Process: "a", Stream: Stdout, Line: []byte("hello")},
			{Timestamp: time.Unix(2, 0), Process: "b", Stream: Stderr, Line: []byte("world")},
		}})
	}
	tests := []struct {
		name   string
		mangle func(lb *proto.LogBatch)
		want   string
	}{
		{"short-timestamps", func(lb *proto.LogBatch) { lb.TsDeltas = lb.TsDeltas[:1] }, "1 timestamps"},
		{"long-timestamps", func(lb *proto.LogBatch) { lb.TsDeltas = append(lb.TsDeltas, 5) }, "3 timestamps"},
		{"short-process-index", func(lb *proto.LogBatch) { lb.ProcessIndex = nil }, "0 processes"},
		{"short-streams", func(lb *proto.LogBatch) { lb.Streams = lb.Streams[:1] }, "1 streams"},
		{"short-lengths", func(lb *proto.LogBatch) { lb.Lengths = lb.Lengths[:1] }, "1 lengths"},
		{"data-overrun", func(lb *proto.LogBatch) { lb.Lengths[1] = 6 }, "line 1 runs past the data"},
		{"data-overrun-huge", func(lb *proto.LogBatch) { lb.Lengths[0] = math.MaxUint32 }, "line 0 runs past the data"},
		{"data-missing", func(lb *proto.LogBatch) { lb.Data = nil }, "line 0 runs past the data"},
		{"data-trailing", func(lb *proto.LogBatch) { lb.Data = append(lb.Data, "!!"...) }, "2 bytes of data after the last line"},
		{"bad-process-index", func(lb *proto.LogBatch) { lb.ProcessIndex[1] = 2 }, "process index 2 out of range"},
		{"huge-process-index", func(lb *proto.LogBatch) { lb.ProcessIndex[0] = math.MaxUint32 }, "out of range"},
		{"no-processes", func(lb *proto.LogBatch) { lb.Processes = nil }, "process index 0 out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := valid()
			tt.mangle(req.Logs)
			var b *Batch
			var err error
			require.NotPanics(t, func() { b, err = unpackBatch(req) })
			require.Error(t, err)
			assert.Nil(t, b)
			assert.Contains(t, err.Error(), "malformed log batch")
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestUnpackBatchEmptyLogBatch(t *testing.T) {
	b, err := unpackBatch(&proto.WriteRequest{Seq: 3, Logs: &proto.LogBatch{}})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), b.Seq)
	assert.Empty(t, b.Entries)
}
