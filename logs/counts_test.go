package logs

import (
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOutputCountsByStream: lines and bytes are counted per process and
// stream, also in a batch that mixes streams and processes.
func TestOutputCountsByStream(t *testing.T) {
	m := newTestManager(t, ManagerOptions{BufferSize: 2})
	now := time.Now()
	m.WriteStableBatch([]LogEntry{entry("a", sdk.Stdout, now, "12345"), entry("a", sdk.Stdout, now, "")}, nil)
	m.WriteStableBatch([]LogEntry{entry("a", sdk.Stderr, now, "err"), entry("b", sdk.Stdout, now, "x"), entry("a", sdk.Stdout, now, "123")}, nil)
	got := m.OutputCounts()
	require.Len(t, got, 2)
	assert.Equal(t, OutputCount{Process: "a", Lines: [3]uint64{0, 3, 1}, Bytes: [3]uint64{0, 8, 3}}, got[0], "more than the ring keeps")
	assert.Equal(t, OutputCount{Process: "b", Lines: [3]uint64{0, 1, 0}, Bytes: [3]uint64{0, 1, 0}}, got[1])
	closeManager(t, m)
}

// TestSinkLatencyCountsEachBatch: every acknowledged batch is timed once,
// its retries included.
func TestSinkLatencyCountsEachBatch(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	rec := &recorder{}
	require.NoError(t, m.AttachSink("s", nil, rec, SinkOptions{MaxBatchEntries: 1}))
	for i := range 5 {
		writeLine(m, entry("a", sdk.Stdout, time.Unix(int64(i), 0), "x"))
	}
	require.Eventually(t, func() bool { st, _ := m.SinkStats("s"); return st.Batches == 5 }, 10*time.Second, 5*time.Millisecond)
	st, _ := m.SinkStats("s")
	assert.EqualValues(t, 5, st.Latency.Count)
	assert.EqualValues(t, 5, st.Latency.Buckets[60], "every batch within a minute")
	prev := uint64(0)
	for _, b := range LatencyBuckets {
		assert.GreaterOrEqual(t, st.Latency.Buckets[b], prev, "cumulative")
		prev = st.Latency.Buckets[b]
	}
	assert.Positive(t, st.Latency.Sum)
	closeManager(t, m)
}
