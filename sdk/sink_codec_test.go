package sdk

import (
	"bytes"
	"context"
	"math"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"
	gproto "google.golang.org/protobuf/proto"
)

func TestBatchDecoderReadsTheGeneratedEncoding(t *testing.T) {
	var dec batchDecoder
	for _, b := range codecBatches() {
		raw, err := gproto.Marshal(genRequest(b))
		require.NoError(t, err)
		got, err := dec.decode(raw)
		require.NoError(t, err)
		want := *b
		for i := range want.Entries {
			want.Entries[i].Process = wire.ValidUTF8(want.Entries[i].Process)
		}
		requireSameBatch(t, &want, got)
	}
}

func TestBatchDecoderReadsUnpackedFields(t *testing.T) {
	// Proto3 writers pack repeated numbers, but a reader must also take
	// them one by one.
	var raw, logs []byte
	logs = protowire.AppendTag(logs, 1, protowire.VarintType)
	logs = protowire.AppendVarint(logs, 1000)
	for _, l := range []uint64{2, 3} {
		logs = protowire.AppendTag(logs, 3, protowire.VarintType)
		logs = protowire.AppendVarint(logs, l)
	}
	for _, d := range []int64{0, -7} {
		logs = protowire.AppendTag(logs, 2, protowire.VarintType)
		logs = protowire.AppendVarint(logs, protowire.EncodeZigZag(d))
	}
	logs = protowire.AppendTag(logs, 4, protowire.BytesType)
	logs = protowire.AppendBytes(logs, []byte("abcde"))
	logs = protowire.AppendTag(logs, 5, protowire.BytesType)
	logs = protowire.AppendString(logs, "one")
	logs = protowire.AppendTag(logs, 5, protowire.BytesType)
	logs = protowire.AppendString(logs, "two")
	for _, i := range []uint64{1, 0} {
		logs = protowire.AppendTag(logs, 6, protowire.VarintType)
		logs = protowire.AppendVarint(logs, i)
	}
	logs = protowire.AppendTag(logs, 7, protowire.BytesType)
	logs = protowire.AppendBytes(logs, []byte{1, 2})
	logs = protowire.AppendTag(logs, 99, protowire.Fixed32Type) // unknown: skipped
	logs = protowire.AppendFixed32(logs, 5)
	raw = protowire.AppendTag(raw, 1, protowire.VarintType)
	raw = protowire.AppendVarint(raw, 9)
	raw = protowire.AppendTag(raw, 2, protowire.BytesType)
	raw = protowire.AppendBytes(raw, logs)

	var dec batchDecoder
	got, err := dec.decode(raw)
	require.NoError(t, err)
	requireSameBatch(t, &Batch{Seq: 9, Entries: []LogEntry{
		{Timestamp: time.Unix(0, 1000), Process: "two", Stream: Stdout, Line: []byte("ab")},
		{Timestamp: time.Unix(0, 993), Process: "one", Stream: Stderr, Line: []byte("cde")},
	}}, got)
}

func TestBatchDecoderMergesARepeatedLogBatch(t *testing.T) {
	// A message field that occurs twice is merged (protobuf's rule, which
	// the generated code follows): a scalar or bytes field from the last
	// occurrence that has it, repeated fields end to end. Here one batch
	// is split across two occurrences of WriteRequest.logs.
	b := testBatch(1, 3)
	b.Events = nil
	raw := splitLogsRequest(b)
	var req proto.WriteRequest
	require.NoError(t, gproto.Unmarshal(raw, &req))
	want, err := unpackBatch(&req)
	require.NoError(t, err)
	requireSameBatch(t, b, want) // the generated code's reading

	var dec batchDecoder
	got, err := dec.decode(raw)
	require.NoError(t, err)
	requireSameBatch(t, b, got)
}

// splitLogsRequest encodes b, without its events, as a WriteRequest whose
// logs are split across two occurrences of the field.
func splitLogsRequest(b *Batch) []byte {
	lb := genRequest(b).Logs
	parts := []*proto.LogBatch{
		{BaseUnixNano: lb.BaseUnixNano, Data: lb.Data, Processes: lb.Processes, TsDeltas: lb.TsDeltas[:1]},
		{TsDeltas: lb.TsDeltas[1:], Lengths: lb.Lengths, ProcessIndex: lb.ProcessIndex, Streams: lb.Streams},
	}
	raw := protowire.AppendTag(nil, 1, protowire.VarintType)
	raw = protowire.AppendVarint(raw, b.Seq)
	for _, part := range parts {
		m, err := gproto.Marshal(part)
		if err != nil {
			panic(err)
		}
		raw = protowire.AppendTag(raw, 2, protowire.BytesType)
		raw = protowire.AppendBytes(raw, m)
	}
	return raw
}

func TestBatchDecoderSkipsFieldsOfAnotherWireType(t *testing.T) {
	// A known field number with another wire type than its own is an
	// unknown field to the generated code, skipped, not an error.
	b := testBatch(1, 3)
	b.Events = nil
	logs, err := gproto.Marshal(genRequest(b).Logs)
	require.NoError(t, err)
	for _, num := range []protowire.Number{2, 3, 6} {
		logs = protowire.AppendTag(logs, num, protowire.Fixed32Type)
		logs = protowire.AppendFixed32(logs, 7)
	}
	raw := protowire.AppendTag(nil, 1, protowire.VarintType)
	raw = protowire.AppendVarint(raw, b.Seq)
	raw = protowire.AppendTag(raw, 2, protowire.BytesType)
	raw = protowire.AppendBytes(raw, logs)
	var req proto.WriteRequest
	require.NoError(t, gproto.Unmarshal(raw, &req))
	want, err := unpackBatch(&req)
	require.NoError(t, err)
	requireSameBatch(t, b, want) // the generated code's reading

	var dec batchDecoder
	got, err := dec.decode(raw)
	require.NoError(t, err)
	requireSameBatch(t, b, got)
}

