package wire

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
)

// These tests pin what grpc.go relies on in grpc v1.85.0 (go.mod): a
// gRPC upgrade that changes how buffer pools reach clients and servers
// fails them. The services are the generated ones, with test handlers.

// realConn serves register's services on a unix socket with a gRPC server
// made with serverOpts, and returns a client connection dialled with
// dialOpts. Both end with the test.
func realConn(t *testing.T, serverOpts []grpc.ServerOption, dialOpts []grpc.DialOption, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "plugin.sock"))
	require.NoError(t, err)
	s := grpc.NewServer(serverOpts...)
	register(s)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, dialOpts...)
	conn, err := grpc.NewClient("unix://"+l.Addr().String(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// ackSink answers every Write with its seq and counts the bytes of lines.
type ackSink struct {
	proto.UnimplementedSinkServer
	bytes atomic.Int64
}

func (s *ackSink) Write(_ context.Context, req *proto.WriteRequest) (*proto.WriteResponse, error) {
	if req.Logs != nil {
		s.bytes.Add(int64(len(req.Logs.Data)))
	}
	return &proto.WriteResponse{AckSeq: req.Seq}, nil
}

// chunkRunner's Output sends one chunk of payload.
type chunkRunner struct {
	proto.UnimplementedRunnerServer
	payload []byte
}

func (r *chunkRunner) Output(_ *proto.OutputRequest, stream proto.Runner_OutputServer) error {
	return stream.Send(&proto.OutputChunk{Stream: proto.Stream_STREAM_STDOUT, Data: r.payload})
}

// bigRequest is a Write request with size bytes of lines.
func bigRequest(size int) *proto.WriteRequest {
	return &proto.WriteRequest{Seq: 7, Logs: &proto.LogBatch{
		TsDeltas: []int64{0}, Lengths: []uint32{uint32(size)}, ProcessIndex: []uint32{0},
		Streams: []byte{1}, Processes: []string{"p"}, Data: bytes.Repeat([]byte("x"), size),
	}}
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

func TestBufferPoolReachesClientAndServer(t *testing.T) {
	client, server := &countingPool{bufferPool: newBufferPool()}, &countingPool{bufferPool: newBufferPool()}
	payload := bytes.Repeat([]byte("0123456789abcdef"), 32<<10) // 512 KiB
	sink := &ackSink{}
	conn := realConn(t, serverOptionsWith(server), clientOptionsWith(client), func(s *grpc.Server) {
		proto.RegisterSinkServer(s, sink)
		proto.RegisterRunnerServer(s, &chunkRunner{payload: payload})
	})
	ctx := context.Background()

	// A large request: its frames are read into the server's pool.
	resp, err := proto.NewSinkClient(conn).Write(ctx, bigRequest(2<<20))
	require.NoError(t, err)
	assert.Equal(t, uint64(7), resp.AckSeq)
	assert.Positive(t, server.large.Load(), "the server reads messages into the pool of its options")

	// A large response: its frames are read into the client's pool.
	before := client.large.Load()
	stream, err := proto.NewRunnerClient(conn).Output(ctx, &proto.OutputRequest{Handle: "h"})
	require.NoError(t, err)
	chunk, err := stream.Recv()
	require.NoError(t, err)
	require.Equal(t, payload, chunk.Data)
	assert.Greater(t, client.large.Load(), before, "the client reads messages into the pool of its dial options")
}

func TestServerTakesLargeMessages(t *testing.T) {
	// grpc's default limit is 4 MiB; a plugin's server must take what the
	// host may send (MaxMessageSize), or a big batch dies as a bare EOF.
	sink := &ackSink{}
	conn := realConn(t, ServerOptions(), ClientOptions(), func(s *grpc.Server) { proto.RegisterSinkServer(s, sink) })
	_, err := proto.NewSinkClient(conn).Write(context.Background(), bigRequest(6<<20+400<<10))
	require.NoError(t, err)
	assert.Equal(t, int64(6<<20+400<<10), sink.bytes.Load())

	// Without the server's options, the same request is refused: the test
	// above is not vacuous.
	plain := realConn(t, nil, ClientOptions(), func(s *grpc.Server) { proto.RegisterSinkServer(s, &ackSink{}) })
	_, err = proto.NewSinkClient(plain).Write(context.Background(), bigRequest(6<<20))
	require.Error(t, err)
}

// freshEnv makes TestInstallBufferPool run its body in a new process of
// the test binary, in which nothing has installed the pool yet.
const freshEnv = "PROX_WIRE_TEST_FRESH_PROCESS"

func TestInstallBufferPool(t *testing.T) {
	if os.Getenv(freshEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestInstallBufferPool$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), freshEnv+"=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "the fresh process:\n%s", out)
		require.Contains(t, string(out), "--- PASS: TestInstallBufferPool", "the fresh process ran the test:\n%s", out)
		return
	}
	before := mem.DefaultBufferPool()
	assert.NotEqual(t, BufferPool(), before, "importing wire changes nothing")
	InstallBufferPool()
	assert.Equal(t, BufferPool(), mem.DefaultBufferPool(), "the proto codec uses prox's pool")
	InstallBufferPool() // once per process: a second call changes nothing
	assert.Equal(t, BufferPool(), mem.DefaultBufferPool())
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
