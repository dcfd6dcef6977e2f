package logs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hour is a flush interval long enough never to fire during a test.
const hour = time.Hour

// writeLines writes lines "<prefix>0" ... for process proc.
func writeLines(m *Manager, proc, prefix string, from, to int) {
	for i := from; i < to; i++ {
		writeLine(m, entry(proc, sdk.Stdout, time.Unix(int64(i), 0), fmt.Sprint(prefix, i)))
	}
}

// numbered returns "<prefix>from" ... "<prefix>(to-1)".
func numbered(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprint(prefix, i))
	}
	return out
}

func TestSinkBatchesByEntryCount(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{}
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{MaxBatchEntries: 10, FlushInterval: hour}))
	writeLines(m, "a", "l", 0, 25)
	require.Eventually(t, func() bool { return len(rec.batchSizes()) == 2 }, waitFor, tick)
	assert.Equal(t, []int{10, 10}, rec.batchSizes())
	st, _ := m.SinkStats("s")
	assert.Equal(t, 5, st.Queued, "the rest waits for a full batch or the interval")
	closeManager(t, m)
	assert.Equal(t, []int{10, 10, 5}, rec.batchSizes())
	assert.Equal(t, numbered("l", 0, 25), rec.lines())
}

func TestSinkBatchesByBytes(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{}
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{MaxBatchBytes: 100, FlushInterval: hour}))
	line := strings.Repeat("x", 29)
	for i := range 12 {
		writeLine(m, entry("a", sdk.Stdout, time.Unix(int64(i), 0), fmt.Sprintf("%s%d", line, i%10)))
	}
	// 30-byte lines: a batch holds at most 3 (90 bytes); 4 queued lines
	// (120 bytes) make one due.
	require.Eventually(t, func() bool { return len(rec.batchSizes()) == 3 }, waitFor, tick)
	assert.Equal(t, []int{3, 3, 3}, rec.batchSizes())
	closeManager(t, m)
	assert.Equal(t, []int{3, 3, 3, 3}, rec.batchSizes())

	// A line longer than MaxBatchBytes still travels, alone.
	m2 := newTestManager(t, ManagerOptions{})
	rec2 := &recorder{}
	require.NoError(t, m2.AttachSink("s", nil, rec2, SinkOptions{MaxBatchBytes: 10, FlushInterval: hour}))
	writeLine(m2, entry("a", sdk.Stdout, time.Unix(1, 0), strings.Repeat("y", 50)))
	require.Eventually(t, func() bool { return len(rec2.batchSizes()) == 1 }, waitFor, tick)
	assert.Equal(t, []string{strings.Repeat("y", 50)}, rec2.lines())
}

func TestSinkFlushesAfterTheInterval(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{}
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{})) // defaults: 4096 entries, 256 KiB, 5 ms
	writeLine(m, entry("a", sdk.Stdout, time.Unix(1, 0), "lonely"))
	// No further write: only the interval can send it.
	require.Eventually(t, func() bool { return len(rec.lines()) == 1 }, waitFor, tick)
	assert.Equal(t, []string{"lonely"}, rec.lines())
	_, acked, _, _ := rec.snapshot()
	first := acked[0].Seq

	writeLine(m, entry("a", sdk.Stdout, time.Unix(2, 0), "later"))
	require.Eventually(t, func() bool { return len(rec.lines()) == 2 }, waitFor, tick)
	_, acked, _, _ = rec.snapshot()
	assert.Equal(t, first+1, acked[1].Seq, "one more per batch")
}

func TestSinkEntriesKeepTheirFields(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{}
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{}))
	in := entry("web", sdk.Stderr, time.Unix(123, 456), "\xff raw bytes")
	writeLine(m, in)
	closeManager(t, m)
	_, acked, _, _ := rec.snapshot()
	require.Len(t, acked, 1)
	assert.Equal(t, []LogEntry{in}, acked[0].Entries)
}

func TestSinkOnlyGetsItsProcesses(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	ab, all := &recorder{}, &recorder{}
	require.NoError(t, m.AttachSink("ab", []string{"a", "b"}, ab, SinkOptions{}))
	require.NoError(t, m.AttachSink("all", nil, all, SinkOptions{}))
	for _, p := range []string{"a", "b", "c"} {
		writeLine(m, entry(p, sdk.Stdout, time.Unix(1, 0), p))
	}
	closeManager(t, m)
	assert.ElementsMatch(t, []string{"a", "b"}, ab.lines())
	assert.ElementsMatch(t, []string{"a", "b", "c"}, all.lines())
}

