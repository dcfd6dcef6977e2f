package sdk

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBurstTrimReleasesAfterABigEnoughBurst(t *testing.T) {
	var released atomic.Int32
	tr := &burstTrim{quiet: time.Hour, min: 3, release: func() { released.Add(1) }}
	tr.note()
	tr.note()
	tr.fire()
	assert.Zero(t, released.Load(), "two starts are no burst")
	for range 3 {
		tr.note()
	}
	tr.fire()
	assert.EqualValues(t, 1, released.Load(), "three starts then quiet: memory released")
	tr.fire()
	assert.EqualValues(t, 1, released.Load(), "a quiet period after the release counts afresh")
}

func TestBurstTrimFiresOnceTheStartsStop(t *testing.T) {
	released := make(chan struct{}, 4)
	tr := &burstTrim{quiet: 20 * time.Millisecond, min: 2, release: func() { released <- struct{}{} }}
	for range 5 {
		tr.note()
	}
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("no release after the burst")
	}
}

func TestRunnerServerCountsStarts(t *testing.T) {
	rs := newRunnerServer(newFakeRunner(t))
	var released atomic.Int32
	rs.trim = &burstTrim{quiet: time.Hour, min: 2, release: func() { released.Add(1) }}
	for _, name := range []string{"a", "b"} {
		resp, err := rs.Start(context.Background(), &proto.StartRequest{Name: name})
		require.NoError(t, err)
		require.NotEmpty(t, resp.Handle)
	}
	rs.trim.fire()
	assert.EqualValues(t, 1, released.Load(), "two starts make a burst of two")
	rs.killAll()
}
