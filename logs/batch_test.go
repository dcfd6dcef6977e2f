package logs

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batchOf returns the entries "<prefix>from" ... "<prefix>(to-1)" of proc.
func batchOf(proc, prefix string, from, to int) []LogEntry {
	var out []LogEntry
	for i := from; i < to; i++ {
		out = append(out, entry(proc, sdk.Stdout, time.Unix(int64(i), 0), fmt.Sprint(prefix, i)))
	}
	return out
}

func TestWriteBatchIsWriteForEachEntry(t *testing.T) {
	write := func(batched bool) (query []string, sub []string, sink []string) {
		m := newTestManager(t, ManagerOptions{BufferSize: 50})
		rec := &recorder{}
		require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{MaxBatchEntries: 7}))
		_, ch := m.Subscribe(Filter{Contains: "7"})
		entries := append(batchOf("a", "a", 0, 60), batchOf("b", "b", 0, 30)...)
		if batched {
			for len(entries) > 0 { // uneven batches, one mixing a and b
				n := min(len(entries), 13)
				m.WriteBatch(entries[:n])
				entries = entries[n:]
			}
		} else {
			for _, e := range entries {
				m.Write(e)
			}
		}
		for _, e := range m.Query(Filter{}, 0) {
			query = append(query, e.Process+":"+string(e.Line))
		}
		closeManager(t, m)
		for e := range ch {
			sub = append(sub, string(e.Line))
		}
		return query, sub, rec.lines()
	}
	q1, s1, k1 := write(false)
	q2, s2, k2 := write(true)
	assert.Equal(t, q1, q2, "the ring buffers keep the same lines")
	assert.Equal(t, s1, s2, "subscribers get the same lines")
	assert.Equal(t, k1, k2, "sinks get the same lines")
	assert.Len(t, q2, 80, "50 of a, 30 of b")
	assert.Len(t, k2, 90)
}

func TestWriteBatchCopiesTheLines(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	line := []byte("original")
	batch := []LogEntry{{Timestamp: time.Unix(1, 0), Process: "a", Stream: sdk.Stdout, Line: line}}
	m.WriteBatch(batch)
	copy(line, "mangled!")
	got := m.Query(Filter{}, 0)
	require.Len(t, got, 1)
	assert.Equal(t, "original", string(got[0].Line))
	assert.Equal(t, "original", string(batch[0].Line), "the entry now holds the stored copy")
}

func TestWriteBatchWaitsForRoomWithBlockPolicy(t *testing.T) {
	const queue = 4
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{hold: make(chan struct{}), entered: make(chan uint64, 100)}
	require.NoError(t, m.AttachSink("slow", nil, rec, SinkOptions{QueueSize: queue, MaxBatchEntries: 2}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.WriteBatch(batchOf("a", "a", 0, 20)) // five times the queue
	}()
	require.Equal(t, uint64(1), <-rec.entered, "the sink is held in Write of batch 1")
	r := m.runner(t, "slow")
	require.Eventually(t, func() bool {
		_, _, queued := r.queue.counts()
		return queued == queue && r.queue.waiters() == 1
	}, waitFor, tick, "the queue is full and WriteBatch waits for room")
	select {
	case <-done:
		t.Fatal("WriteBatch returned although its sink's queue is full")
	default:
	}
	close(rec.hold)
	go func() {
		for range rec.entered {
		}
	}()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("WriteBatch stayed blocked after the sink caught up")
	}
	closeManager(t, m)
	close(rec.entered)
	assert.Equal(t, numbered("a", 0, 20), rec.lines(), "nothing lost, in order")
}

func TestWriteBatchDropsOldestWithDropPolicy(t *testing.T) {
	const queue = 4
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{hold: make(chan struct{}), entered: make(chan uint64, 100)}
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{QueueSize: queue, MaxBatchEntries: 1, Overflow: OverflowDropOldest}))
	m.WriteBatch(batchOf("a", "l", 0, 1))
	require.Equal(t, uint64(1), <-rec.entered, "line 0 is held in Write")
	m.WriteBatch(batchOf("a", "l", 1, 11)) // never waits: the test would hang otherwise
	st, _ := m.SinkStats("s")
	assert.Equal(t, uint64(6), st.Dropped, "lines 1-6 made room for 7-10")
	close(rec.hold)
	go func() {
		for range rec.entered {
		}
	}()
	closeManager(t, m)
	close(rec.entered)
	assert.Equal(t, []string{"l0", "l7", "l8", "l9", "l10"}, rec.lines())
}

func TestWriteBatchCountsSubscriberDrops(t *testing.T) {
	m := newTestManager(t, ManagerOptions{SubscriberBuffer: 3})
	id, ch := m.Subscribe(Filter{})
	m.WriteBatch(batchOf("a", "l", 0, 10))
	assert.Equal(t, uint64(7), m.Dropped(id))
	assert.Len(t, ch, 3)
}

func TestFramerEmitBatchPerRead(t *testing.T) {
	var in bytes.Buffer
	var want []string
	for i := range 5000 {
		l := fmt.Sprintf("line %d %s", i, strings.Repeat("y", i%90))
		want = append(want, l)
		in.WriteString(l + "\n")
	}
	in.WriteString("partial")
	want = append(want, "partial")
	reads := &sizeRecorder{r: &in}
	var got []string
	calls := 0
	f := &Framer{Process: "p", Stream: sdk.Stderr, EmitBatch: func(batch []LogEntry) {
		calls++
		for _, e := range batch {
			assert.Equal(t, "p", e.Process)
			assert.Equal(t, sdk.Stderr, e.Stream)
			got = append(got, string(e.Line))
		}
	}}
	require.NoError(t, f.Run(reads))
	assert.Equal(t, want, got)
	assert.LessOrEqual(t, calls, len(reads.sizes), "at most one batch per read")
	assert.Greater(t, len(got)/calls, 10, "many lines per batch")
}
