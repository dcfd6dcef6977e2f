package pluginhost

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
	gproto "google.golang.org/protobuf/proto"
)

// sinkBenchDiscard is a sink that checks the size of what it receives and
// drops it.
type sinkBenchDiscard struct {
	want int
	got  int
}

func (s *sinkBenchDiscard) Write(_ context.Context, b *sdk.Batch) error {
	s.got = len(b.Entries)
	return nil
}
func (s *sinkBenchDiscard) Flush(context.Context) error { return nil }
func (s *sinkBenchDiscard) Close(context.Context) error { return nil }

// benchBatch is a batch of n lines of 100 bytes from 4 processes, the
// lines of each process in one run when runs is set, interleaved line by
// line otherwise.
func benchBatch(n int, runs bool) *sdk.Batch {
	line := bytes.Repeat([]byte("0123456789"), 10)
	batch := &sdk.Batch{Seq: 1}
	now := time.Now()
	names := []string{"web", "worker", "db", "cache"}
	for i := range n {
		name := names[i%len(names)]
		if runs {
			name = names[i*len(names)/n]
		}
		batch.Entries = append(batch.Entries, sdk.LogEntry{Timestamp: now.Add(time.Duration(i)), Process: name, Stream: sdk.Stdout, Line: line})
	}
	return batch
}

// BenchmarkSinkWrite measures one sink Write: the host side encodes a
// batch of 4,096 lines of 100 bytes from 4 processes (one buffer of lines,
// packed lengths, timestamps and indexes) into the shared batch region and
// sends its length over gRPC, the plugin side decodes it and hands it to
// the sink, which drops it. The sink keeps no batch but does not say so
// (BatchReuser), so the plugin copies the batch out of the region first.
// The plugin is served as Serve serves it (through serve: sdk.ServeDebug,
// with the plugin server's options).
func BenchmarkSinkWrite(b *testing.B) {
	const n = 4096
	batch := benchBatch(n, false)
	sink := &sinkBenchDiscard{want: n}
	d := connect(b, &sdk.ServeConfig{Name: "bench", Version: "0.0.1", Sinks: map[string]sdk.Sink{"bench": sink}})
	b.SetBytes(int64(n * len(batch.Entries[0].Line)))
	b.ReportAllocs()
	m := startStreamBenchMeter(b, n)
	for b.Loop() {
		if err := d.Sink.Write(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		if sink.got != n {
			b.Fatalf("the sink received %d lines, want %d", sink.got, n)
		}
		batch.Seq++
	}
	m.stop()
}

// BenchmarkBatchCodec measures the host's end of the sink wire without
// the transport: encoding a batch of 4,096 lines of 100 bytes from 4
// processes into the shared region's place, with the hand-written encoder
// (encode) and with the generated code it stands in for
// (generated-encode: packBatch and proto.Marshal into the same place),
// which writes the same bytes. The plugin's end (decode,
// generated-decode) is the sdk's BenchmarkBatchCodec. docs/performance.md
// keeps the figures that justify the hand-written codec.
func BenchmarkBatchCodec(b *testing.B) {
	const n = 4096
	batch := benchBatch(n, true)
	line := batch.Entries[0].Line
	var enc batchEncoder
	dst := make([]byte, wire.RegionSize)
	size, fits, err := enc.encodeInto(dst, batch)
	if err != nil || !fits {
		b.Fatalf("encode: fits %v, %v", fits, err)
	}
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(n * len(line)))
		m := startStreamBenchMeter(b, n)
		for b.Loop() {
			if _, _, err := enc.encodeInto(dst, batch); err != nil {
				b.Fatal(err)
			}
		}
		m.stop()
	})
	b.Run("generated-encode", func(b *testing.B) {
		b.SetBytes(int64(n * len(line)))
		m := startStreamBenchMeter(b, n)
		for b.Loop() {
			out, err := gproto.MarshalOptions{}.MarshalAppend(dst[:0], packBatch(batch))
			if err != nil || len(out) != size || &out[0] != &dst[0] {
				b.Fatalf("marshal: %d bytes, want %d in place: %v", len(out), size, err)
			}
		}
		m.stop()
	})
}
