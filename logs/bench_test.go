package logs

import (
	"bytes"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/require"
)

// benchLine is a 100-byte line.
var benchLine = bytes.Repeat([]byte("0123456789"), 10)

// newBenchManager returns a manager with one attached sink that discards
// every batch, closed (and checked to have lost nothing) at the end.
func newBenchManager(b *testing.B) *Manager {
	m := NewManager(ManagerOptions{})
	require.NoError(b, m.AttachSink("discard", nil, discardTarget{}, SinkOptions{}))
	b.Cleanup(func() {
		st, _ := m.SinkStats("discard")
		require.Zero(b, st.Dropped)
	})
	return m
}

// BenchmarkManagerWrite is one process stream writing 100-byte lines, with
// one attached sink (block policy) that discards what it receives.
func BenchmarkManagerWrite(b *testing.B) {
	m := newBenchManager(b)
	e := LogEntry{Timestamp: time.Now(), Process: "web", Stream: sdk.Stdout, Line: benchLine}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	cpu := cpuTime(b)
	for b.Loop() {
		m.Write(e)
	}
	b.StopTimer()
	closeBench(b, m)
	reportCPU(b, cpu)
}

// BenchmarkManagerWriteParallel is many process streams (one process per
// goroutine) writing 100-byte lines at once, all feeding one discarding
// sink.
func BenchmarkManagerWriteParallel(b *testing.B) {
	m := newBenchManager(b)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine)))
	cpu := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		e := LogEntry{Timestamp: time.Now(), Process: fmt.Sprint("p", next.Add(1)), Stream: sdk.Stdout, Line: benchLine}
		for pb.Next() {
			m.Write(e)
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
			received.Add(int64(len(batch)))
			sub.Done(batch)
		}
	}()
	batch := make([]LogEntry, perBatch)
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(perBatch * int64(len(benchLine)))
	cpu := cpuTime(b)
	var mallocs0 runtimeMallocs
	mallocs0.read()
	for b.Loop() {
		for i := range batch {
			batch[i] = LogEntry{Timestamp: now, Process: "web", Stream: sdk.Stdout, Line: benchLine}
		}
		m.WriteStableBatch(batch)
	}
	b.StopTimer()
	var mallocs1 runtimeMallocs
	mallocs1.read()
	closeBench(b, m)
	<-drained
	lines := float64(b.N) * perBatch
	require.Positive(b, received.Load()+int64(m.Dropped(sub.ID)), "the subscriber saw the lines")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/lines, "ns/line")
	b.ReportMetric(float64(mallocs1-mallocs0)/lines, "allocs/line")
	reportCPU(b, cpu)
}

// runtimeMallocs is the process's count of heap allocations.
type runtimeMallocs uint64

func (m *runtimeMallocs) read() {
	var st runtime.MemStats
	runtime.ReadMemStats(&st)
	*m = runtimeMallocs(st.Mallocs)
}
