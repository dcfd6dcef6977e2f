package logs

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/internal/benchline"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/require"
)

// benchLine is a 100-byte line.
var benchLine = bytes.Repeat([]byte("0123456789"), 10)

// newBenchManager returns a manager with one attached sink that discards
// every batch, closed (and checked to have lost nothing) at the end.
func newBenchManager(b *testing.B) *Manager {
	// The terminal's buffer in prox up: 16,384 lines.
	m := NewManager(ManagerOptions{SubscriberBuffer: 16384})
	require.NoError(b, m.AttachSink("discard", nil, discardTarget{}, SinkOptions{}))
	b.Cleanup(func() {
		st, _ := m.SinkStats("discard")
		require.Zero(b, st.Dropped)
	})
	return m
}

// BenchmarkManagerWrite is one process stream writing 100-byte lines one
// at a time (batches of one line, a quiet process's reads), with one
// attached sink (block policy) that discards what it receives.
func BenchmarkManagerWrite(b *testing.B) {
	m := newBenchManager(b)
	e := LogEntry{Timestamp: time.Now(), Process: "web", Stream: sdk.Stdout, Line: benchLine}
	one := make([]LogEntry, 1)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	cpu := cpuTime(b)
	for b.Loop() {
		one[0] = e
		m.WriteStableBatch(one, nil)
	}
	b.StopTimer()
	closeBench(b, m)
	reportCPU(b, cpu)
}

// BenchmarkManagerWriteParallel is many process streams (one process per
// goroutine) writing 100-byte lines, one per batch, at once, all feeding one discarding
// sink.
func BenchmarkManagerWriteParallel(b *testing.B) {
	m := newBenchManager(b)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	cpu := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		e := LogEntry{Timestamp: time.Now(), Process: fmt.Sprint("p", next.Add(1)), Stream: sdk.Stdout, Line: benchLine}
		one := make([]LogEntry, 1)
		for pb.Next() {
			one[0] = e
			m.WriteStableBatch(one, nil)
		}
	})
	b.StopTimer()
	closeBench(b, m)
	reportCPU(b, cpu)
}

func closeBench(b *testing.B, m *Manager) {
	require.NoError(b, m.Close(b.Context()))
}

// cpuTime returns the CPU time (user and system, all threads) the test
// process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start, counting every
// goroutine (the sink's, the garbage collector's): unlike ns/op, it does
// not depend on how busy the machine is.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkManagerWriteStableBatch is prox up's path for a busy process:
// the lines of one 256 KiB read (2,600 lines of 100 bytes) written at once
// with WriteStableBatch, into the ring, one discarding sink and a batch
// subscriber that drains as a terminal does. One operation is one batch;
// ns/line and allocs/line are per line.
func BenchmarkManagerWriteStableBatch(b *testing.B) {
	const perBatch = 2600
	m := newBenchManager(b)
	sub := m.SubscribeBatches(nil)
	var received atomic.Int64
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for batch := range sub.C {
			received.Add(int64(len(batch.Entries)))
			sub.Done(batch)
		}
	}()
	batch := make([]LogEntry, perBatch)
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(perBatch * int64(len(benchLine)))
	cpu := cpuTime(b)
	meter := benchline.Start(b, perBatch)
	for b.Loop() {
		for i := range batch {
			batch[i] = LogEntry{Timestamp: now, Process: "web", Stream: sdk.Stdout, Line: benchLine}
		}
		m.WriteStableBatch(batch, nil)
	}
	b.StopTimer()
	meter.Stop()
	dropped := m.Dropped(sub.ID) // known until Close
	closeBench(b, m)
	<-drained
	written := int64(b.N) * perBatch
	require.Equal(b, written, received.Load()+int64(dropped), "every line reached the subscriber or was counted")
	b.ReportMetric(float64(dropped)/float64(written), "dropped/line")
	reportCPU(b, cpu)
}

// BenchmarkRing measures one process's ring buffer alone: 1,000 lines of
// 100 bytes per operation, in one batch kept as it is (WriteStableBatch's
// path), into a ring of 1,000 (so it wraps every time).
func BenchmarkRing(b *testing.B) {
	const perOp = 1000
	p := newProcLog("web", perOp)
	e := LogEntry{Timestamp: time.Now(), Process: "web", Stream: sdk.Stdout, Line: benchLine}
	batch := make([]LogEntry, perOp)
	b.SetBytes(perOp * int64(len(benchLine)))
	meter := benchline.Start(b, perOp)
	for b.Loop() {
		for i := range batch {
			batch[i] = e
		}
		p.add(batch, nil)
	}
	meter.Stop()
	require.Len(b, p.entries, perOp)
	require.Equal(b, benchLine, p.entries[p.index(0)].Line)
}

// BenchmarkFanOut measures the offer of every line to four live
// subscribers with the terminal's buffer, all fast (each drained by a
// goroutine; on 2 cores they still fall behind at times, hence the
// dropped/line metric) or all slow (never read: their channels are full
// and every line is dropped and counted, which must cost the writer no
// more than a fast one), for line
// subscribers fed one line per WriteStableBatch (one operation: one line)
// and batch subscribers fed 2,600 lines per WriteStableBatch (one
// operation: one 256 KiB read). No sink is attached.
func BenchmarkFanOut(b *testing.B) {
	const subs = 4
	for _, tc := range []struct {
		name       string
		batches    bool
		fast       bool
		linesPerOp int
	}{
		{"lines/fast", false, true, 1}, {"lines/slow", false, false, 1},
		{"batches/fast", true, true, 2600}, {"batches/slow", true, false, 2600},
	} {
		b.Run(tc.name, func(b *testing.B) {
			// The terminal's buffer in prox up: 16,384 lines.
			m := NewManager(ManagerOptions{SubscriberBuffer: 16384})
			var received atomic.Int64
			var drains sync.WaitGroup
			var later []func() // slow subscribers are drained only after the loop
			var ids []uint64
			for range subs {
				var drain func()
				if tc.batches {
					sub := m.SubscribeBatches(nil)
					ids = append(ids, sub.ID)
					drain = func() {
						for batch := range sub.C {
							received.Add(int64(len(batch.Entries)))
							sub.Done(batch)
						}
					}
				} else {
					id, ch := m.Subscribe(Filter{})
					ids = append(ids, id)
					drain = func() {
						for range ch {
							received.Add(1)
						}
					}
				}
				if tc.fast {
					drains.Go(drain)
				} else {
					later = append(later, drain)
				}
			}
			e := LogEntry{Timestamp: time.Now(), Process: "web", Stream: sdk.Stdout, Line: benchLine}
			batch := make([]LogEntry, tc.linesPerOp)
			b.SetBytes(int64(tc.linesPerOp * len(benchLine)))
			meter := benchline.Start(b, tc.linesPerOp)
			for b.Loop() {
				for i := range batch {
					batch[i] = e
				}
				m.WriteStableBatch(batch, nil)
			}
			b.StopTimer()
			meter.Stop()
			var dropped uint64
			for _, id := range ids {
				dropped += m.Dropped(id)
			}
			for _, drain := range later {
				drains.Go(drain)
			}
			closeBench(b, m)
			drains.Wait()
			perSub := int64(b.N) * int64(tc.linesPerOp)
			written := perSub * subs
			b.ReportMetric(float64(dropped)/float64(written), "dropped/line")
			require.Equal(b, written, received.Load()+int64(dropped), "every line reached its subscriber or was counted")
			if !tc.fast && perSub > 16384+int64(tc.linesPerOp) {
				require.Positive(b, dropped, "slow subscribers drop, and count")
			}
		})
	}
}
