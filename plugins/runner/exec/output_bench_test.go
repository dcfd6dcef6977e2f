package exec

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/internal/benchline"
	"github.com/prox-dev/prox/sdk"
)

// execBenchLines is how many 100-byte lines one operation moves.
const execBenchLines = 100000

// BenchmarkOutputPath measures the exec runner's output path: one
// operation starts `cat FILE` (100,000 lines of 100 bytes, from the page
// cache) as a child in its own process group, reads its stdout pipe to the
// end in 256 KiB reads (the size the SDK's runner server reads, and what
// prox reads when the pipe is handed over to it), drains stderr and waits
// for the child. It reports ns and allocations per line; the child's own
// work runs on another core and is part of the wall time.
func BenchmarkOutputPath(b *testing.B) {
	line := bytes.Repeat([]byte("x"), 100)
	line[99] = '\n'
	data := bytes.Repeat(line, execBenchLines)
	file := filepath.Join(b.TempDir(), "lines")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		b.Fatal(err)
	}
	r := newRunner(hclog.NewNullLogger(), false) // New, without its log lines among the results
	b.Cleanup(func() { _ = r.Shutdown() })
	cfg := &sdk.ProcessConfig{Name: "cat", Command: []string{"cat", file}, Env: []string{"PATH=" + os.Getenv("PATH")}}
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	m := benchline.Start(b, execBenchLines)
	for b.Loop() {
		p, err := r.Start(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		total, lines := 0, 0
		for {
			n, err := p.Stdout().Read(buf)
			total += n
			lines += bytes.Count(buf[:n], []byte{'\n'})
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if _, err := io.Copy(io.Discard, p.Stderr()); err != nil {
			b.Fatal(err)
		}
		if err := p.Wait(); err != nil {
			b.Fatal(err)
		}
		if total != len(data) || lines != execBenchLines {
			b.Fatalf("read %d bytes, %d lines; want %d, %d", total, lines, len(data), execBenchLines)
		}
	}
	m.Stop()
}
