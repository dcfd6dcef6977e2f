package sdk

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// These tests pin what grpcopts.go relies on in grpc v1.85.0 (go.mod): a
// gRPC upgrade that changes how buffer pools reach clients and servers
// fails them.

// realConn serves register's services on a unix socket with a gRPC server
// made by newServer, and returns a client connection dialled with
// dialOpts. Both end with the test.
func realConn(t *testing.T, newServer func() *grpc.Server, dialOpts []grpc.DialOption, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "plugin.sock"))
	require.NoError(t, err)
	s := newServer()
	register(s)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, dialOpts...)
	conn, err := grpc.NewClient("unix://"+l.Addr().String(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// asPlugin is a plugin's server (serve.go's GRPCServer hook) and prox's
// dial options.
func asPlugin(t *testing.T, register func(*grpc.Server)) *grpc.ClientConn {
	return realConn(t, func() *grpc.Server { return grpcServer(nil) }, GRPCClientOptions(), register)
}

func TestBufferPoolSizeClasses(t *testing.T) {
	p := newBufferPool()
	require.Equal(t, 1<<minPoolShift, p.sizes[0])
	require.Equal(t, MaxMessageSize, p.sizes[len(p.sizes)-1], "the largest class holds the largest message")
	for i := 1; i < len(p.sizes); i++ {
		require.Greater(t, p.sizes[i], p.sizes[i-1])
		// Fine classes: a buffer is never more than a quarter too big.
		assert.LessOrEqual(t, float64(p.sizes[i]), 1.25*float64(p.sizes[i-1])+1, "class %d after %d", p.sizes[i], p.sizes[i-1])
	}
	for _, size := range []int{0, 1, 255, 256, 257, 4095, 4096, 16 << 10, 100_000, 300 << 10, 512 << 10, 600_000, 1 << 20, MaxMessageSize - 1, MaxMessageSize} {
		b := p.Get(size)
		require.Len(t, *b, size)
		i := p.tierFor(size)
		require.GreaterOrEqual(t, i, 0)
		assert.Equal(t, p.sizes[i], cap(*b), "capacity for %d", size)
		if i > 0 {
			assert.Less(t, p.sizes[i-1], size, "%d takes the smallest class that fits", size)
		}
		p.Put(b)
	}
	// Above the largest class: allocated as asked, and not kept.
	big := p.Get(MaxMessageSize + 1)
	assert.Len(t, *big, MaxMessageSize+1)
	p.Put(big)
	// Foreign buffers go to the largest class that they fill.
	odd := make([]byte, 5000)
	p.Put(&odd)
	small := make([]byte, 10)
	p.Put(&small) // below every class: dropped
}

func TestBufferPoolDoesNotClear(t *testing.T) {
	p := newBufferPool()
	// sync.Pool may drop what it is given (the race detector does it on
	// purpose): try until a buffer comes back.
	for range 200 {
		b := p.Get(300 << 10)
		for i := range *b {
			(*b)[i] = 0xAB
		}
		p.Put(b)
		again := p.Get(290 << 10) // the same class as 300 KiB
		if &(*again)[0] == &(*b)[0] {
			require.Len(t, *again, 290<<10)
			assert.True(t, bytes.Equal(*again, bytes.Repeat([]byte{0xAB}, 290<<10)), "a reused buffer is handed out as it was, not cleared")
			return
		}
		p.Put(again)
	}
	t.Fatal("the pool never handed a buffer back")
}

// countingPool counts the buffers of at least a kilobyte taken from it.
type countingPool struct {
	*bufferPool
	large atomic.Int64
}

func (p *countingPool) Get(size int) *[]byte {
	if size >= 1<<10 {
		p.large.Add(1)
	}
	return p.bufferPool.Get(size)
}

func TestBufferPoolReachesClientAndServer(t *testing.T) {
	client, server := &countingPool{bufferPool: newBufferPool()}, &countingPool{bufferPool: newBufferPool()}
	fr := newFakeRunner(t)
	rec := &recordingSink{}
	conn := realConn(t,
		func() *grpc.Server { return grpc.NewServer(serverOptionsWith(server)...) },
		clientOptionsWith(client),
		func(s *grpc.Server) {
			require.NoError(t, (&runnerPlugin{server: newRunnerServer(fr)}).GRPCServer(nil, s))
			require.NoError(t, (&sinkPlugin{server: &sinkServer{impl: rec}}).GRPCServer(nil, s))
		})
	ctx := context.Background()

	// A large request, too big for the shared batch region, so that it
	// goes over gRPC: its frames are read into the server's pool.
	sink, err := (&sinkPlugin{}).GRPCClient(ctx, nil, conn)
	require.NoError(t, err)
	big := testBatch(1, 8000)
	var enc batchEncoder
	require.Greater(t, enc.prepare(big), sharedRegionSize)
	require.NoError(t, sink.(Sink).Write(ctx, big))
	assert.Positive(t, server.large.Load(), "the server reads messages into the pool of its options")

	// A large response: its frames are read into the client's pool.
	runner, err := (&runnerPlugin{}).GRPCClient(ctx, nil, conn)
	require.NoError(t, err)
	before := client.large.Load()
	p, err := runner.(Runner).Start(ctx, &ProcessConfig{Name: "big"})
	require.NoError(t, err)
	fp := fr.proc(t, "big")
	out := readAllAsync(p.Stdout())
	errOut := readAllAsync(p.Stderr())
	payload := bytes.Repeat([]byte("0123456789abcdef"), 32<<10) // 512 KiB
	go func() {
		_, _ = fp.outW.Write(payload)
		fp.exit(nil)
	}()
	got, err := await(t, out, "stdout")
	require.NoError(t, err)
	require.Equal(t, payload, got)
	_, err = await(t, errOut, "stderr")
	require.NoError(t, err)
	require.NoError(t, p.Wait())
	assert.Greater(t, client.large.Load(), before, "the client reads messages into the pool of its dial options")
}

func TestPluginServerTakesLargeMessages(t *testing.T) {
	// grpc's default limit is 4 MiB; a plugin's server must take what the
	// host may send (MaxMessageSize), or a big batch dies as a bare EOF.
	rec := &recordingSink{}
	conn := asPlugin(t, func(s *grpc.Server) {
		require.NoError(t, (&sinkPlugin{server: &sinkServer{impl: rec}}).GRPCServer(nil, s))
	})
	sink, err := (&sinkPlugin{}).GRPCClient(context.Background(), nil, conn)
	require.NoError(t, err)
	line := bytes.Repeat([]byte("x"), 64<<10)
	b := &Batch{Seq: 1}
	for range 100 { // 6.4 MiB
		b.Entries = append(b.Entries, LogEntry{Timestamp: time.Unix(1, 0), Process: "p", Stream: Stdout, Line: line})
	}
	require.NoError(t, sink.(Sink).Write(context.Background(), b))
	require.Len(t, rec.batches, 1)
	requireSameBatch(t, b, rec.batches[0])
}