// TestBlockPolicyStallsOnlyItsProcesses holds a block sink's Write: the
// writer of its process stalls once the queue is full, while the writer of
// another process completes.
func TestBlockPolicyStallsOnlyItsProcesses(t *testing.T) {
	const queue = 4
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{hold: make(chan struct{}), entered: make(chan uint64, 100)}
	require.NoError(t, m.AttachSink("slow", []string{"a"}, rec, SinkOptions{QueueSize: queue, MaxBatchEntries: 1}))
	other := &recorder{}
	require.NoError(t, m.AttachSink("fast", []string{"b"}, other, SinkOptions{}))

	const lines = queue + 10
	aDone := make(chan struct{})
	go func() {
		defer close(aDone)
		writeLines(m, "a", "a", 0, lines)
	}()
	require.NotZero(t, <-rec.entered, "the sink is now held in Write of batch 1")
	r := m.runner(t, "slow")
	require.Eventually(t, func() bool {
		return r.queue.length() == queue && r.queue.waiters() == 1
	}, waitFor, tick, "the queue is full and the writer of a waits for room")

	bDone := make(chan struct{})
	go func() {
		defer close(bDone)
		writeLines(m, "b", "b", 0, 1000)
	}()
	select {
	case <-bDone:
	case <-time.After(waitFor):
		t.Fatal("the writer of b was stalled by a sink it does not feed")
	}
	select {
	case <-aDone:
		t.Fatal("the writer of a finished although its sink's queue is full")
	default:
	}
	st, _ := m.SinkStats("slow")
	assert.Equal(t, queue+1, st.Queued, "the full queue and the batch held in Write")
	assert.Len(t, m.Query(Filter{Processes: []string{"b"}}, 0), 1000)

	// Release the sink: the writer of a completes, nothing was lost.
	close(rec.hold)
	go func() {
		for range rec.entered {
		}
	}()
	select {
	case <-aDone:
	case <-time.After(waitFor):
		t.Fatal("the writer of a stayed blocked after the sink caught up")
	}
	closeManager(t, m)
	close(rec.entered)
	assert.Equal(t, numbered("a", 0, lines), rec.lines())
	assert.Equal(t, numbered("b", 0, 1000), other.lines())
	st, _ = m.SinkStats("slow")
	assert.Zero(t, st.Dropped)
	assert.Equal(t, uint64(lines), st.Sent)
}

func TestDropOldestPolicyDropsAndCounts(t *testing.T) {
	const queue = 4
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{hold: make(chan struct{}), entered: make(chan uint64, 100)}
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{QueueSize: queue, MaxBatchEntries: 1, Overflow: OverflowDropOldest}))

	writeLines(m, "a", "l", 0, 1)
	require.NotZero(t, <-rec.entered, "line 0 is held in Write")
	writeLines(m, "a", "l", 1, 11) // never waits: the test would hang otherwise
	st, _ := m.SinkStats("s")
	assert.Equal(t, uint64(6), st.Dropped, "lines 1-6 made room for 7-10")
	assert.Equal(t, queue+1, st.Queued, "the full queue and the batch held in Write")

	close(rec.hold)
	go func() {
		for range rec.entered {
		}
	}()
	closeManager(t, m)
	close(rec.entered)
	assert.Equal(t, []string{"l0", "l7", "l8", "l9", "l10"}, rec.lines())
	st, _ = m.SinkStats("s")
	assert.Equal(t, uint64(5), st.Sent)
	assert.Equal(t, uint64(6), st.Dropped)
}

