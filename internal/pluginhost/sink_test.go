package pluginhost

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
)

// requireSameBatch compares batches field by field: timestamps to the
// nanosecond (not their locations), lines byte for byte (nil and empty
// alike).
func requireSameBatch(t *testing.T, want, got *sdk.Batch) {
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

func TestSinkWriteRoundTrip(t *testing.T) {
	rec := &recordingSink{}
	c := newSinkHarness(t, rec)

	batches := []*sdk.Batch{testBatch(1, 10_000), testBatch(2, 1), {Seq: 3}, {Seq: 4, Events: testBatch(0, 0).Events}, testBatch(5, 50)}
	batches[4].Events = nil
	for _, b := range batches {
		require.NoError(t, c.Sink.Write(context.Background(), b))
	}
	require.Len(t, rec.batches, len(batches))
	for i, b := range batches {
		requireSameBatch(t, b, rec.batches[i])
	}
}

func TestSinkInvalidUTF8Strings(t *testing.T) {
	// Lines travel as bytes, exactly; names and messages are protobuf
	// strings, so invalid UTF-8 in them is replaced rather than making the
	// batch impossible to send.
	rec := &recordingSink{}
	c := newSinkHarness(t, rec)
	ts := time.Unix(1700000000, 1)
	b := &sdk.Batch{
		Seq:     1,
		Entries: []sdk.LogEntry{{Timestamp: ts, Process: "bad\xffname", Stream: sdk.Stderr, Line: []byte("\xff\xfe")}},
		Events:  []sdk.Event{{Timestamp: ts, Process: "bad\xffname", Type: "exited", Message: "exec: \"/bin/\xc3\x28\": not found"}},
	}
	require.NoError(t, c.Sink.Write(context.Background(), b))
	require.Len(t, rec.batches, 1)
	got := rec.batches[0]
	assert.Equal(t, "bad\uFFFDname", got.Entries[0].Process)
	assert.Equal(t, []byte("\xff\xfe"), got.Entries[0].Line)
	assert.Equal(t, "bad\uFFFDname", got.Events[0].Process)
	assert.Equal(t, "exec: \"/bin/\uFFFD(\": not found", got.Events[0].Message)
}

func TestSinkWriteError(t *testing.T) {
	rec := &recordingSink{writeErr: errors.New("disk full: /var/log/prox")}
	c := newSinkHarness(t, rec)
	err := c.Sink.Write(context.Background(), testBatch(1, 10))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "disk full: /var/log/prox")
}

func TestSinkFlushClose(t *testing.T) {
	rec := &recordingSink{}
	c := newSinkHarness(t, rec)
	require.NoError(t, c.Sink.Flush(context.Background()))
	require.NoError(t, c.Sink.Close(context.Background()))
	assert.Equal(t, 1, rec.flushes)
	assert.Equal(t, 1, rec.closes)

	rec.flushErr = errors.New("remote refused the flush")
	rec.closeErr = errors.New("socket already closed")
	err := c.Sink.Flush(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "remote refused the flush")
	err = c.Sink.Close(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "socket already closed")
}

func TestSinkMalformedRequest(t *testing.T) {
	rec := &recordingSink{}
	c := newSinkHarness(t, rec)
	req := packBatch(testBatch(9, 5))
	req.Logs.Lengths[2] += 1 << 20
	_, err := proto.NewSinkClient(c.rpc.Conn).Write(context.Background(), req)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "malformed log batch")
	assert.Empty(t, rec.batches)
}

// badAckSink acknowledges the wrong batch and implements nothing else.
type badAckSink struct {
	proto.UnimplementedSinkServer
}

func (badAckSink) Write(_ context.Context, req *proto.WriteRequest) (*proto.WriteResponse, error) {
	return &proto.WriteResponse{AckSeq: req.Seq + 1}, nil
}

func TestSinkAckChecked(t *testing.T) {
	// A plugin of the generated code's.
	c := newSinkClient(generatedConn(t, func(s *grpc.Server) { proto.RegisterSinkServer(s, badAckSink{}) }))
	err := c.Write(context.Background(), testBatch(7, 3))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "acknowledged batch 8, sent 7")

	// What the server does not implement is ErrUnimplemented.
	require.ErrorIs(t, c.Flush(context.Background()), sdk.ErrUnimplemented)
	require.ErrorIs(t, c.Close(context.Background()), sdk.ErrUnimplemented)
}

func TestSinkServerGoesAway(t *testing.T) {
	c := newSinkHarness(t, &recordingSink{})
	c.kill()
	require.ErrorIs(t, c.Sink.Write(context.Background(), testBatch(1, 1)), sdk.ErrPluginUnavailable)
}
