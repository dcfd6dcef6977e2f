package logs

import (
	"context"
	"sync"
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ReplaceSink sends what is queued to the old sink, flushes and closes
// it, and only then opens the new one, which gets the rest.
func TestReplaceSinkDrainsTheOldSinkFirst(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	old, next := &recorder{}, &recorder{}
	// Batches never fill and the interval never fires: what the old sink
	// gets, it gets from the replacement's drain.
	require.NoError(t, m.AttachSink("s", []string{"a"}, old, SinkOptions{FlushInterval: hour}))
	writeLines(m, "a", "l", 0, 100)
	m.WriteEvent(sdk.Event{Process: "a", Type: sdk.EventStarted})
	require.NoError(t, m.ReplaceSink(context.Background(), "s", []string{"a"}, next, SinkOptions{FlushInterval: hour}))
	assert.Equal(t, numbered("l", 0, 100), old.lines())
	assert.Len(t, old.events(), 1)
	calls, _, _, _ := old.snapshot()
	assert.Equal(t, []string{"flush", "close 1"}, calls[len(calls)-2:], "drained, then flushed and closed")
	_, _, _, opens := next.snapshot()
	assert.Equal(t, 1, opens, "the new sink is opened at once")

	writeLines(m, "a", "l", 100, 150)
	closeManager(t, m)
	assert.Equal(t, numbered("l", 100, 150), next.lines())
	assert.Equal(t, numbered("l", 0, 100), old.lines(), "the old sink got nothing after its close")
	st, ok := m.SinkStats("s")
	require.True(t, ok)
	assert.Zero(t, st.Undelivered)
}

// Lines written while the sink is replaced are all delivered, in order,
// to the old sink or the new one.
func TestReplaceSinkLosesNothingWhileWritten(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	old, next := &recorder{}, &recorder{}
	require.NoError(t, m.AttachSink("s", nil, old, SinkOptions{MaxBatchEntries: 7}))
	const n = 20000
	var wg sync.WaitGroup
	wg.Go(func() { writeLines(m, "a", "l", 0, n) })
	require.NoError(t, m.ReplaceSink(context.Background(), "s", nil, next, SinkOptions{MaxBatchEntries: 5, QueueSize: 64}))
	wg.Wait()
	closeManager(t, m)
	assert.Equal(t, numbered("l", 0, n), append(old.lines(), next.lines()...))
}

func TestSetSinkProcesses(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{}
	require.NoError(t, m.AttachSink("s", []string{"a"}, rec, SinkOptions{}))
	writeLines(m, "b", "early", 0, 3)
	m.SetSinkProcesses("s", []string{"a", "b"})
	writeLines(m, "b", "b", 0, 3)
	m.WriteEvent(sdk.Event{Process: "b", Type: sdk.EventStarted})
	m.SetSinkProcesses("s", []string{"b"})
	writeLines(m, "a", "a", 0, 3)
	closeManager(t, m)
	assert.Equal(t, numbered("b", 0, 3), rec.lines())
	assert.Len(t, rec.events(), 1)
}

func TestDetachSinkDrainsIt(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	gone, kept := &recorder{}, &recorder{}
	require.NoError(t, m.AttachSink("gone", nil, gone, SinkOptions{FlushInterval: hour}))
	require.NoError(t, m.AttachSink("kept", nil, kept, SinkOptions{}))
	writeLines(m, "a", "l", 0, 50)
	require.NoError(t, m.DetachSink(context.Background(), "gone"))
	assert.Equal(t, numbered("l", 0, 50), gone.lines())
	calls, _, _, _ := gone.snapshot()
	assert.Equal(t, []string{"flush", "close 1"}, calls[len(calls)-2:])
	assert.Equal(t, []string{"kept"}, m.Sinks())
	writeLines(m, "a", "l", 50, 60)
	closeManager(t, m)
	assert.Equal(t, numbered("l", 0, 50), gone.lines())
	assert.Equal(t, numbered("l", 0, 60), kept.lines())
	require.Error(t, m.DetachSink(context.Background(), "gone"))
	require.Error(t, m.ReplaceSink(context.Background(), "nope", nil, kept, SinkOptions{}))
}
