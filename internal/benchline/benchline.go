// Package benchline reports the per-line figures of prox's log-path
// benchmarks, the same way in every package: ns/line and allocs/line. The
// SDK's benchmarks keep their own copy: the SDK may import nothing else of
// prox, not even in its tests.
package benchline

import (
	"runtime"
	"testing"
)

// Meter measures a benchmark loop that handles linesPerOp lines per
// operation.
type Meter struct {
	b       *testing.B
	perOp   int
	mallocs uint64
}

// Start starts measuring; call it just before the b.Loop loop.
func Start(b *testing.B, linesPerOp int) *Meter {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &Meter{b: b, perOp: linesPerOp, mallocs: ms.Mallocs}
}

// Stop reports ns/line (the loop's elapsed time) and allocs/line (every
// allocation the process made meanwhile, both ends of a connection
// included when they live in it) per line handled; call it after the loop.
func (m *Meter) Stop() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	lines := float64(m.b.N) * float64(m.perOp)
	m.b.ReportMetric(float64(m.b.Elapsed().Nanoseconds())/lines, "ns/line")
	m.b.ReportMetric(float64(ms.Mallocs-m.mallocs)/lines, "allocs/line")
}
