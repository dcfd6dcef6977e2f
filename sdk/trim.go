package sdk

import (
	"context"
	"sync"
	"time"

	"github.com/prox-dev/prox/internal/memtrim"
	"google.golang.org/grpc"
)

// A plugin's work comes in bursts: its launch, prox's start of every
// process (a runner), a crash and its restart, a flood of lines, a health
// check. Each touches code and builds garbage that a Go process keeps
// resident long after: Go's scavenger keeps the freed heap mapped, and the
// binary's pages stay mapped once touched. idleTrim gives them back
// (memtrim.Release) once the plugin has served no call for a quiet second
// after some work, when the plugin asks for it (ServeConfig.ReleaseMemory:
// it acts on the whole process). Every call the plugin serves counts as
// work, when it begins and when it ends.

// trimQuiet is how long a plugin must have served no call before it gives
// its idle memory back.
const trimQuiet = time.Second

// idleTrim calls release once work has been followed by quiet.
type idleTrim struct {
	quiet   time.Duration
	release func()

	mu    sync.Mutex
	count int // calls begun or ended since the last fire
	timer *time.Timer
}

// newIdleTrim returns the trim of a plugin that asks for it, nil (never
// trims) otherwise.
func newIdleTrim(releaseMemory bool) *idleTrim {
	if !releaseMemory {
		return nil
	}
	return &idleTrim{quiet: trimQuiet, release: memtrim.Release}
}

// note records work and restarts the quiet period; on a nil idleTrim it
// does nothing.
func (t *idleTrim) note() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.count++
	if t.timer == nil {
		t.timer = time.AfterFunc(t.quiet, t.fire)
	} else {
		t.timer.Reset(t.quiet)
	}
}

// fire ends the quiet period: release, when there was work since the last
// one.
func (t *idleTrim) fire() {
	t.mu.Lock()
	n := t.count
	t.count = 0
	t.mu.Unlock()
	if n > 0 {
		t.release()
	}
}

// serverOptions returns the interceptors that note every call the server
// serves, at its beginning and its end; none on a nil idleTrim.
func (t *idleTrim) serverOptions() []grpc.ServerOption {
	if t == nil {
		return nil
	}
	unary := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		t.note()
		defer t.note()
		return handler(ctx, req)
	}
	stream := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		t.note()
		defer t.note()
		return handler(srv, ss)
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream)}
}
