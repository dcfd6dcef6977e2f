package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// configured returns a sink configured with values, as prox would.
func configured(t *testing.T, values map[string]any) *Sink {
	t.Helper()
	s := New()
	sdktest.Configure(t, s, values)
	return s
}

// readAlerts returns the alerts appended to path.
func readAlerts(t *testing.T, path string) []Alert {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var alerts []Alert
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a Alert
		require.NoError(t, json.Unmarshal(sc.Bytes(), &a), "line %q", sc.Text())
		alerts = append(alerts, a)
	}
	require.NoError(t, sc.Err())
	return alerts
}

// TestConformance runs the SDK's sink suite. Configured to alert on every
// event, the sink's alert file tells which events it was delivered.
func TestConformance(t *testing.T) {
	files := map[sdk.Sink]string{}
	sdktest.SinkSuite(t, func(t *testing.T) sdk.Sink {
		path := filepath.Join(t.TempDir(), "alerts.jsonl")
		s := configured(t, map[string]any{
			"pattern": "^NEVER MATCHES$", "events": []string{"started", "exited", "crashed"},
			"count": 1, "cooldown": "0s", "file": path,
		})
		files[s] = path
		return s
	}, sdktest.SinkSuiteOptions{
		ReadEvents: func(t *testing.T, s sdk.Sink) []sdk.Event {
			var events []sdk.Event
			for _, a := range readAlerts(t, files[s]) {
				require.Len(t, a.Matches, 1)
				events = append(events, sdk.Event{Process: a.Matches[0].Process, Type: sdk.EventType(a.Matches[0].Event)})
			}
			return events
		},
	})
}

var t0 = time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)

// line returns an entry of process at t0+offset.
func line(process string, offset time.Duration, text string) sdk.LogEntry {
	return sdk.LogEntry{Timestamp: t0.Add(offset), Process: process, Stream: sdk.Stderr, Line: []byte(text)}
}

// writer writes batches with increasing Seq through the gRPC harness.
type writer struct {
	t    *testing.T
	sink sdk.Sink
	seq  uint64
}

func newWriter(t *testing.T, s *Sink) *writer {
	return &writer{t: t, sink: sdktest.NewSinkHarness(t, s)}
}

func (w *writer) write(entries ...sdk.LogEntry) error {
	w.seq++
	return w.sink.Write(context.Background(), &sdk.Batch{Seq: w.seq, Entries: entries})
}

func TestThresholdWindowAndCooldown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	w := newWriter(t, configured(t, map[string]any{
		"pattern": "ERROR", "count": 3, "window": "10s", "cooldown": "1m", "file": path,
	}))
	// Two matches, a line that does not match, then the third match but
	// 11 s after the first: never 3 within 10 s.
	require.NoError(t, w.write(line("web", 0, "ERROR one"), line("web", time.Second, "ERROR two"), line("web", 2*time.Second, "all fine")))
	require.NoError(t, w.write(line("web", 11*time.Second, "ERROR three")))
	assert.Empty(t, readAlerts(t, path), "no 3 matches within 10s yet")

	// Two more within 10 s of the previous one: 3 in the window.
	require.NoError(t, w.write(line("web", 12*time.Second, "ERROR four"), line("web", 13*time.Second, "ERROR \xff five")))
	alerts := readAlerts(t, path)
	require.Len(t, alerts, 1)
	a := alerts[0]
	assert.Equal(t, "web", a.Process)
	assert.Equal(t, 3, a.Count)
	assert.Equal(t, "10s", a.Window)
	assert.Equal(t, `3 matches of "ERROR" within 10s in web`, a.Summary)
	assert.True(t, a.First.Equal(t0.Add(11*time.Second)), "first %s", a.First)
	assert.True(t, a.Last.Equal(t0.Add(13*time.Second)), "last %s", a.Last)
	require.Len(t, a.Matches, 3)
	assert.Equal(t, []string{"ERROR three", "ERROR four", "ERROR \uFFFD five"},
		[]string{a.Matches[0].Line, a.Matches[1].Line, a.Matches[2].Line})
	assert.Equal(t, "stderr", a.Matches[0].Stream)

	// Within the cooldown (1 min after 13 s), a burst raises nothing.
	require.NoError(t, w.write(line("web", 20*time.Second, "ERROR"), line("web", 21*time.Second, "ERROR"), line("web", 22*time.Second, "ERROR")))
	assert.Len(t, readAlerts(t, path), 1, "quiet during the cooldown")

	// After it, one more burst: one more alert.
	require.NoError(t, w.write(line("web", 80*time.Second, "ERROR"), line("web", 81*time.Second, "ERROR"), line("web", 82*time.Second, "ERROR")))
	assert.Len(t, readAlerts(t, path), 2)
}

func TestThresholdPerProcess(t *testing.T) {
	for _, perProcess := range []bool{true, false} {
		t.Run(map[bool]string{true: "apart", false: "together"}[perProcess], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "alerts.jsonl")
			w := newWriter(t, configured(t, map[string]any{"pattern": "ERROR", "count": 2, "per_process": perProcess, "file": path}))
			require.NoError(t, w.write(line("web", 0, "ERROR"), line("worker", time.Second, "ERROR")))
			alerts := readAlerts(t, path)
			if perProcess {
				assert.Empty(t, alerts, "one match per process")
				return
			}
			require.Len(t, alerts, 1)
			assert.Equal(t, "", alerts[0].Process)
			assert.Contains(t, alerts[0].Summary, "in all processes")
		})
	}
}

func TestThresholdStreamsAndEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	s := configured(t, map[string]any{"pattern": "ERROR", "streams": []string{"stdout"}, "events": []string{"crashed"}, "count": 2, "file": path})
	sink := sdktest.NewSinkHarness(t, s)
	require.NoError(t, sink.Write(context.Background(), &sdk.Batch{Seq: 1,
		Entries: []sdk.LogEntry{line("web", 0, "ERROR on stderr: ignored")},
		Events:  []sdk.Event{{Timestamp: t0.Add(time.Second), Process: "web", Type: "exited"}},
	}))
	assert.Empty(t, readAlerts(t, path))
	out := line("web", 2*time.Second, "ERROR on stdout")
	out.Stream = sdk.Stdout
	require.NoError(t, sink.Write(context.Background(), &sdk.Batch{Seq: 2,
		Entries: []sdk.LogEntry{out},
		Events:  []sdk.Event{{Timestamp: t0.Add(3 * time.Second), Process: "web", Type: "crashed", Message: "exit status 1"}},
	}))
	alerts := readAlerts(t, path)
	require.Len(t, alerts, 1)
	require.Len(t, alerts[0].Matches, 2)
	assert.Equal(t, "ERROR on stdout", alerts[0].Matches[0].Line)
	assert.Equal(t, Match{Time: t0.Add(3 * time.Second), Process: "web", Event: "crashed", Message: "exit status 1"}, alerts[0].Matches[1])
}

func TestCommandDelivery(t *testing.T) {
	dir := t.TempDir()
	got := filepath.Join(dir, "got")
	w := newWriter(t, configured(t, map[string]any{
		"pattern": "panic:", "count": 1,
		"command": []string{"sh", "-c", `cat > "$1"; printf '%s|%s|%s\n' "$PROX_ALERT_PROCESS" "$PROX_ALERT_COUNT" "$PROX_ALERT_SUMMARY" >> "$1"`, "alert", got},
	}))
	require.NoError(t, w.write(line("api", 0, "panic: boom")))
	b, err := os.ReadFile(got)
	require.NoError(t, err)
	jsonLine, env, ok := strings.Cut(string(b), "\n")
	require.True(t, ok, "%q", b)
	var a Alert
	require.NoError(t, json.Unmarshal([]byte(jsonLine), &a))
	assert.Equal(t, "api", a.Process)
	assert.Equal(t, "panic: boom", a.Matches[0].Line)
	assert.Equal(t, `api|1|1 matches of "panic:" within 1m0s in api`+"\n", env)
}

// A failed delivery fails the Write; prox's retry of the same batch is not
// counted twice, and delivers the alert once the command works.
func TestFailedDeliveryIsRetried(t *testing.T) {
	dir := t.TempDir()
	ready, out := filepath.Join(dir, "ready"), filepath.Join(dir, "out")
	s := configured(t, map[string]any{
		"pattern": "ERROR", "count": 2, "cooldown": "0s",
		"command": []string{"sh", "-c", `test -e "$1" || { echo "not ready" >&2; exit 1; }; cat >> "$2"`, "alert", ready, out},
	})
	sink := sdktest.NewSinkHarness(t, s)
	batch := &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{line("web", 0, "ERROR"), line("web", time.Second, "ERROR")}}
	err := sink.Write(context.Background(), batch)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not ready")

	require.NoError(t, os.WriteFile(ready, nil, 0o644))
	require.NoError(t, sink.Write(context.Background(), batch), "the retry")
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(string(b), "\n"), "one alert, delivered once: %s", b)
}

func TestCommandTimeout(t *testing.T) {
	s := configured(t, map[string]any{"pattern": "ERROR", "count": 1, "command_timeout": "100ms",
		"command": []string{"sh", "-c", "sleep 1000"}})
	done := make(chan error, 1)
	go func() {
		done <- s.Write(context.Background(), &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{line("web", 0, "ERROR")}})
	}()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "deadline exceeded")
	case <-time.After(30 * time.Second):
		t.Fatal("the command was not stopped at its timeout")
	}
}

func TestConfigErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a")
	for _, tt := range []struct {
		values map[string]any
		want   string
	}{
		{map[string]any{"file": file}, "nothing to count"},
		{map[string]any{"pattern": "x"}, "nowhere to deliver"},
		{map[string]any{"pattern": "(", "file": file}, "pattern"},
		{map[string]any{"pattern": "x", "file": file, "count": 0}, "count"},
		{map[string]any{"pattern": "x", "file": file, "window": "0s"}, "window"},
		{map[string]any{"pattern": "x", "file": file, "cooldown": "-1s"}, "cooldown"},
		{map[string]any{"pattern": "x", "file": file, "streams": []string{"stdin"}}, "streams"},
		{map[string]any{"pattern": "x", "file": file, "command": []string{}}, "command"},
	} {
		err := sdktest.ConfigureError(t, New(), tt.values)
		require.Error(t, err, "%v", tt.values)
		assert.Contains(t, err.Error(), tt.want, "%v", tt.values)
	}
}
