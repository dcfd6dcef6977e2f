package sdktest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/prox-dev/prox/sdk"
)

// cleanupTimeout bounds the host's Shutdown call when a harness ends.
const cleanupTimeout = 10 * time.Second

// NewRunnerHarness returns r as prox sees a runner plugin: every call goes
// through the SDK's host-side gRPC adapter, over an in-memory gRPC
// connection (go-plugin's TestPluginGRPCConn), to the plugin-side adapter
// that Serve uses, and on to r. Output travels as chunks, exit statuses and
// signals by name, errors as gRPC statuses, exactly as in production.
//
// When the test ends the host's Shutdown is called, as prox does on exit:
// whatever r still runs is killed and, if r is an sdk.Shutdowner, its
// Shutdown runs. Then the connection is closed.
func NewRunnerHarness(t testing.TB, r sdk.Runner) sdk.Runner {
	t.Helper()
	return connect(t, sdk.KindRunner, sdk.TestPlugins(r, nil)).Runner
}

// NewSinkHarness returns s as prox sees a sink plugin, through both gRPC
// adapters like NewRunnerHarness. Batches travel packed as on the wire, and
// the host side checks that each Write acknowledges its batch's Seq.
//
// When the test ends, as prox does on exit, Close is called unless the test
// did (an error is logged, not failed: the test may have broken the sink's
// destination on purpose), then the host's Shutdown (s's Shutdown, if it is
// an sdk.Shutdowner).
func NewSinkHarness(t testing.TB, s sdk.Sink) sdk.Sink {
	t.Helper()
	return closeAtEnd(t, connect(t, sdk.KindSink, sdk.TestPlugins(nil, s)).Sink)
}

// closingSink records whether Close was called.
type closingSink struct {
	sdk.Sink
	mu     sync.Mutex
	closed bool
}

func (c *closingSink) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return c.Sink.Close(ctx)
}

// closeAtEnd returns s, closed when the test ends unless the test closed
// it.
func closeAtEnd(t testing.TB, s sdk.Sink) sdk.Sink {
	c := &closingSink{Sink: s}
	t.Cleanup(func() {
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Logf("sdktest: closing the sink when the test ended: %v", err)
		}
	})
	return c
}

// connect serves ps in memory and dispenses the kind's component on the
// host side.
func connect(t testing.TB, kind sdk.Kind, ps map[string]plugin.Plugin) *sdk.Dispensed {
	t.Helper()
	client, server := plugin.TestPluginGRPCConn(t, false, ps)
	d, err := sdk.Dispense(client, kind)
	if err != nil {
		server.Stop()
		_ = client.Close()
		t.Fatalf("sdktest: dispensing the %s: %v", kind, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := d.Base.Shutdown(ctx); err != nil {
			t.Errorf("sdktest: the %s's Shutdown failed: %v", kind, err)
		}
		// Stop the server before closing the client: the client's Close
		// would otherwise stop it too, concurrently.
		server.Stop()
		_ = client.Close()
	})
	return d
}

// shutdownAtEnd calls the component's Shutdown, if it has one, when the
// test ends: what the harness's host does for a component used directly.
func shutdownAtEnd(t testing.TB, component any) {
	if sd, ok := component.(sdk.Shutdowner); ok {
		t.Cleanup(func() {
			if err := sd.Shutdown(); err != nil {
				t.Errorf("sdktest: Shutdown failed: %v", err)
			}
		})
	}
}