// TestAnsweredWriteErrorIsRetriedWithoutReopening makes the sink answer
// its first writes with an error, as a file sink on a full disk does: the
// batch is retried with growing waits, with the same Seq, to the same
// sink: it is never reopened (its plugin is alive), and nothing is lost
// or acknowledged twice.
func TestAnsweredWriteErrorIsRetriedWithoutReopening(t *testing.T) {
	const failures = 3
	const retryMin, retryMax = 5 * time.Millisecond, 12 * time.Millisecond
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{failNext: failures}
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{
		MaxBatchEntries: 10, FlushInterval: hour, RetryMin: retryMin, RetryMax: retryMax,
	}))
	writeLines(m, "a", "l", 0, 50)
	closeManager(t, m)

	calls, acked, attempts, opens := rec.snapshot()
	require.NotEmpty(t, attempts)
	s := attempts[0]
	assert.Equal(t, []uint64{s, s, s, s, s + 1, s + 2, s + 3, s + 4}, attempts, "the first batch resent with its Seq until acknowledged")
	assert.Equal(t, 1, opens, "Open called once: the plugin answered, so it is alive")
	write := func(seq uint64) string { return fmt.Sprint("write ", seq) }
	assert.Equal(t, []string{
		"open", write(s), write(s), write(s), write(s), write(s + 1), write(s + 2), write(s + 3), write(s + 4), "flush", "close 1",
	}, calls, "the same sink throughout, closed once at the end")
	var seqs []uint64
	for _, b := range acked {
		seqs = append(seqs, b.Seq)
	}
	assert.Equal(t, []uint64{s, s + 1, s + 2, s + 3, s + 4}, seqs)
	assert.Equal(t, numbered("l", 0, 50), rec.lines(), "nothing lost, nothing twice, nothing reordered")

	// The waits between attempts: RetryMin, doubling, capped at RetryMax.
	rec.mu.Lock()
	times := append([]time.Time(nil), rec.times...)
	rec.mu.Unlock()
	for i, least := range []time.Duration{retryMin, 2 * retryMin, retryMax} {
		assert.GreaterOrEqual(t, times[i+1].Sub(times[i]), least, "wait before retry %d", i+1)
	}
	st, _ := m.SinkStats("s")
	assert.EqualValues(t, 5, st.Latency.Count, "each batch timed once")
	assert.GreaterOrEqual(t, st.Latency.Sum, (retryMin + 2*retryMin + retryMax).Seconds(), "retries included")
	st.Latency = Latency{}
	assert.Equal(t, SinkStats{Name: "s", State: SinkClosed, Since: st.Since, Sent: 50, Batches: 5, Failures: failures}, st)
}

// TestDeadPluginIsRelaunchedAndTheBatchResent makes the sink's plugin
// unreachable for its first writes: each time the sink is closed and
// opened again (its plugin relaunched), and the batch resent with the
// same Seq; nothing is lost.
func TestDeadPluginIsRelaunchedAndTheBatchResent(t *testing.T) {
	const failures = 2
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{failNext: failures, failWith: fmt.Errorf("write: %w: connection refused", sdk.ErrPluginUnavailable)}
	events := m.SubscribeSinkEvents()
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{
		MaxBatchEntries: 10, FlushInterval: hour, RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond,
	}))
	writeLines(m, "a", "l", 0, 20)
	closeManager(t, m)

	calls, _, attempts, opens := rec.snapshot()
	require.NotEmpty(t, attempts)
	s := attempts[0]
	assert.Equal(t, []uint64{s, s, s, s + 1}, attempts, "the batch keeps its Seq across relaunches")
	assert.Equal(t, 1+failures, opens, "Open called again after each death")
	write := func(seq uint64) string { return fmt.Sprint("write ", seq) }
	assert.Equal(t, []string{
		"open", write(s), "close 1", "open", write(s), "close 2", "open", write(s), write(s + 1), "flush", "close 3",
	}, calls, "a dead sink is closed before it is reopened")
	assert.Equal(t, numbered("l", 0, 20), rec.lines())
	st, _ := m.SinkStats("s")
	assert.Equal(t, uint64(failures), st.Relaunches)
	assert.Equal(t, uint64(failures), st.Failures)

	var changes []string
	for ev := range events {
		changes = append(changes, string(ev.From)+" -> "+string(ev.To))
	}
	assert.Equal(t, []string{"ok -> relaunching", "relaunching -> ok", "ok -> closed"}, changes)
}

// flakyTarget fails its first Open calls.
type flakyTarget struct {
	*recorder
	failOpens int
}

