package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
)

// sharedConn serves sink as Serve does, and returns the host's client.
func sharedConn(t *testing.T, sink sdk.Sink) *sinkClient {
	t.Helper()
	return connect(t, &sdk.ServeConfig{Name: "test", Version: "0.0.1", Sinks: map[string]sdk.Sink{"s": sink}}).Sink.(*sinkClient)
}

// wantBatch is b as a sink receives it (names made valid UTF-8).
func wantBatch(b *sdk.Batch) *sdk.Batch {
	want := *b
	want.Entries = append([]sdk.LogEntry(nil), b.Entries...)
	for j := range want.Entries {
		want.Entries[j].Process = wire.ValidUTF8(want.Entries[j].Process)
	}
	return &want
}

// inPluginRegion reports whether line lies inside a plugin's mapping of
// a shared batch region: a read-only shared mapping of the memfd the
// host creates (/proc/self/maps; both ends live in this process).
func inPluginRegion(t *testing.T, line []byte) bool {
	t.Helper()
	if len(line) == 0 {
		return false
	}
	maps, err := os.ReadFile("/proc/self/maps")
	require.NoError(t, err)
	p := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(line))))
	for _, m := range strings.Split(string(maps), "\n") {
		f := strings.Fields(m)
		if len(f) < 6 || !strings.HasPrefix(f[5], "/memfd:prox-sink-batches") || f[1] != "r--s" {
			continue
		}
		var start, end uint64
		if _, err := fmt.Sscanf(f[0], "%x-%x", &start, &end); err != nil {
			continue
		}
		if p >= start && p+uint64(len(line)) <= end {
			return true
		}
	}
	return false
}

// regionSink records, for each batch, whether its lines were read straight
// from the plugin's mapping of the shared region, and copies them.
type regionSink struct {
	reusingSink
	t        *testing.T
	inRegion []bool
}

func (s *regionSink) Write(ctx context.Context, b *sdk.Batch) error {
	in := len(b.Entries) > 0
	for _, e := range b.Entries {
		if len(e.Line) > 0 && !inPluginRegion(s.t, e.Line) {
			in = false
		}
	}
	s.inRegion = append(s.inRegion, in)
	return s.reusingSink.Write(ctx, b)
}

func TestSinkBatchesTravelThroughTheSharedRegion(t *testing.T) {
	rs := &regionSink{t: t}
	c := sharedConn(t, rs)
	// Small batches fit the region; the 5,000-line one (about 1.1 MB)
	// does not and goes over gRPC.
	batches := []*sdk.Batch{testBatch(1, 10), testBatch(2, 2000), testBatch(3, 5000), testBatch(4, 3), {Seq: 5, Events: testBatch(0, 0).Events}}
	for _, b := range batches {
		require.NoError(t, c.Write(context.Background(), b))
	}
	require.NotNil(t, c.region, "the host shares a region with an SDK plugin")
	require.Len(t, rs.batches, len(batches))
	for i, b := range batches {
		requireSameBatch(t, wantBatch(b), rs.batches[i])
	}
	assert.Equal(t, []bool{true, true, false, true, false}, rs.inRegion,
		"a batch-reusing sink reads the lines of the batches that fit straight from the region")
}

func TestSinkKeepsLinesOfSharedBatches(t *testing.T) {
	// A sink may keep the bytes of the lines (Sink.Write): they must not
	// change when the host writes the next batch into the region.
	keep := &keepingSink{}
	c := sharedConn(t, keep)
	var batches []*sdk.Batch
	for seq := uint64(1); seq <= 6; seq++ {
		b := testBatch(seq, 100*int(seq))
		batches = append(batches, b)
		require.NoError(t, c.Write(context.Background(), b))
	}
	require.NotNil(t, c.region)
	require.Len(t, keep.batches, len(batches))
	for i, b := range batches {
		requireSameBatch(t, wantBatch(b), keep.batches[i])
		for _, e := range keep.batches[i].Entries {
			require.False(t, inPluginRegion(t, e.Line), "a kept line points into the region")
		}
	}
}

func TestSinkWithoutShareGetsBatchesOverGRPC(t *testing.T) {
	// A plugin built from the generated code (or an older SDK) answers
	// Share with Unimplemented and would not understand shared_length.
	rec := &generatedSink{}
	c := newSinkClient(generatedConn(t, func(s *grpc.Server) { proto.RegisterSinkServer(s, rec) }))
	for seq := uint64(1); seq <= 3; seq++ {
		require.NoError(t, c.Write(context.Background(), testBatch(seq, 50)))
	}
	assert.Nil(t, c.region)
	assert.Equal(t, []int{50, 50, 50}, rec.lines)
}

