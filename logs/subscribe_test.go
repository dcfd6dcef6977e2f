package logs

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSubscribeReceivesMatchingNewLines(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	writeLine(m, entry("a", sdk.Stdout, time.Unix(1, 0), "before subscribing"))
	id, ch := m.Subscribe(Filter{Processes: []string{"a"}, Stream: sdk.Stderr})
	require.NotZero(t, id)
	writeLine(m, entry("a", sdk.Stdout, time.Unix(2, 0), "a stdout"))
	writeLine(m, entry("b", sdk.Stderr, time.Unix(3, 0), "b stderr"))
	writeLine(m, entry("a", sdk.Stderr, time.Unix(4, 0), "a stderr"))

	got := <-ch
	assert.Equal(t, "a stderr", string(got.Line))
	assert.Equal(t, "a", got.Process)
	assert.Equal(t, sdk.Stderr, got.Stream)
	assert.Equal(t, time.Unix(4, 0), got.Timestamp)
	assert.Empty(t, ch, "nothing else matched")

	m.Unsubscribe(id)
	_, open := <-ch
	assert.False(t, open, "Unsubscribe closes the channel")
	writeLine(m, entry("a", sdk.Stderr, time.Unix(5, 0), "after unsubscribing")) // must not panic
	m.Unsubscribe(id)                                                            // a second time is ignored
	assert.Zero(t, m.Dropped(id))
}

func TestSubscribersAreIndependent(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	id1, ch1 := m.Subscribe(Filter{})
	id2, ch2 := m.Subscribe(Filter{Contains: "two"})
	assert.NotEqual(t, id1, id2)
	writeLine(m, entry("a", sdk.Stdout, time.Unix(1, 0), "one"))
	writeLine(m, entry("a", sdk.Stdout, time.Unix(2, 0), "two"))
	assert.Equal(t, "one", string((<-ch1).Line))
	assert.Equal(t, "two", string((<-ch1).Line))
	assert.Equal(t, "two", string((<-ch2).Line))
	m.Unsubscribe(id1)
	writeLine(m, entry("a", sdk.Stdout, time.Unix(3, 0), "two again"))
	assert.Equal(t, "two again", string((<-ch2).Line), "the other subscriber still receives")
}

func TestFullSubscriberDropsAndNeverBlocksWrite(t *testing.T) {
	const buffer, writes = 8, 10000
	m := newTestManager(t, ManagerOptions{SubscriberBuffer: buffer})
	id, ch := m.Subscribe(Filter{}) // never read until the end

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range writes {
			writeLine(m, entry("a", sdk.Stdout, time.Unix(int64(i), 0), fmt.Sprint(i)))
		}
	}()
	require.Eventually(t, func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}, waitFor, tick, "every Write completed although the subscriber never reads")

	assert.Equal(t, uint64(writes-buffer), m.Dropped(id))
	require.Len(t, ch, buffer)
	for i := range buffer {
		assert.Equal(t, fmt.Sprint(i), string((<-ch).Line), "the buffer holds the first lines")
	}
	// Room again: the next line is delivered.
	writeLine(m, entry("a", sdk.Stdout, time.Unix(writes, 0), "fresh"))
	assert.Equal(t, "fresh", string((<-ch).Line))
	assert.Equal(t, uint64(writes-buffer), m.Dropped(id))
}

func TestCloseEndsSubscriptions(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	_, ch := m.Subscribe(Filter{})
	closeManager(t, m)
	_, open := <-ch
	assert.False(t, open)
	id, ch := m.Subscribe(Filter{})
	assert.Zero(t, id)
	_, open = <-ch
	assert.False(t, open, "subscribing after Close gives a closed channel")
	writeLine(m, entry("a", sdk.Stdout, time.Unix(1, 0), "still buffered"))
	assert.Equal(t, []string{"still buffered"}, lineTexts(m.Query(Filter{}, 0)))
}

