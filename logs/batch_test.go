package logs

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
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

func TestWriteOfABatchIsAWriteOfEachEntry(t *testing.T) {
	write := func(batched bool) (query []string, sub []string, sink []string) {
		m := newTestManager(t, ManagerOptions{BufferSize: 50})
		rec := &recorder{}
		require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{MaxBatchEntries: 7}))
		_, ch := m.Subscribe(Filter{Contains: "7"})
		entries := append(batchOf("a", "a", 0, 60), batchOf("b", "b", 0, 30)...)
		if batched {
			for len(entries) > 0 { // uneven batches, one mixing a and b
				n := min(len(entries), 13)
				m.WriteStableBatch(entries[:n], nil)
				entries = entries[n:]
			}
		} else {
			for _, e := range entries {
				writeLine(m, e)
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

func TestWriteWaitsForRoomWithBlockPolicy(t *testing.T) {
	const queue = 4
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{hold: make(chan struct{}), entered: make(chan uint64, 100)}
	require.NoError(t, m.AttachSink("slow", nil, rec, SinkOptions{QueueSize: queue, MaxBatchEntries: 2}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.WriteStableBatch(batchOf("a", "a", 0, 20), nil) // five times the queue
	}()
	require.NotZero(t, <-rec.entered, "the sink is held in Write of batch 1")
	r := m.runner(t, "slow")
	require.Eventually(t, func() bool {
		return r.queue.length() == queue && r.queue.waiters() == 1
	}, waitFor, tick, "the queue is full and WriteStableBatch waits for room")
	select {
	case <-done:
		t.Fatal("WriteStableBatch returned although its sink's queue is full")
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
		t.Fatal("WriteStableBatch stayed blocked after the sink caught up")
	}
	closeManager(t, m)
	close(rec.entered)
	assert.Equal(t, numbered("a", 0, 20), rec.lines(), "nothing lost, in order")
}

func TestWriteDropsOldestWithDropPolicy(t *testing.T) {
	const queue = 4
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{hold: make(chan struct{}), entered: make(chan uint64, 100)}
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{QueueSize: queue, MaxBatchEntries: 1, Overflow: OverflowDropOldest}))
	m.WriteStableBatch(batchOf("a", "l", 0, 1), nil)
	require.NotZero(t, <-rec.entered, "line 0 is held in Write")
	m.WriteStableBatch(batchOf("a", "l", 1, 11), nil) // never waits: the test would hang otherwise
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

func TestWriteCountsSubscriberDrops(t *testing.T) {
	m := newTestManager(t, ManagerOptions{SubscriberBuffer: 3})
	id, ch := m.Subscribe(Filter{})
	m.WriteStableBatch(batchOf("a", "l", 0, 10), nil)
	assert.Equal(t, uint64(7), m.Dropped(id))
	assert.Len(t, ch, 3)
}

func TestFramerEmitsOneBatchPerRead(t *testing.T) {
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
	f := &Framer{Process: "p", Stream: sdk.Stderr, Emit: func(batch []LogEntry, _ *Block) {
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

// chunkReader returns its input in reads of the given sizes, in turn.
type chunkReader struct {
	data  []byte
	sizes []int
	i     int
}

func (c *chunkReader) Read(b []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(c.sizes[c.i%len(c.sizes)], len(b), len(c.data))
	c.i++
	copy(b, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func TestFramerNeverOverwritesEmittedLines(t *testing.T) {
	var in bytes.Buffer
	var want []string
	for i := range 20000 {
		l := fmt.Sprintf("line %d %s", i, strings.Repeat("k", i%150))
		want = append(want, l)
		in.WriteString(l + "\n")
	}
	// Large reads (the buffer is handed over with its lines) mixed with
	// small ones (the lines are copied into the arena).
	r := &chunkReader{data: in.Bytes(), sizes: []int{64 << 10, 37, 200, 256 << 10, 5, 3000}}
	var kept [][]byte // never copied: the framer must not write over them
	f := &Framer{Process: "p", Stream: sdk.Stdout, Emit: func(batch []LogEntry, b *Block) {
		b.hold(len(batch)) // kept for good, as the ring keeps its lines
		for _, e := range batch {
			assert.Equal(t, len(e.Line), cap(e.Line), "an append must not reach the next line")
			kept = append(kept, e.Line)
		}
	}}
	require.NoError(t, f.Run(r))
	got := make([]string, len(kept))
	for i, l := range kept {
		got[i] = string(l)
	}
	assert.Equal(t, want, got)
}

func TestWriteStableBatchKeepsTheLinesWithoutCopying(t *testing.T) {
	m := newTestManager(t, ManagerOptions{BufferSize: 10})
	line := []byte("stable line")
	m.WriteStableBatch([]LogEntry{{Timestamp: time.Unix(1, 0), Process: "a", Stream: sdk.Stdout, Line: line}}, nil)
	p := m.proc("a")
	p.mu.Lock()
	stored := p.entries[0].Line
	p.mu.Unlock()
	assert.Same(t, &line[0], &stored[0], "a stable line is stored as it is")

	// Query hands out copies: the ring's lines may be read into again once
	// they leave it.
	got := m.Query(Filter{}, 0)
	require.Len(t, got, 1)
	assert.Equal(t, "stable line", string(got[0].Line))
	assert.NotSame(t, &line[0], &got[0].Line[0], "a queried line is the caller's copy")
}

func TestSubscribeBatchesGetsOneBatchPerWrite(t *testing.T) {
	m := newTestManager(t, ManagerOptions{SubscriberBuffer: 100})
	matcher, err := Filter{Contains: "7"}.Compile()
	require.NoError(t, err)
	sub := m.SubscribeBatches(matcher)
	all := m.SubscribeBatches(nil)
	first := batchOf("a", "l", 0, 20)
	m.WriteStableBatch(first, nil)
	writeLine(m, entry("b", sdk.Stderr, time.Unix(9, 0), "seven 7"))
	m.WriteStableBatch(batchOf("a", "none", 0, 5), nil) // nothing matches "7": no batch

	b := <-sub.C
	assert.Equal(t, []string{"l7", "l17"}, lines(b.Entries))
	sub.Done(b)
	b = <-sub.C
	assert.Equal(t, []string{"seven 7"}, lines(b.Entries))
	sub.Done(b)
	assert.Empty(t, sub.C)
	assert.Len(t, all.C, 3)

	// The slices are the subscriber's own: the writer's array is reused.
	clear(first)
	b = <-all.C
	assert.Equal(t, []string{"l0", "l1"}, lines(b.Entries)[:2])
	all.Done(b)
	drain := func(s *BatchSubscription) {
		for len(s.C) > 0 {
			s.Done(<-s.C)
		}
	}
	drain(all)

	// The buffer counts lines not yet Done: 100 of them.
	m.WriteStableBatch(batchOf("a", "x7-", 0, 60), nil)
	m.WriteStableBatch(batchOf("a", "x7-", 0, 60), nil) // 120 > 100: dropped whole
	assert.Equal(t, uint64(60), m.Dropped(sub.ID))
	b = <-sub.C
	assert.Len(t, b.Entries, 60)
	sub.Done(b)
	m.WriteStableBatch(batchOf("a", "x7-", 0, 60), nil) // room again
	assert.Len(t, sub.C, 1)
	drain(sub)

	// A single batch larger than the whole buffer still goes.
	m.WriteStableBatch(batchOf("a", "x7-", 0, 150), nil)
	assert.Len(t, sub.C, 1)
	assert.Equal(t, uint64(60), m.Dropped(sub.ID))
	drain(sub)
	drain(all)

	// A full channel (16 batches here) loses whole batches too.
	for range 16 {
		m.WriteStableBatch(batchOf("a", "x7-", 0, 1), nil)
	}
	m.WriteStableBatch(batchOf("a", "x7-", 0, 1), nil)
	assert.Equal(t, uint64(61), m.Dropped(sub.ID))
	assert.Equal(t, uint64(61), sub.Dropped(), "the subscription's own count")
	assert.Equal(t, m.Dropped(all.ID), all.Dropped())

	m.Unsubscribe(sub.ID)
	for range sub.C {
	}
	closeManager(t, m)
	for range all.C {
	}
}

func lines(entries []LogEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = string(e.Line)
	}
	return out
}

func TestFramerFillsAHandedOverBuffer(t *testing.T) {
	// A busy stream read 100 KiB at a time into 256 KiB buffers: each read
	// has enough lines to hand its buffer over, and the next reads go to
	// the rest of it, so the framer needs about what it reads in buffers,
	// not a whole new buffer per read (2.6 times what it reads). (Since the
	// buffers are reused, it allocates far less: see
	// TestFramerReusesTheBuffersNothingHolds.)
	line := strings.Repeat("x", 99) + "\n"
	data := []byte(strings.Repeat(line, 200_000)) // 20 MB
	r := &chunkReader{data: data, sizes: []int{100 << 10}}
	lines := 0
	f := &Framer{Process: "p", Stream: sdk.Stdout, Emit: func(batch []LogEntry, _ *Block) {
		lines += len(batch)
	}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	require.NoError(t, f.Run(r))
	runtime.ReadMemStats(&after)
	require.Equal(t, 200_000, lines)
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, float64(allocated), 1.6*float64(len(data)), "allocated %d bytes to read %d", allocated, len(data))
	t.Logf("allocated %d bytes to read %d", allocated, len(data))
}
