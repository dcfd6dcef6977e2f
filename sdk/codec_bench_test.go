package sdk

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk/proto"
	gproto "google.golang.org/protobuf/proto"
)

// benchBatch is a batch of n lines of 100 bytes from 4 processes, the
// lines of each process in one run when runs is set, interleaved line by
// line otherwise.
func benchBatch(n int, runs bool) *Batch {
	line := bytes.Repeat([]byte("0123456789"), 10)
	batch := &Batch{Seq: 1}
	now := time.Now()
	names := []string{"web", "worker", "db", "cache"}
	for i := range n {
		name := names[i%len(names)]
		if runs {
			name = names[i*len(names)/n]
		}
		batch.Entries = append(batch.Entries, LogEntry{Timestamp: now.Add(time.Duration(i)), Process: name, Stream: Stdout, Line: line})
	}
	return batch
}

// streamBenchMeter reports ns/line and allocs/line: every allocation of the
// process (both ends of the connection live in it) per line. It is
// internal/benchline's meter, repeated (as in internal/pluginhost's
// benchmarks): the sdk may import nothing else of prox (deps_test.go).
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

// BenchmarkBatchCodec measures the plugin's end of the sink wire without
// the transport: decoding a batch of 4,096 lines of 100 bytes from 4
// processes, with the hand-written decoder (decode) and with the generated
// code it stands in for (generated-decode: proto.Unmarshal and
// unpackBatch), from the same bytes. The host's end (encode,
// generated-encode) is internal/pluginhost's BenchmarkBatchCodec.
// docs/performance.md keeps the figures that justify the hand-written
// codec.
func BenchmarkBatchCodec(b *testing.B) {
	const n = 4096
	batch := benchBatch(n, true)
	line := batch.Entries[0].Line
	raw, err := gproto.Marshal(genRequest(batch))
	if err != nil {
		b.Fatal(err)
	}
	// The bytes in a region's place, as the host leaves them.
	dst := make([]byte, wire.RegionSize)
	size := copy(dst, raw)
	b.Run("decode", func(b *testing.B) {
		var dec batchDecoder
		b.SetBytes(int64(n * len(line)))
		m := startStreamBenchMeter(b, n)
		for b.Loop() {
			got, err := dec.decode(dst[:size])
			if err != nil {
				b.Fatal(err)
			}
			if len(got.Entries) != n {
				b.Fatalf("decoded %d lines, want %d", len(got.Entries), n)
			}
		}
		m.stop()
	})
	b.Run("generated-decode", func(b *testing.B) {
		b.SetBytes(int64(n * len(line)))
		m := startStreamBenchMeter(b, n)
		for b.Loop() {
			var req proto.WriteRequest
			if err := gproto.Unmarshal(dst[:size], &req); err != nil {
				b.Fatal(err)
			}
			got, err := unpackBatch(&req)
			if err != nil {
				b.Fatal(err)
			}
			if len(got.Entries) != n {
				b.Fatalf("decoded %d lines, want %d", len(got.Entries), n)
			}
		}
		m.stop()
	})
}
