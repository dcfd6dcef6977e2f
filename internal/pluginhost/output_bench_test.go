package pluginhost

import (
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
	"testing"

	"github.com/prox-dev/prox/sdk"
)

// streamBenchLines is how many lines one operation streams.
const streamBenchLines = 20000

// streamBenchReader returns at most chunk bytes per Read, as a pipe gives
// whatever the process has written so far.
type streamBenchReader struct {
	data  []byte
	chunk int
}

func (r *streamBenchReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.chunk, len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// streamBenchProcess is a process whose whole output is in memory; it has
// exited once it is drained.
type streamBenchProcess struct {
	stdout, stderr io.Reader
}

func (p *streamBenchProcess) PID() int                          { return 1 }
func (p *streamBenchProcess) Wait() error                       { return nil }
func (p *streamBenchProcess) Signal(os.Signal) error            { return nil }
func (p *streamBenchProcess) Stdout() io.Reader                 { return p.stdout }
func (p *streamBenchProcess) Stderr() io.Reader                 { return p.stderr }
func (p *streamBenchProcess) LocalProcessGroup() int            { return 0 }
func (p *streamBenchProcess) String() string                    { return "bench" }
func (p *streamBenchProcess) OutputFiles() (*os.File, *os.File) { return nil, nil }

// streamBenchRunner starts streamBenchProcesses writing data to stdout in
// reads of chunk bytes.
type streamBenchRunner struct {
	data  []byte
	chunk int
}

func (r *streamBenchRunner) Start(context.Context, *sdk.ProcessConfig) (sdk.Process, error) {
	return &streamBenchProcess{
		stdout: &streamBenchReader{data: r.data, chunk: r.chunk},
		stderr: bytes.NewReader(nil),
	}, nil
}

// streamBenchMeter reports ns/line and allocs/line: every allocation of the
// process (both ends of the connection live in it) per line. It is
// internal/benchline's meter, repeated, as in the sdk's benchmarks, which
// may import nothing else of prox (sdk/deps_test.go).
type streamBenchMeter struct {
	b       *testing.B
	perOp   int
	mallocs uint64
}

func startStreamBenchMeter(b *testing.B, linesPerOp int) *streamBenchMeter {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &streamBenchMeter{b: b, perOp: linesPerOp, mallocs: ms.Mallocs}
}

func (m *streamBenchMeter) stop() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	lines := float64(m.b.N) * float64(m.perOp)
	m.b.ReportMetric(float64(m.b.Elapsed().Nanoseconds())/lines, "ns/line")
	m.b.ReportMetric(float64(ms.Mallocs-m.mallocs)/lines, "allocs/line")
}

// BenchmarkRunnerOutputStream measures a runner's output stream over gRPC:
// the SDK's runner server reads a process's stdout in chunks and sends
// them, the SDK's client demultiplexes them into the Stdout pipe, which the
// host reads in 64 KiB reads (as logs.Framer does). One operation starts a
// process, reads its 20,000 lines of 100 bytes to the end and waits for it.
// Both ends run in this process, over a unix socket, the plugin served as
// Serve serves it (through serve: sdk.ServeDebug, with the plugin
// server's options); the process's output is not a
// pipe, so it streams (no output hand-over).
func BenchmarkRunnerOutputStream(b *testing.B) {
	line := bytes.Repeat([]byte("x"), 100)
	line[99] = '\n'
	data := bytes.Repeat(line, streamBenchLines)
	for _, c := range []struct {
		name  string
		chunk int
	}{
		{"64KiB-chunks", 64 << 10},
		{"4KiB-chunks", 4 << 10},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := connect(b, &sdk.ServeConfig{Name: "bench", Version: "0.0.1", Runners: map[string]sdk.Runner{"bench": &streamBenchRunner{data: data, chunk: c.chunk}}})
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			m := startStreamBenchMeter(b, streamBenchLines)
			for b.Loop() {
				p, err := d.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "web"})
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
				if total != len(data) || lines != streamBenchLines {
					b.Fatalf("read %d bytes, %d lines; want %d, %d", total, lines, len(data), streamBenchLines)
				}
			}
			m.stop()
		})
	}
}