func (f *flakyTarget) Open(ctx context.Context) (sdk.Sink, error) {
	f.mu.Lock()
	fail := f.failOpens > 0
	if fail {
		f.failOpens--
		f.calls = append(f.calls, "open failed")
	}
	f.mu.Unlock()
	if fail {
		return nil, errFake
	}
	return f.recorder.Open(ctx)
}

func TestSinkThatCannotOpenYetIsRetried(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	target := &flakyTarget{recorder: &recorder{}, failOpens: 2}
	require.NoError(t, m.AttachSink("s", nil, target, SinkOptions{RetryMin: time.Millisecond}))
	writeLines(m, "a", "l", 0, 3)
	require.Eventually(t, func() bool { return len(target.lines()) == 3 }, waitFor, tick)
	closeManager(t, m)
	calls, _, attempts, _ := target.snapshot()
	require.Len(t, attempts, 1)
	assert.Equal(t, []string{"open failed", "open failed", "open", fmt.Sprint("write ", attempts[0]), "flush", "close 1"}, calls)
	st, _ := m.SinkStats("s")
	assert.Equal(t, uint64(2), st.Failures)
	assert.Zero(t, st.Relaunches, "the sink had never been opened: no relaunch")
}

func TestCloseDrainsThenFlushesThenCloses(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	recs := []*recorder{{}, {}, {}}
	for i, rec := range recs {
		// Batches never fill and the interval never fires: only Close sends.
		require.NoError(t, m.AttachSink(fmt.Sprint("s", i), nil, rec, SinkOptions{FlushInterval: hour}))
	}
	writeLines(m, "a", "a", 0, 500)
	writeLines(m, "b", "b", 0, 500)
	m.WriteEvent(sdk.Event{Process: "a", Type: "exited", ExitCode: 3})
	closeManager(t, m)

	for i, rec := range recs {
		lines := rec.lines()
		assert.Len(t, lines, 1000, "sink %d", i)
		assert.Equal(t, numbered("a", 0, 500), filterPrefix(lines, "a"))
		assert.Equal(t, numbered("b", 0, 500), filterPrefix(lines, "b"))
		assert.Len(t, rec.events(), 1)
		calls, _, _, _ := rec.snapshot()
		require.GreaterOrEqual(t, len(calls), 4)
		assert.Equal(t, []string{"flush", "close 1"}, calls[len(calls)-2:], "sink %d: Flush then Close, last", i)
		for _, c := range calls[:len(calls)-2] {
			assert.True(t, c == "open" || strings.HasPrefix(c, "write "), "sink %d: %s before Flush", i, c)
		}
	}
	// Nothing reaches the sinks after Close.
	writeLines(m, "a", "late", 0, 1)
	assert.Len(t, recs[0].lines(), 1000)
	require.Error(t, m.AttachSink("new", nil, &recorder{}, SinkOptions{}))
	require.NoError(t, m.Close(context.Background()), "a second Close does nothing")
}

