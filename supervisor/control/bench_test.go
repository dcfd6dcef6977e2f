package control

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/sdk"
)

// The latency of the API itself, client and server, without the start of
// a CLI process (bench/control/run.sh measures the whole commands):
//
//	go test -run '^$' -bench . -benchtime 20x ./supervisor/control/

// BenchmarkProcesses200 lists 200 processes, as `prox ps` does.
func BenchmarkProcesses200(b *testing.B) {
	var procs []proc
	for i := range 200 {
		procs = append(procs, sh(fmt.Sprintf("p%03d", i), "exec sleep 600"))
	}
	inst := startInstance(b, procs...)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		ps, err := inst.client.Processes(ctx)
		if err != nil || len(ps) != 200 {
			b.Fatalf("%d processes, %v", len(ps), err)
		}
	}
}

// BenchmarkLogs1000 reads the newest 1000 lines, as `prox logs -n 1000`
// does.
func BenchmarkLogs1000(b *testing.B) {
	inst := startInstance(b, sh("chatty", "seq 1 5000; exec sleep 600"))
	ctx := context.Background()
	deadline := time.Now().Add(waitFor)
	for {
		l, err := inst.client.Logs(ctx, LogQuery{Limit: 1})
		if err == nil && len(l) == 1 && l[0].Line == "5000" {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the 5,000 lines never arrived: %v %v", l, err)
		}
		time.Sleep(tick)
	}
	b.ResetTimer()
	for b.Loop() {
		l, err := inst.client.Logs(ctx, LogQuery{Limit: 1000})
		if err != nil || len(l) != 1000 {
			b.Fatalf("%d lines, %v", len(l), err)
		}
	}
}

// BenchmarkFollowDecode measures the client's decoding of one message of a
// log follow stream (`prox logs -f`), a line as the server writes it
// (docs/performance.md has the figures).
func BenchmarkFollowDecode(b *testing.B) {
	e := logs.LogEntry{Timestamp: time.Now(), Process: "web", Stream: sdk.Stdout, Line: bytes.Repeat([]byte("0123456789"), 10)}
	msg := appendLogLine(nil, &e)
	msg = msg[:len(msg)-1] // the stream's reader strips the newline
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := decodeFollow(msg)
		if err != nil || m.Line == nil || len(m.Line.Line) != 100 {
			b.Fatalf("%+v, %v", m, err)
		}
	}
}
