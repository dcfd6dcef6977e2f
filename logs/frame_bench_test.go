package logs

import (
	"bytes"
	"io"
	"testing"

	"github.com/prox-dev/prox/internal/benchline"
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

// BenchmarkFramer measures line framing (logs.Framer) as prox up frames:
// 10,000 lines per operation from an in-memory reader, emitted batch by
// batch to a counting callback, the lines kept (handed-over read
// buffers or the arena, no copy by the callee), in the read sizes a pipe
// gives: full 64 KiB reads and short 4 KiB ones.
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
			f := &Framer{Process: "web", Stream: sdk.Stdout, Emit: func(batch []LogEntry, _ *Block) {
				for _, e := range batch {
					lines++
					bytesOut += len(e.Line) + 1
				}
			}}
			b.SetBytes(int64(len(input)))
			b.ReportAllocs()
			m := benchline.Start(b, n)
			for b.Loop() {
				lines, bytesOut = 0, 0
				if err := f.Run(&framerChunkReader{data: input, chunk: c.chunk}); err != nil {
					b.Fatal(err)
				}
				if lines != n || bytesOut != len(input) {
					b.Fatalf("framed %d lines (%d bytes), want %d (%d)", lines, bytesOut, n, len(input))
				}
			}
			m.Stop()
		})
	}
}
