package file

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// benchBatch is a batch of 4096 lines of 100 bytes from 4 processes, as
// the host delivers them.
func benchBatch() *sdk.Batch {
	b := &sdk.Batch{Seq: 1}
	line := bytes.Repeat([]byte("0123456789"), 10)
	now := time.Now()
	names := []string{"web", "worker", "db", "cache"}
	for i := range 4096 {
		b.Entries = append(b.Entries, sdk.LogEntry{Timestamp: now.Add(time.Duration(i)), Process: names[i/1024], Stream: sdk.Stdout, Line: line})
	}
	return b
}

func benchmarkWrite(b *testing.B, values map[string]any, state bool) {
	s := newSink(b, values)
	if !state {
		// As if the state file could not be kept: no record per batch.
		s.stateTried = true
	}
	batch := benchBatch()
	b.SetBytes(int64(len(batch.Entries) * 100))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		// Each batch a new one: the same Seq again would be a resend.
		batch.Seq++
		if err := s.Write(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWrite measures the hot path: batches of 4096 lines of 100 bytes
// into one combined file with the default settings (process prefix,
// rotation at 100 MiB). The no-state cases leave out the state record
// written before each batch (state.go), to tell its cost.
func BenchmarkWrite(b *testing.B) {
	b.Run("combined", func(b *testing.B) {
		benchmarkWrite(b, map[string]any{"path": inDir(b, "all.log")}, true)
	})
	b.Run("combined-no-state", func(b *testing.B) {
		benchmarkWrite(b, map[string]any{"path": inDir(b, "all.log")}, false)
	})
	b.Run("per-process", func(b *testing.B) {
		benchmarkWrite(b, map[string]any{"path": b.TempDir() + "/{process}.log"}, true)
	})
	b.Run("per-process-no-state", func(b *testing.B) {
		benchmarkWrite(b, map[string]any{"path": b.TempDir() + "/{process}.log"}, false)
	})
	// The sink's own cost, without the disk: /dev/null, no rotation.
	b.Run("devnull", func(b *testing.B) {
		benchmarkWrite(b, map[string]any{"path": "/dev/null", "max_size": "0"}, true)
	})
	b.Run("all-prefixes", func(b *testing.B) {
		benchmarkWrite(b, map[string]any{"path": inDir(b, "all.log"), "timestamp": true, "stream_prefix": true}, true)
	})
}
