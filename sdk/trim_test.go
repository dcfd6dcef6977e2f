package sdk

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

func TestIdleTrimReleasesOnlyAfterWork(t *testing.T) {
	var released atomic.Int32
	tr := &idleTrim{quiet: time.Hour, release: func() { released.Add(1) }}
	tr.fire()
	assert.Zero(t, released.Load(), "no work, nothing to give back")
	tr.note()
	tr.note()
	tr.fire()
	assert.EqualValues(t, 1, released.Load(), "work then quiet: memory released")
	tr.fire()
	assert.EqualValues(t, 1, released.Load(), "a quiet period after the release counts afresh")
}

func TestIdleTrimFiresOnceTheWorkStops(t *testing.T) {
	released := make(chan struct{}, 4)
	tr := &idleTrim{quiet: 20 * time.Millisecond, release: func() { released <- struct{}{} }}
	for range 5 {
		tr.note()
	}
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("no release after the work")
	}
}

func TestNilIdleTrimServesWithoutInterceptors(t *testing.T) {
	var tr *idleTrim
	tr.note() // no panic
	assert.Empty(t, tr.serverOptions())
	assert.Nil(t, newIdleTrim(false), "a plugin that does not ask never trims")
}

// TestEveryCallCountsAsWork: the trim notes a call the plugin serves when
// it begins and when it ends, through the server's interceptors.
func TestEveryCallCountsAsWork(t *testing.T) {
	var released atomic.Int32
	tr := &idleTrim{quiet: time.Hour, release: func() { released.Add(1) }}
	lis := bufconn.Listen(1 << 20)
	srv := grpcServer(tr)(nil)
	proto.RegisterBaseServer(srv, &baseServer{info: Info{Kind: KindSink}, component: &recordingSink{}})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })

	_, err = proto.NewBaseClient(conn).Info(context.Background(), &proto.InfoRequest{})
	require.NoError(t, err)
	tr.mu.Lock()
	n := tr.count
	tr.mu.Unlock()
	assert.Equal(t, 2, n, "the call's beginning and end")
	tr.fire()
	assert.EqualValues(t, 1, released.Load())
}
