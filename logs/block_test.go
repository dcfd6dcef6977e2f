package logs

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blockLines puts texts into b, one per line, and returns entries of
// process a pointing into it, as a Framer hands them over.
func blockLines(b *Block, texts ...string) []LogEntry {
	var entries []LogEntry
	at := 0
	for _, text := range texts {
		n := copy(b.buf[at:], text)
		entries = append(entries, LogEntry{Timestamp: time.Unix(1, 0), Process: "a", Stream: sdk.Stdout, Line: b.buf[at : at+n : at+n]})
		at += n + 1
	}
	return entries
}

func TestBlockIsHeldByEveryKeeperOfItsLines(t *testing.T) {
	m := newTestManager(t, ManagerOptions{BufferSize: 4})
	batches := m.SubscribeBatches(nil)
	_, follow := m.Subscribe(Filter{})
	b := newBlock(busyReadSize, nil) // held once, by its reader
	m.WriteStableBatch(blockLines(b, "one", "two", "three"), b)
	assert.EqualValues(t, 1+3+1, b.refs.Load(), "its reader, three ring entries and one subscriber's batch")

	// A line subscriber gets copies, and holds nothing.
	e := <-follow
	assert.Equal(t, "one", string(e.Line))
	assert.NotSame(t, &b.buf[0], &e.Line[0], "a followed line is a copy")
	// So does Query.
	got := m.Query(Filter{}, 0)
	require.Len(t, got, 3)
	assert.NotSame(t, &b.buf[0], &got[0].Line[0], "a queried line is a copy")

	lb := <-batches.C
	assert.Same(t, &b.buf[0], &lb.Entries[0].Line[0], "a batch subscriber shares the lines")
	batches.Done(lb)
	assert.EqualValues(t, 1+3, b.refs.Load(), "Done lets go of the batch")
	b.release(1) // the reader moves on to another buffer
	assert.EqualValues(t, 3, b.refs.Load())

	// Four newer lines fill the ring of four and push the three out.
	m.WriteStableBatch(batchOf("a", "x", 0, 4), nil)
	assert.EqualValues(t, 0, b.refs.Load(), "nothing holds the buffer any more")
}

func TestBlockIsHeldUntilTheSinkAcknowledges(t *testing.T) {
	m := newTestManager(t, ManagerOptions{BufferSize: 1})
	rec := &recorder{hold: make(chan struct{}), entered: make(chan uint64, 8)}
	require.NoError(t, m.AttachSink("rec", nil, rec, SinkOptions{MaxBatchEntries: 2, FlushInterval: time.Millisecond}))
	b := newBlock(busyReadSize, nil)
	m.WriteStableBatch(blockLines(b, "one", "two", "three"), b)
	b.release(1) // the reader moves on

	<-rec.entered // the first batch, two lines, is in the sink's Write
	m.WriteStableBatch(batchOf("a", "x", 0, 1), nil)
	assert.EqualValues(t, 3, b.refs.Load(), "two lines in flight and one queued; the ring holds none")
	rec.hold <- struct{}{}
	<-rec.entered // the next batch: "three" and the line of the second write
	require.Eventually(t, func() bool { return b.refs.Load() == 1 }, waitFor, tick, "the acknowledged batch lets go")
	rec.hold <- struct{}{}
	require.Eventually(t, func() bool { return b.refs.Load() == 0 }, waitFor, tick)
	_, acked, _, _ := rec.snapshot()
	var lines []string
	for _, batch := range acked {
		lines = append(lines, lineTexts(batch.Entries)...)
	}
	assert.Equal(t, []string{"one", "two", "three", "x0"}, lines)
}

func TestQueueReleasesWhatItDrops(t *testing.T) {
	q := newSinkQueue(SinkOptions{QueueSize: 2, MaxBatchEntries: 10, MaxBatchBytes: 1 << 20, Overflow: OverflowDropOldest})
	b := newBlock(busyReadSize, nil)
	q.push(blockLines(b, "one", "two", "three"), b)
	assert.EqualValues(t, 1+2, b.refs.Load(), "the oldest line was dropped")
	q.stop()
	assert.EqualValues(t, 1, b.refs.Load(), "a stopped queue holds nothing")
}

// checkedLine is line i of a stream whose every line can be checked: its
// number, then bytes that depend on it, 100 bytes with the newline.
func checkedLine(i int) []byte {
	line := fmt.Appendf(nil, "%09d ", i)
	for len(line) < 99 {
		line = append(line, 'a'+byte((i+len(line))%26))
	}
	return line
}