// TestConcurrentWritersSubscribersAndSinks runs many writers (one per
// process stream, as the supervisor does), readers that keep up, readers
// that lag, churning subscriptions, queries and a sink all at once, under
// -race. Per process, every reader must see lines in write order, and
// every line is received or counted as dropped.
func TestConcurrentWritersSubscribersAndSinks(t *testing.T) {
	const procs, perStream = 6, 3000
	m := newTestManager(t, ManagerOptions{BufferSize: 500, SubscriberBuffer: 64})
	rec := &recorder{}
	require.NoError(t, m.AttachSink("all", nil, rec, SinkOptions{QueueSize: 256, MaxBatchEntries: 100}))
	odd := &recorder{}
	require.NoError(t, m.AttachSink("odd", []string{"p1", "p3", "p5"}, odd, SinkOptions{QueueSize: 64, Overflow: OverflowDropOldest}))

	type reader struct {
		id       uint64
		ch       <-chan LogEntry
		slow     bool
		received int
		want     func(e LogEntry) bool
		orderErr error
	}
	filters := []struct {
		f    Filter
		want func(e LogEntry) bool
		slow bool
	}{
		{Filter{}, func(LogEntry) bool { return true }, false},
		{Filter{}, func(LogEntry) bool { return true }, true},
		{Filter{Stream: sdk.Stderr}, func(e LogEntry) bool { return e.Stream == sdk.Stderr }, false},
		{Filter{Processes: []string{"p0", "p2"}, Regex: `7$`}, func(e LogEntry) bool {
			return (e.Process == "p0" || e.Process == "p2") && e.Line[len(e.Line)-1] == '7'
		}, true},
	}
	readers := make([]*reader, len(filters))
	var readersWG sync.WaitGroup
	for i, f := range filters {
		id, ch := m.Subscribe(f.f)
		r := &reader{id: id, ch: ch, slow: f.slow, want: f.want}
		readers[i] = r
		readersWG.Go(func() {
			last := map[string]int{}
			for e := range r.ch {
				r.received++
				if !r.want(e) && r.orderErr == nil {
					r.orderErr = fmt.Errorf("unexpected entry %s %q", e.Process, e.Line)
				}
				var n int
				var stream string
				fmt.Sscanf(string(e.Line), "%s %d", &stream, &n)
				key := e.Process + stream
				if prev, ok := last[key]; ok && n <= prev && r.orderErr == nil {
					r.orderErr = fmt.Errorf("%s: %d after %d", key, n, prev)
				}
				last[key] = n
				if r.slow && r.received%10 == 0 {
					runtime.Gosched() // lag behind on purpose
				}
			}
		})
	}

	stop := make(chan struct{})
	var churnWG sync.WaitGroup
	churnWG.Go(func() { // subscriptions come and go
		for {
			select {
			case <-stop:
				return
			default:
			}
			id, _ := m.Subscribe(Filter{Contains: "1"})
			m.Query(Filter{Regex: `^out`}, 100)
			m.SetBufferSize("p4", 100+int(id%300))
			_, _ = m.SinkStats("all")
			m.Unsubscribe(id)
		}
	})

	var writers sync.WaitGroup
	for p := range procs {
		for _, stream := range []sdk.Stream{sdk.Stdout, sdk.Stderr} {
			writers.Go(func() {
				name := fmt.Sprint("p", p)
				prefix := "out"
				if stream == sdk.Stderr {
					prefix = "err"
				}
				for i := range perStream {
					writeLine(m, entry(name, stream, time.Now(), fmt.Sprintf("%s %d", prefix, i)))
					if i%500 == 0 {
						m.WriteEvent(sdk.Event{Process: name, Type: "tick", Restarts: i})
					}
				}
			})
		}
	}
	writers.Wait()
	close(stop)
	churnWG.Wait()

	dropped := make([]uint64, len(readers))
	for i, r := range readers {
		dropped[i] = m.Dropped(r.id)
	}
	closeManager(t, m)
	readersWG.Wait()

	total := procs * 2 * perStream
	for i, r := range readers {
		require.NoError(t, r.orderErr, "reader %d", i)
		expected := 0
		for p := range procs {
			for _, prefix := range []string{"out", "err"} {
				for n := range perStream {
					s := sdk.Stdout
					if prefix == "err" {
						s = sdk.Stderr
					}
					if r.want(entry(fmt.Sprint("p", p), s, time.Time{}, fmt.Sprintf("%s %d", prefix, n))) {
						expected++
					}
				}
			}
		}
		assert.Equal(t, expected, r.received+int(dropped[i]), "reader %d: received + dropped", i)
	}

	// The block sink got every line, in order per stream.
	lines := rec.lines()
	assert.Len(t, lines, total)
	st, ok := m.SinkStats("all")
	require.True(t, ok)
	assert.Equal(t, uint64(total), st.Sent)
	assert.Zero(t, st.Dropped)
	assert.Equal(t, uint64(procs*2*(perStream/500)), st.SentEvents)
	// The drop_oldest sink got lines of its processes only, and accounts
	// for all of them.
	ost, _ := m.SinkStats("odd")
	assert.Equal(t, uint64(3*2*perStream), ost.Sent+ost.Dropped)
	_, oddBatches, _, _ := odd.snapshot()
	for _, b := range oddBatches {
		for _, e := range b.Entries {
			assert.Contains(t, []string{"p1", "p3", "p5"}, e.Process)
		}
	}
	// Every process's ring holds its newest lines.
	assert.Len(t, m.Query(Filter{Processes: []string{"p0"}}, 0), 500)
}
