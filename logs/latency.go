package logs

import (
	"sync/atomic"
	"time"
)

// LatencyBuckets are the upper bounds, in seconds, of the buckets of a
// sink's batch latency (SinkStats.Latency): from a millisecond (a batch a
// local file takes) to a minute (a batch retried through an outage).
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// latencyHistogram counts durations into LatencyBuckets, once per batch;
// safe for concurrent use.
type latencyHistogram struct {
	// counts[i] counts the durations in bucket i (not cumulative);
	// counts[len(LatencyBuckets)] those above the last bound.
	counts [16]atomic.Uint64
	sumNs  atomic.Uint64
}

// observe counts d.
func (h *latencyHistogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(LatencyBuckets) && s > LatencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(uint64(max(d, 0)))
}

// Latency is a snapshot of a latency histogram.
type Latency struct {
	// Buckets are the cumulative counts of LatencyBuckets' bounds, by
	// upper bound in seconds.
	Buckets map[float64]uint64
	// Count is the number of observations; Sum their total in seconds.
	Count uint64
	Sum   float64
}

func (h *latencyHistogram) snapshot() Latency {
	l := Latency{Buckets: make(map[float64]uint64, len(LatencyBuckets))}
	for i, bound := range LatencyBuckets {
		l.Count += h.counts[i].Load()
		l.Buckets[bound] = l.Count
	}
	l.Count += h.counts[len(LatencyBuckets)].Load()
	l.Sum = time.Duration(h.sumNs.Load()).Seconds()
	return l
}