func TestBatchDecoderRejectsMalformedBatches(t *testing.T) {
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
		{"short-process-index", func(lb *proto.LogBatch) { lb.ProcessIndex = nil }, "0 processes"},
		{"short-streams", func(lb *proto.LogBatch) { lb.Streams = lb.Streams[:1] }, "1 streams"},
		{"data-overrun-huge", func(lb *proto.LogBatch) { lb.Lengths[0] = math.MaxUint32 }, "line 0 runs past the data"},
		{"data-trailing", func(lb *proto.LogBatch) { lb.Data = append(lb.Data, "!!"...) }, "2 bytes of data after the last line"},
		{"huge-process-index", func(lb *proto.LogBatch) { lb.ProcessIndex[0] = math.MaxUint32 }, "out of range"},
	}
	var dec batchDecoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := valid()
			tt.mangle(req.Logs)
			raw, err := gproto.Marshal(req)
			require.NoError(t, err)
			var b *Batch
			require.NotPanics(t, func() { b, err = dec.decode(raw) })
			require.ErrorIs(t, err, errMalformed)
			assert.Nil(t, b)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	t.Run("truncated", func(t *testing.T) {
		raw, err := gproto.Marshal(valid())
		require.NoError(t, err)
		for n := 1; n < len(raw); n++ {
			require.NotPanics(t, func() { _, _ = dec.decode(raw[:n]) }, "cut at %d", n)
		}
		_, err = dec.decode(raw[:len(raw)-3])
		require.ErrorIs(t, err, errMalformed)
	})
	t.Run("field-number-out-of-range", func(t *testing.T) {
		// Protobuf field numbers stop at 2^29-1: a larger one is not
		// an unknown field to skip but invalid data, as the generated
		// code says (found by FuzzBatchCodec).
		bad := protowire.AppendTag(nil, protowire.MaxValidNumber+1, protowire.Fixed32Type)
		bad = protowire.AppendFixed32(bad, 0)
		raw, err := gproto.Marshal(valid())
		require.NoError(t, err)
		var logs []byte
		logs, err = gproto.Marshal(valid().Logs)
		require.NoError(t, err)
		inLogs := protowire.AppendTag(nil, 2, protowire.BytesType)
		inLogs = protowire.AppendBytes(inLogs, append(logs, bad...))
		for name, raw := range map[string][]byte{"request": append(raw, bad...), "logs": inLogs} {
			require.Error(t, gproto.Unmarshal(raw, &proto.WriteRequest{}), name)
			_, err = dec.decode(raw)
			require.ErrorIs(t, err, errMalformed, name)
			assert.Contains(t, err.Error(), "field number", name)
		}
	})
}

func TestSinkWriteMalformedThroughBatchCodec(t *testing.T) {
	rec := &recordingSink{}
	conn := sinkConn(t, rec)
	req := genRequest(testBatch(1, 2))
	req.Logs.Lengths = req.Logs.Lengths[:1]
	_, err := proto.NewSinkClient(conn).Write(context.Background(), req)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "malformed log batch")
	assert.Empty(t, rec.batches)
}

func TestBatchReuserGetsPooledBatches(t *testing.T) {
	for _, tt := range []struct {
		name   string
		sink   Sink
		pooled bool
	}{
		{"reuser", &reusingSink{}, true},
		{"default", &recordingSink{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := gproto.Marshal(genRequest(testBatch(1, 10)))
			require.NoError(t, err)
			s := &sinkServer{impl: tt.sink}
			dec := func(v any) error {
				in := v.(*incomingBatch)
				assert.Equal(t, tt.pooled, in.pooled)
				in.raw = raw
				return nil
			}
			resp, err := writeHandler(s, context.Background(), dec, nil)
			require.NoError(t, err)
			assert.Equal(t, uint64(1), resp.(*proto.WriteResponse).AckSeq)
		})
	}
}

func TestBatchDecoderAllocatesPerBatchNotPerLine(t *testing.T) {
	const lines = 4096
	b := &Batch{Seq: 1}
	for i := range lines {
		b.Entries = append(b.Entries, LogEntry{Timestamp: time.Unix(0, int64(i)), Process: []string{"web", "db"}[i%2], Stream: Stdout, Line: bytes.Repeat([]byte("x"), 100)})
	}
	var dec batchDecoder
	raw, err := gproto.Marshal(genRequest(b))
	require.NoError(t, err)
	_, err = dec.decode(raw) // warm up
	require.NoError(t, err)
	decodes := testing.AllocsPerRun(20, func() { _, _ = dec.decode(raw) })
	assert.Less(t, decodes, float64(lines)/100, "allocations to decode %d lines", lines)
}

// sinkConn serves sink with the plugin's gRPC server, as Serve builds it,
// on a unix socket, and returns a connection of the generated client's (a
// host built from plugin.proto alone). Both end with the test.
func sinkConn(t *testing.T, sink Sink) *grpc.ClientConn {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "plugin.sock"))
	require.NoError(t, err)
	s := grpcServer(nil)(nil)
	require.NoError(t, (&sinkPlugin{server: &sinkServer{impl: sink}}).GRPCServer(nil, s))
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient("unix://"+l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
