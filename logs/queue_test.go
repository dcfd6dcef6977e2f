package logs

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// queueLines returns k entries numbered from *next on.
func queueLines(next *int, k int) []LogEntry {
	batch := make([]LogEntry, k)
	for i := range batch {
		batch[i] = LogEntry{Process: "p", Line: []byte(strconv.Itoa(*next))}
		*next++
	}
	return batch
}

// queuedBytes sums the line bytes the queue holds, from its ring.
func queuedBytes(q *sinkQueue) int {
	n := 0
	for i := range q.n {
		n += len(q.buf[(q.head+i)%len(q.buf)].Line)
	}
	return n
}

func TestSinkQueueKeepsOrderAcrossTheRing(t *testing.T) {
	// Batches of 1 to 7 pushed and taken in turns around a ring of 10,
	// which grows from its initial size and wraps: every entry comes out
	// once, in order, and the byte count stays true.
	q := newSinkQueue(SinkOptions{QueueSize: 10, MaxBatchEntries: 4, MaxBatchBytes: 1 << 20})
	pushed, taken := 0, 0
	var dst []LogEntry
	take := func() {
		dst, _, _ = q.take(dst, nil)
		require.NotEmpty(t, dst)
		require.LessOrEqual(t, len(dst), 4)
		for _, e := range dst {
			require.Equal(t, strconv.Itoa(taken), string(e.Line))
			taken++
		}
	}
	for round := range 200 {
		k := 1 + round%7
		for q.n+k > q.size {
			take()
		}
		q.push(queueLines(&pushed, k), nil)
		require.Equal(t, pushed-taken, q.n)
		require.Equal(t, queuedBytes(q), q.bytes)
		if round%3 == 0 {
			take()
		}
	}
	for q.n > 0 {
		take()
	}
	assert.Equal(t, pushed, taken)
	assert.Zero(t, q.bytes)
}

func TestSinkQueuePushWaitsForRoom(t *testing.T) {
	// 25 entries into a queue of 10 (block policy): the push fills it,
	// waits while the consumer takes, and every entry comes out in order.
	q := newSinkQueue(SinkOptions{QueueSize: 10, MaxBatchEntries: 4, MaxBatchBytes: 1 << 20})
	next := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.push(queueLines(&next, 25), nil)
	}()
	taken := 0
	var dst []LogEntry
	for taken < 25 {
		<-q.wake
		for {
			q.mu.Lock()
			n := q.n
			q.mu.Unlock()
			if n == 0 {
				break
			}
			dst, _, _ = q.take(dst, nil)
			for _, e := range dst {
				require.Equal(t, strconv.Itoa(taken), string(e.Line))
				taken++
			}
			q.mu.Lock()
			q.signalled = false
			q.mu.Unlock()
		}
	}
	<-done
	assert.Zero(t, q.n)
}