// checkLine reports whether line is intact, and its number.
func checkLine(line []byte) (int, bool) {
	if len(line) != 99 {
		return 0, false
	}
	i, err := strconv.Atoi(string(line[:9]))
	return i, err == nil && bytes.Equal(line, checkedLine(i))
}

// checkingSink checks every line it gets, in order, and keeps none.
type checkingSink struct {
	mu          sync.Mutex
	next, torn  int
	outOfOrder  int
	onlyCounted atomic.Int64
}

func (s *checkingSink) Open(context.Context) (sdk.Sink, error) { return s, nil }
func (s *checkingSink) Flush(context.Context) error            { return nil }
func (s *checkingSink) Close(context.Context) error            { return nil }

func (s *checkingSink) Write(_ context.Context, b *sdk.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range b.Entries {
		i, ok := checkLine(e.Line)
		switch {
		case !ok:
			s.torn++
		case i != s.next:
			s.outOfOrder++
		}
		s.next = i + 1
	}
	s.onlyCounted.Add(int64(len(b.Entries)))
	return nil
}

func TestRecycledReadBuffersTearNoLine(t *testing.T) {
	const lines = 200_000 // 20 MB
	var data bytes.Buffer
	for i := range lines {
		data.Write(checkedLine(i))
		data.WriteByte('\n')
	}
	m := newTestManager(t, ManagerOptions{BufferSize: 1000, SubscriberBuffer: 1 << 20})
	sink := &checkingSink{}
	require.NoError(t, m.AttachSink("check", nil, sink, SinkOptions{}))
	batches := m.SubscribeBatches(nil)
	_, follow := m.Subscribe(Filter{})

	// Readers of every kind check what they get while the buffers are
	// reused under them: a batch subscriber slow to call Done, a line
	// subscriber, and Query.
	var wg sync.WaitGroup
	var tornInBatches, tornFollowed, tornQueried atomic.Int64
	stop := make(chan struct{})
	wg.Add(3)
	go func() {
		defer wg.Done()
		var held []LineBatch // Done a few batches late
		for lb := range batches.C {
			held = append(held, lb)
			if len(held) < 4 {
				continue
			}
			for _, e := range held[0].Entries {
				if _, ok := checkLine(e.Line); !ok {
					tornInBatches.Add(1)
				}
			}
			batches.Done(held[0])
			held = held[1:]
		}
	}()
	go func() {
		defer wg.Done()
		for e := range follow {
			if _, ok := checkLine(e.Line); !ok {
				tornFollowed.Add(1)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, e := range m.Query(Filter{}, 0) {
				if _, ok := checkLine(e.Line); !ok {
					tornQueried.Add(1)
				}
			}
		}
	}()

	f := &Framer{Process: "a", Stream: sdk.Stdout, Emit: m.WriteStableBatch}
	require.NoError(t, f.Run(&chunkReader{data: data.Bytes(), sizes: []int{busyReadSize}}))
	close(stop)
	closeManager(t, m)
	wg.Wait()

	assert.EqualValues(t, lines, sink.onlyCounted.Load(), "every line reached the sink")
	assert.Zero(t, sink.torn, "torn lines in the sink")
	assert.Zero(t, sink.outOfOrder, "lines out of order in the sink")
	assert.Zero(t, tornInBatches.Load(), "torn lines in a batch subscriber's batches")
	assert.Zero(t, tornFollowed.Load(), "torn lines followed")
	assert.Zero(t, tornQueried.Load(), "torn lines queried")
}

func TestFramerReusesTheBuffersNothingHolds(t *testing.T) {
	// A busy stream whose lines are dropped as soon as they are handed
	// over (a sink that keeps up, a ring of a few lines): the framer reads
	// into the same buffers again, instead of a new one per 256 KiB.
	data := bytes.Repeat([]byte(string(checkedLine(7))+"\n"), 200_000) // 20 MB
	var lines int
	f := &Framer{Process: "p", Stream: sdk.Stdout, Emit: func(batch []LogEntry, _ *Block) {
		lines += len(batch)
	}}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	require.NoError(t, f.Run(&chunkReader{data: data, sizes: []int{busyReadSize}}))
	runtime.ReadMemStats(&after)
	require.Equal(t, 200_000, lines)
	allocated := after.TotalAlloc - before.TotalAlloc
	// Before the buffers were reused: about 1.1 times what it read.
	assert.Less(t, float64(allocated), 0.1*float64(len(data)), "allocated %d bytes to read %d", allocated, len(data))
	t.Logf("allocated %d bytes to read %d", allocated, len(data))
}

func TestSparesAreReadIntoAgainUntilTheGCTakesThem(t *testing.T) {
	var rb readBuffer
	a := rb.newBlock(busyReadSize)
	require.NotNil(t, rb.spares, "a busy reader keeps spares")
	a.release(1) // nothing holds it
	assert.Same(t, a, rb.newBlock(busyReadSize), "a Block nothing holds is read into again")
	assert.EqualValues(t, 1, a.refs.Load(), "held by its reader again")

	// A stream that pauses releases its buffer; speaking again, it reads
	// into the spare busy buffer rather than a small one.
	rb.blk, rb.buf = a, a.buf
	rb.release()
	assert.Len(t, rb.space(DefaultMaxLineLength), busyReadSize, "a spare is read into after a pause")

	// A quiet stream's spares are the GC's.
	rb.release()
	runtime.GC()
	assert.Nil(t, rb.spare(0), "the GC took the spare of a quiet stream")

	// A reader that is done keeps none, even of those that come back later.
	b := rb.newBlock(busyReadSize)
	b.hold(1) // the ring keeps a line of it
	spares := rb.spares
	rb.blk, rb.buf = b, b.buf
	rb.close()
	b.release(1) // the ring lets go after that
	assert.Nil(t, spares.get(0), "a closed reader keeps no spare")
	assert.Nil(t, rb.newBlock(initialReadSize).spares, "only busy buffers are kept")
}

func TestResizeReleasesWhatTheRingDrops(t *testing.T) {
	m := newTestManager(t, ManagerOptions{BufferSize: 4})
	b := newBlock(busyReadSize, nil)
	m.WriteStableBatch(blockLines(b, "one", "two", "three"), b)
	b.release(1) // the reader moves on
	m.SetBufferSize("a", 8)
	assert.EqualValues(t, 3, b.refs.Load(), "a grown ring keeps every line")
	m.SetBufferSize("a", 1)
	assert.EqualValues(t, 1, b.refs.Load(), "a shrunk ring keeps its newest line only")
	assert.Equal(t, []string{"three"}, lineTexts(m.Query(Filter{}, 0)))
	m.SetBufferSize("a", 0) // back to the default of 4: nothing to drop
	m.WriteStableBatch(batchOf("a", "x", 0, 4), nil)
	assert.EqualValues(t, 0, b.refs.Load())
}

func TestReplacedAndAbandonedSinksReleaseTheirLines(t *testing.T) {
	m := newTestManager(t, ManagerOptions{BufferSize: 1})
	rec := &recorder{hold: make(chan struct{}), entered: make(chan uint64, 8)}
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{MaxBatchEntries: 1, FlushInterval: time.Millisecond, DrainTimeout: 50 * time.Millisecond}))
	b := newBlock(busyReadSize, nil)
	m.WriteStableBatch(blockLines(b, "one", "two", "three"), b)
	b.release(1)
	m.WriteStableBatch(batchOf("a", "x", 0, 1), nil) // the ring lets go
	<-rec.entered                                    // "one" in flight, two queued
	assert.EqualValues(t, 3, b.refs.Load())

	// Replacing the sink sends what is queued to the old one first.
	replaced := make(chan error, 1)
	go func() { replaced <- m.ReplaceSink(context.Background(), "s", nil, &recorder{}, SinkOptions{}) }()
	rec.mu.Lock()
	rec.entered = nil
	rec.mu.Unlock()
	close(rec.hold) // every Write goes through from now on
	require.NoError(t, <-replaced)
	assert.EqualValues(t, 0, b.refs.Load(), "every line sent to the replaced sink is released")

	// A sink that never answers is given up on at Close: what it held is
	// released too.
	stuck := &recorder{hold: make(chan struct{})}
	require.NoError(t, m.AttachSink("stuck", nil, stuck, SinkOptions{DrainTimeout: 50 * time.Millisecond, FlushInterval: time.Millisecond}))
	c := newBlock(busyReadSize, nil)
	m.WriteStableBatch(blockLines(c, "four", "five"), c)
	c.release(1)
	m.WriteStableBatch(batchOf("a", "y", 0, 1), nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.Error(t, m.Close(ctx), "the stuck sink did not get its lines")
	assert.EqualValues(t, 0, c.refs.Load(), "an abandoned sink's lines are released")
}
