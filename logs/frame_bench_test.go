package logs

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"github.com/prox-dev/prox/sdk"
)

// framerBenchInput returns n lines of size bytes each, newline included.
func framerBenchInput(n, size int) []byte {
	line := bytes.Repeat([]byte("x"), size)
	line[size-1] = '\n'
	return bytes.Repeat(line, n)
}

// framerChunkReader returns at most chunk bytes per Read, as a pipe
// delivers whatever the writer has written so far.
type framerChunkReader struct {
	data  []byte
	chunk int
}

func (r *framerChunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.chunk, len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// framerLineMeter reports ns/line and allocs/line (every allocation the
// process made meanwhile, divided by the lines handled).
type framerLineMeter struct {
	b       *testing.B
	perOp   int
	mallocs uint64
}

func startFramerLineMeter(b *testing.B, linesPerOp int) *framerLineMeter {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &framerLineMeter{b: b, perOp: linesPerOp, mallocs: ms.Mallocs}
}

// stop reports the metrics; call it after the b.Loop loop.
func (m *framerLineMeter) stop() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	lines := float64(m.b.N) * float64(m.perOp)
	m.b.ReportMetric(float64(m.b.Elapsed().Nanoseconds())/lines, "ns/line")
	m.b.ReportMetric(float64(ms.Mallocs-m.mallocs)/lines, "allocs/line")
}

// BenchmarkFramer measures line framing (logs.Framer): 10,000 lines per
// operation from an in-memory reader, each emitted to a counting callback
// (no copy), in the read sizes a pipe gives: full 64 KiB reads and short
// 4 KiB ones.
func BenchmarkFramer(b *testing.B) {
	const n = 10000
	cases := []struct {
		name        string
		size, chunk int
	}{
		{"100B-lines/64KiB-reads", 100, 64 << 10},
		{"100B-lines/4KiB-reads", 100, 4 << 10},
		{"1KiB-lines/64KiB-reads", 1024, 64 << 10},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			input := framerBenchInput(n, c.size)
			var lines, bytesOut int
			f := &Framer{Process: "web", Stream: sdk.Stdout, Emit: func(e LogEntry) {
				lines++
				bytesOut += len(e.Line) + 1
			}}
			b.SetBytes(int64(len(input)))
			b.ReportAllocs()
			m := startFramerLineMeter(b, n)
			for b.Loop() {
				lines, bytesOut = 0, 0
				if err := f.Run(&framerChunkReader{data: input, chunk: c.chunk}); err != nil {
					b.Fatal(err)
				}
				if lines != n || bytesOut != len(input) {
					b.Fatalf("framed %d lines (%d bytes), want %d (%d)", lines, bytesOut, n, len(input))
				}
			}
			m.stop()
		})
	}
}
