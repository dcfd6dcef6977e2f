package sdktest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prox-dev/prox/internal/pluginhost"
	"github.com/prox-dev/prox/sdk"
)

// cleanupTimeout bounds the host's Shutdown call when a harness ends.
const cleanupTimeout = 10 * time.Second

// NewRunnerHarness returns r as prox sees a runner plugin: every call goes
// through prox's host-side gRPC adapter, over a real connection (a unix
// socket), to r served in this process exactly as Serve serves it in a
// plugin binary (through ServeDebug), and on to r. Output travels as chunks, exit statuses and
// signals by name, errors as gRPC statuses, exactly as in production.
//
// When the test ends the host's Shutdown is called, as prox does on exit:
// whatever r still runs is killed and, if r is an sdk.Shutdowner, its
// Shutdown runs. Then the connection is closed.
func NewRunnerHarness(t testing.TB, r sdk.Runner) sdk.Runner {
	t.Helper()
	return connect(t, sdk.KindRunner, &sdk.ServeConfig{Runners: map[string]sdk.Runner{"test": r}}).Runner
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
	return closeAtEnd(t, connect(t, sdk.KindSink, &sdk.ServeConfig{Sinks: map[string]sdk.Sink{"test": s}}).Sink)
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

// connect serves the one component of c in this process (as plugin
// "test", version 0.0.0) and dispenses it on the host side.
func connect(t testing.TB, kind sdk.Kind, c *sdk.ServeConfig) *pluginhost.Dispensed {
	t.Helper()
	c.Name, c.Version = "test", "0.0.0"
	d, stop, err := pluginhost.Serve(c, "")
	if err != nil {
		t.Fatalf("sdktest: serving the %s: %v", kind, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := d.Base.Shutdown(ctx); err != nil {
			t.Errorf("sdktest: the %s's Shutdown failed: %v", kind, err)
		}
		if err := stop(); err != nil {
			t.Errorf("sdktest: the %s stopped serving with an error: %v", kind, err)
		}
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
