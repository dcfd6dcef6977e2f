package logs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// alwaysFailing is more failures than any test makes attempts.
const alwaysFailing = 1 << 30

// TestFailingSinkIsVisible makes a sink fail until told otherwise: its
// stats say failing, with the error, since when and its backlog (the
// batch in flight included), and its state changes are events.
func TestFailingSinkIsVisible(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	events := m.SubscribeSinkEvents()
	rec := &recorder{failNext: alwaysFailing}
	require.NoError(t, m.AttachSink("file.small", nil, rec, SinkOptions{
		MaxBatchEntries: 4, FlushInterval: hour, RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond,
	}))
	before := time.Now()
	writeLines(m, "a", "l", 0, 10)
	m.WriteEvent(sdk.Event{Process: "a", Type: "started"})

	ev := <-events
	assert.Equal(t, "file.small", ev.Sink)
	assert.Equal(t, SinkOK, ev.From)
	assert.Equal(t, SinkFailing, ev.To)
	assert.Equal(t, errFake.Error(), ev.Error)
	require.Eventually(t, func() bool {
		st, _ := m.SinkStats("file.small")
		return st.Failures >= 3 && st.Queued == 10 && st.QueuedEvents == 1
	}, waitFor, tick, "the batch is retried while the rest waits")
	st, _ := m.SinkStats("file.small")
	assert.Equal(t, SinkFailing, st.State)
	assert.Equal(t, errFake.Error(), st.LastError)
	assert.False(t, st.Since.Before(before), "since the first failure")
	assert.Zero(t, st.Relaunches)
	assert.Zero(t, st.Sent)
	assert.Equal(t, []SinkStats{st.withoutCounters()}, withoutCounters(m.AllSinkStats()))

	// It recovers: every line arrives once, and the change is an event.
	rec.mu.Lock()
	rec.failNext = 0
	rec.mu.Unlock()
	ev = <-events
	assert.Equal(t, SinkFailing, ev.From)
	assert.Equal(t, SinkOK, ev.To)
	assert.Empty(t, ev.Error)
	closeManager(t, m)
	assert.Equal(t, numbered("l", 0, 10), rec.lines())
	assert.Len(t, rec.events(), 1)
	st, _ = m.SinkStats("file.small")
	assert.Equal(t, SinkClosed, st.State)
	assert.Empty(t, st.LastError)
	_, _, _, opens := rec.snapshot()
	assert.Equal(t, 1, opens)
}

// withoutCounters keeps what does not move while a sink fails steadily.
func (s SinkStats) withoutCounters() SinkStats {
	return SinkStats{Name: s.Name, State: s.State, Since: s.Since, LastError: s.LastError, Queued: s.Queued, QueuedEvents: s.QueuedEvents}
}

func withoutCounters(all []SinkStats) []SinkStats {
	out := make([]SinkStats, len(all))
	for i, s := range all {
		out[i] = s.withoutCounters()
	}
	return out
}

// TestCloseEndsWithinTheDrainTimeout closes the manager with a sink that
// never recovers and no deadline of its own: Close returns once the sink's
// drain timeout has passed, and reports what the sink never got.
func TestCloseEndsWithinTheDrainTimeout(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{failNext: alwaysFailing}
	require.NoError(t, m.AttachSink("file.small", nil, rec, SinkOptions{
		MaxBatchEntries: 4, RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond, DrainTimeout: 100 * time.Millisecond,
	}))
	ok := &recorder{}
	require.NoError(t, m.AttachSink("fine", nil, ok, SinkOptions{}))
	writeLines(m, "a", "l", 0, 10)
	m.WriteEvent(sdk.Event{Process: "a", Type: "started"})

	closed := make(chan error, 1)
	go func() { closed <- m.Close(context.Background()) }()
	var err error
	select {
	case err = <-closed:
	case <-time.After(waitFor):
		t.Fatal("Close did not return: it waits for a sink that never recovers")
	}
	var undelivered *UndeliveredError
	require.ErrorAs(t, err, &undelivered)
	assert.Equal(t, "file.small", undelivered.Sink)
	assert.Equal(t, uint64(10), undelivered.Entries)
	assert.Equal(t, uint64(1), undelivered.Events)
	assert.ErrorIs(t, err, errFake, "the sink's own failure says why")
	assert.Equal(t, "sink file.small: 10 lines and 1 event not delivered: fake sink failure", err.Error(), "one line, only the failing sink")
	st, _ := m.SinkStats("file.small")
	assert.Equal(t, SinkClosed, st.State)
	assert.Equal(t, errFake.Error(), st.LastError)
	assert.Equal(t, uint64(10), st.Undelivered)
	assert.Zero(t, st.Queued, "nothing is left waiting")
	assert.Equal(t, numbered("l", 0, 10), ok.lines(), "the healthy sink got everything")
}

