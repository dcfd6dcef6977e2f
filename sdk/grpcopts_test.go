package sdk

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The buffer pool's own tests are internal/wire's; these check that the
// plugin's server is built with its options.

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
