package sdk

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowShutdownRunner's Shutdown blocks until released.
type slowShutdownRunner struct {
	*configurableRunner
	release chan struct{}
}

func (r *slowShutdownRunner) Shutdown() error {
	<-r.release
	return r.configurableRunner.Shutdown()
}

// A plugin told to terminate (SIGTERM) calls its runner's Shutdown, once,
// not after the host did, and not for longer than the bound.
func TestReleaseCallsShutdownOnce(t *testing.T) {
	cr := &configurableRunner{fakeRunner: newFakeRunner(t)}
	_, release := componentSet(Info{Kind: KindRunner}, cr, nil)
	release()
	release()
	assert.Equal(t, 1, cr.shutdowns)

	cr = &configurableRunner{fakeRunner: newFakeRunner(t)}
	set, release := componentSet(Info{Kind: KindRunner}, cr, nil)
	_, err := set[pluginBase].(*basePlugin).server.Shutdown(context.Background(), nil)
	require.NoError(t, err)
	release()
	assert.Equal(t, 1, cr.shutdowns, "the host's Shutdown was the one")

	slow := &slowShutdownRunner{configurableRunner: &configurableRunner{fakeRunner: newFakeRunner(t)}, release: make(chan struct{})}
	defer close(slow.release)
	base := &baseServer{component: slow}
	done := make(chan struct{})
	go func() {
		base.releaseComponent(10 * time.Millisecond)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("releaseComponent waited for a Shutdown that does not return")
	}
}
