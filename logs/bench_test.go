package logs

import (
	"bytes"
	"fmt"
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