// generatedSink is a sink server of the generated code, without Share.
type generatedSink struct {
	proto.UnimplementedSinkServer
	lines []int
}

func (s *generatedSink) Write(_ context.Context, req *proto.WriteRequest) (*proto.WriteResponse, error) {
	if req.SharedLength != 0 {
		return nil, errors.New("got a shared batch without Share")
	}
	s.lines = append(s.lines, len(req.Logs.GetLengths()))
	return &proto.WriteResponse{AckSeq: req.Seq}, nil
}

// stallingSink fails or stalls its Writes on demand.
type stallingSink struct {
	reusingSink
	mu    sync.Mutex
	fail  error
	stall bool
}

func (s *stallingSink) Write(ctx context.Context, b *sdk.Batch) error {
	s.mu.Lock()
	fail, stall := s.fail, s.stall
	s.mu.Unlock()
	if stall {
		<-ctx.Done()
		return ctx.Err()
	}
	if fail != nil {
		return fail
	}
	return s.reusingSink.Write(ctx, b)
}

func (s *stallingSink) set(fail error, stall bool) {
	s.mu.Lock()
	s.fail, s.stall = fail, stall
	s.mu.Unlock()
}

func TestSharedRegionAfterFailedWrites(t *testing.T) {
	sink := &stallingSink{}
	c := sharedConn(t, sink)
	require.NoError(t, c.Write(context.Background(), testBatch(1, 10)))
	require.NotNil(t, c.region)

	// The sink's own error: the plugin answered, so it is done with the
	// region, which stays.
	sink.set(errors.New("disk full"), false)
	err := c.Write(context.Background(), testBatch(2, 10))
	require.ErrorContains(t, err, "disk full")
	require.NotNil(t, c.region, "an answered failure keeps the region")

	// A call cut short: the plugin may still be reading the region, so
	// the host never writes into it again.
	sink.set(nil, true)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, c.Write(ctx, testBatch(2, 10)), context.DeadlineExceeded)
	assert.Nil(t, c.region, "a call cut short retires the region")

	sink.set(nil, false)
	for seq := uint64(2); seq <= 3; seq++ {
		require.NoError(t, c.Write(context.Background(), testBatch(seq, 10)))
	}
	require.Len(t, sink.batches, 3)
	requireSameBatch(t, wantBatch(testBatch(3, 10)), sink.batches[2])
}

func TestSinkCloseUnmapsTheRegion(t *testing.T) {
	c := sharedConn(t, &recordingSink{})
	require.NoError(t, c.Write(context.Background(), testBatch(1, 1)))
	require.NotNil(t, c.region)
	require.NoError(t, c.Close(context.Background()))
	assert.Nil(t, c.region)
}

func TestOfferedFileIsFetchedOnceWithItsToken(t *testing.T) {
	mem, f, err := wire.NewRegion(4096)
	require.NoError(t, err)
	defer wire.UnmapRegion(mem)
	defer f.Close()
	copy(mem, "hello")
	socket, token := handovers.offerFile(f)
	require.NotNil(t, token)

	wrong := append([]byte(nil), token...)
	wrong[0] ^= 1
	_, err = wire.FetchFile(context.Background(), socket, wrong)
	require.Error(t, err, "a wrong token gets nothing")

	got, err := wire.FetchFile(context.Background(), socket, token)
	require.NoError(t, err)
	defer got.Close()
	theirs, err := wire.MapRegion(got, 4096)
	require.NoError(t, err)
	defer wire.UnmapRegion(theirs)
	assert.Equal(t, "hello", string(theirs[:5]), "both map the same memory")

	_, err = wire.FetchFile(context.Background(), socket, token)
	require.Error(t, err, "an offer is fetched once")
	assert.True(t, handovers.withdraw(token))
	_, err = wire.FetchFile(context.Background(), socket, token)
	require.Error(t, err, "a withdrawn offer is gone")

	// A sender of pipes cannot claim an offer the other way.
	socket2, token2 := handovers.offerFile(f)
	assert.False(t, handovers.claim(token2, nil))
	assert.False(t, handovers.withdraw(token2))
	_ = socket2
}
