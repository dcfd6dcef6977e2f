package file

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/require"
)

// TestConformance runs the SDK's sink conformance suite against the file
// sink, through the gRPC adapters as prox uses it. With every prefix on,
// the combined file tells back each line's timestamp, process and stream,
// and each event's process and state.
func TestConformance(t *testing.T) {
	paths := map[sdk.Sink]string{}
	sdktest.SinkSuite(t, func(t *testing.T) sdk.Sink {
		path := filepath.Join(t.TempDir(), "all.log")
		s := New()
		sdktest.Configure(t, s, map[string]any{
			"path": path, "timestamp": true, "process_prefix": true, "stream_prefix": true, "events": true,
		})
		paths[s] = path
		return s
	}, sdktest.SinkSuiteOptions{
		Read: func(t *testing.T, s sdk.Sink) []sdk.LogEntry {
			entries, _ := parseCombined(t, paths[s])
			return entries
		},
		ReadEvents: func(t *testing.T, s sdk.Sink) []sdk.Event {
			_, events := parseCombined(t, paths[s])
			return events
		},
		Fields: sdktest.FieldProcess | sdktest.FieldStream | sdktest.FieldTimestamp,
	})
}

// parseCombined parses a combined file written with every prefix:
// "TIMESTAMP PROCESS | STREAM LINE" for a line, "TIMESTAMP PROCESS |
// --- prox: process PROCESS STATE..." for an event.
func parseCombined(t *testing.T, path string) ([]sdk.LogEntry, []sdk.Event) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var entries []sdk.LogEntry
	var events []sdk.Event
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		require.GreaterOrEqual(t, i, 0, "the file ends without a newline")
		rec := data[:i]
		data = data[i+1:]
		stamp, rest, ok := bytes.Cut(rec, []byte(" "))
		require.True(t, ok, "no timestamp in %q", rec)
		ts, err := time.Parse(time.RFC3339Nano, string(stamp))
		require.NoError(t, err)
		process, rest, ok := bytes.Cut(rest, []byte(" | "))
		require.True(t, ok, "no process prefix in %q", rec)
		if ev, ok := bytes.CutPrefix(rest, []byte(eventPrefix)); ok {
			f := strings.Fields(string(ev))
			require.GreaterOrEqual(t, len(f), 2, "event line %q", rec)
			events = append(events, sdk.Event{Timestamp: ts, Process: f[0], State: sdk.ProcessState(f[1])})
			continue
		}
		stream, line, ok := bytes.Cut(rest, []byte(" "))
		require.True(t, ok, "no stream prefix in %q", rec)
		e := sdk.LogEntry{Timestamp: ts, Process: string(process), Line: line}
		switch string(stream) {
		case "stdout":
			e.Stream = sdk.Stdout
		case "stderr":
			e.Stream = sdk.Stderr
		default:
			t.Fatalf("stream %q in %q", stream, rec)
		}
		entries = append(entries, e)
	}
	return entries, events
}