// TestStoppingReleasesTheWritersOfAFailingSink fills the queue of a block
// sink that keeps failing: its writer waits, as block promises, until
// prox stops; then the lines it has no room for are counted as
// undelivered and the writer goes on, so the process's output can be read
// to its end.
func TestStoppingReleasesTheWritersOfAFailingSink(t *testing.T) {
	const queue = 4
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{failNext: alwaysFailing}
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{
		QueueSize: queue, MaxBatchEntries: 1, RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond, DrainTimeout: 50 * time.Millisecond,
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		writeLines(m, "a", "l", 0, 20)
	}()
	r := m.runner(t, "s")
	require.Eventually(t, func() bool {
		st, _ := m.SinkStats("s")
		return st.State == SinkFailing && r.queue.length() == queue && r.queue.waiters() == 1
	}, waitFor, tick, "the queue is full and the writer waits for room")

	m.Stopping()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("the writer still waits for a failing sink while prox stops")
	}
	assert.Len(t, m.Query(Filter{}, 0), 20, "the log buffer has every line")
	err := m.Close(context.Background())
	var undelivered *UndeliveredError
	require.ErrorAs(t, err, &undelivered)
	assert.Equal(t, uint64(20), undelivered.Entries, "queued, in flight and refused: every line")
}

// TestStoppingKeepsWaitingForAHealthySink stops while a healthy block
// sink is behind: its writer still waits for room, and every line
// arrives.
func TestStoppingKeepsWaitingForAHealthySink(t *testing.T) {
	const queue = 4
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{hold: make(chan struct{}), entered: make(chan uint64, 100)}
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{QueueSize: queue, MaxBatchEntries: 1}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		writeLines(m, "a", "l", 0, 20)
	}()
	<-rec.entered
	r := m.runner(t, "s")
	require.Eventually(t, func() bool { return r.queue.length() == queue && r.queue.waiters() == 1 }, waitFor, tick)
	m.Stopping()
	close(rec.hold)
	go func() {
		for range rec.entered {
		}
	}()
	<-done
	closeManager(t, m)
	close(rec.entered)
	assert.Equal(t, numbered("l", 0, 20), rec.lines(), "nothing refused")
	st, _ := m.SinkStats("s")
	assert.Zero(t, st.Undelivered)
}

// TestBatchSeqNeverRepeatsAcrossRuns runs two managers one after the
// other, as two runs of prox: the second run's batch numbers all come
// after the first's, so a sink that remembers the Seq of a batch in
// progress never mistakes a new batch for a resent one.
func TestBatchSeqNeverRepeatsAcrossRuns(t *testing.T) {
	var last uint64
	for run := range 2 {
		m := newTestManager(t, ManagerOptions{})
		rec := &recorder{}
		require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{MaxBatchEntries: 2, FlushInterval: hour}))
		writeLines(m, "a", "l", 0, 6)
		closeManager(t, m)
		_, acked, _, _ := rec.snapshot()
		require.Len(t, acked, 3)
		for i, b := range acked {
			assert.Greater(t, b.Seq, last, "run %d, batch %d", run, i)
			if i > 0 {
				assert.Equal(t, acked[i-1].Seq+1, b.Seq, "one more per batch")
			}
			last = b.Seq
		}
	}
}

// TestCloseIsCutShortByItsContext cancels Close's context while a sink
// fails: Close returns at once, reporting the sink.
func TestCloseIsCutShortByItsContext(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{failNext: alwaysFailing}
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{RetryMin: time.Millisecond, DrainTimeout: time.Hour}))
	writeLines(m, "a", "l", 0, 3)
	require.Eventually(t, func() bool { st, _ := m.SinkStats("s"); return st.State == SinkFailing }, waitFor, tick)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := m.Close(ctx)
	var undelivered *UndeliveredError
	require.ErrorAs(t, err, &undelivered)
	assert.Equal(t, uint64(3), undelivered.Entries)
	assert.True(t, errors.Is(err, errFake))
}