func filterPrefix(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

func TestCloseGivesUpAtItsDeadline(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	require.NoError(t, m.AttachSink("dead", nil, deadTarget{}, SinkOptions{RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond}))
	writeLines(m, "a", "l", 0, 10)
	m.WriteEvent(sdk.Event{Process: "a", Type: "started"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := m.Close(ctx)
	require.Error(t, err)
	assert.Equal(t, "sink dead: 10 lines and 1 event not delivered: open: fake sink failure", err.Error())
	st, _ := m.SinkStats("dead")
	assert.Equal(t, uint64(10), st.Undelivered, "every undelivered entry is counted")
	assert.Equal(t, uint64(1), st.UndeliveredEvents)
	assert.Zero(t, st.Dropped, "nothing was dropped by an overflow policy")
	assert.Zero(t, st.Sent)
	assert.NotZero(t, st.Failures)
}

func TestEventsReachTheSinksOfTheirProcess(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	a, b, all := &recorder{}, &recorder{}, &recorder{}
	require.NoError(t, m.AttachSink("a", []string{"a"}, a, SinkOptions{}))
	require.NoError(t, m.AttachSink("b", []string{"b"}, b, SinkOptions{}))
	require.NoError(t, m.AttachSink("all", nil, all, SinkOptions{}))
	started := sdk.Event{Timestamp: time.Unix(1, 0), Process: "a", Type: "started", State: "running", PreviousState: "starting"}
	crashed := sdk.Event{Timestamp: time.Unix(2, 0), Process: "a", Type: "crashed", ExitCode: 1, Signal: "SIGSEGV", Message: "boom", Restarts: 2}
	m.WriteEvent(started)
	m.WriteEvent(crashed)
	require.Eventually(t, func() bool { return len(a.events()) == 2 }, waitFor, tick, "events are sent without any log line")
	closeManager(t, m)
	assert.Equal(t, []sdk.Event{started, crashed}, a.events())
	assert.Equal(t, []sdk.Event{started, crashed}, all.events())
	assert.Empty(t, b.events())
	st, _ := m.SinkStats("a")
	assert.Equal(t, uint64(2), st.SentEvents)
}

func TestEventsAreNotDroppedByABlockedBlockSink(t *testing.T) {
	const queue = 2
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{hold: make(chan struct{}), entered: make(chan uint64, 100)}
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{QueueSize: queue, MaxBatchEntries: 1}))
	writeLines(m, "a", "l", 0, 1+queue) // one held in Write, the queue full
	require.NotZero(t, <-rec.entered)
	for i := range 3 * queue {
		m.WriteEvent(sdk.Event{Process: "a", Type: "restarting", Restarts: i}) // never waits
	}
	close(rec.hold)
	go func() {
		for range rec.entered {
		}
	}()
	closeManager(t, m)
	close(rec.entered)
	assert.Len(t, rec.events(), 3*queue)
	assert.Equal(t, numbered("l", 0, 1+queue), rec.lines())
	st, _ := m.SinkStats("s")
	assert.Zero(t, st.DroppedEvents)
}

func TestAttachSinkChecksItsArguments(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	require.NoError(t, m.AttachSink("s", nil, &recorder{}, SinkOptions{}))
	assert.ErrorContains(t, m.AttachSink("s", nil, &recorder{}, SinkOptions{}), "already attached")
	assert.Error(t, m.AttachSink("", nil, &recorder{}, SinkOptions{}))
	assert.Error(t, m.AttachSink("x", nil, nil, SinkOptions{}))
	assert.ErrorContains(t, m.AttachSink("x", nil, &recorder{}, SinkOptions{Overflow: "drop_newest"}), `"drop_newest"`)
	assert.Error(t, m.AttachSink("x", nil, &recorder{}, SinkOptions{QueueSize: -1}))
	assert.Equal(t, []string{"s"}, m.Sinks())
	_, ok := m.SinkStats("x")
	assert.False(t, ok)

	p, err := ParseOverflowPolicy("")
	require.NoError(t, err)
	assert.Equal(t, OverflowBlock, p)
	p, err = ParseOverflowPolicy("drop_oldest")
	require.NoError(t, err)
	assert.Equal(t, OverflowDropOldest, p)
}

func TestSinkAttachedLaterGetsLaterLines(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	writeLines(m, "a", "early", 0, 3)
	rec := &recorder{}
	require.NoError(t, m.AttachSink("s", []string{"a", "b"}, rec, SinkOptions{}))
	writeLines(m, "a", "late", 0, 2)
	writeLines(m, "b", "new", 0, 2) // a process first seen after the attach
	closeManager(t, m)
	assert.ElementsMatch(t, []string{"late0", "late1", "new0", "new1"}, rec.lines())
}

// TestHeldBatchIsNotOverwritten holds a batch in the sink's Write while
// many more lines arrive (the ring buffer wraps over and over): the batch
// the sink holds keeps its contents.
func TestHeldBatchIsNotOverwritten(t *testing.T) {
	m := newTestManager(t, ManagerOptions{BufferSize: 2})
	rec := &recorder{hold: make(chan struct{}), entered: make(chan uint64, 100)}
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{MaxBatchEntries: 50, QueueSize: 5000}))
	writeLines(m, "a", "l", 0, 50)
	require.NotZero(t, <-rec.entered, "batch 1 (lines 0-49) is held")
	writeLines(m, "a", "l", 50, 3000)
	close(rec.hold) // the fake copies the batch only now
	go func() {
		for range rec.entered {
		}
	}()
	closeManager(t, m)
	close(rec.entered)
	assert.Equal(t, numbered("l", 0, 3000), rec.lines())
}
