package command

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/prox-dev/prox/supervisor/control"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireDevFull skips the test where /dev/full (every write fails with
// ENOSPC) is missing, except under CI, where it fails.
func requireDevFull(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/full"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("/dev/full is needed for a sink whose writes fail: %v", err)
		}
		t.Skipf("no /dev/full, needed for a sink whose writes fail: %v", err)
	}
}

// fullSink is a configuration whose file sink writes to /dev/full, where
// every write fails with "no space left on device", like a full disk.
const fullSink = `
sink "file" "small" {
  path          = "/dev/full"
  drain_timeout = "1s"
}

process "w" {
  command = ["sh", "-c", "i=0; while [ $i -lt 100 ]; do echo line $i; i=$((i+1)); done; exec sleep 600"]
  sinks   = ["file.small"]
}
`

// TestSinksShowAFailingSink runs prox up with a sink that cannot write:
// prox sinks and prox ps say so while it runs, and the stop ends after
// the sink's drain timeout with one line saying what it never got.
func TestSinksShowAFailingSink(t *testing.T) {
	requireDevFull(t)
	rp := startProx(t, fullSink, "w")
	var sinks []control.Sink
	require.Eventually(t, func() bool {
		var err error
		sinks, err = rp.client.Sinks(context.Background())
		return err == nil && len(sinks) == 1 && sinks[0].State == "failing" && sinks[0].Queued == 100 && sinks[0].Failures >= 2
	}, ctlWait, ctlTick, "the sink fails and keeps every line: %+v", sinks)
	assert.Contains(t, sinks[0].LastError, "no space left on device")
	assert.Zero(t, sinks[0].Relaunches, "its plugin answers: it is not relaunched")

	code, out, errOut := rp.run(t, "sinks")
	require.Equal(t, 0, code, errOut)
	rows := lines(out)
	require.Len(t, rows, 2, out)
	assert.Regexp(t, `^NAME\s+STATE\s+FOR\s+WAITING\s+SENT\s+FAILURES\s+RELAUNCHES\s+LOST\s+LAST ERROR$`, rows[0])
	assert.Regexp(t, `^file\.small\s+failing\s+\d+s\s+100 lines and \d+ events?\s+0\s+\d+\s+0\s+0\s+write: .*no space left on device$`, rows[1])

	code, out, errOut = rp.run(t, "sinks", "-json")
	require.Equal(t, 0, code, errOut)
	var raw []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &raw), out)
	require.Len(t, raw, 1)
	assert.ElementsMatch(t, []string{
		"name", "state", "since", "last_error", "queued", "queued_events", "sent", "sent_events", "batches",
		"failures", "relaunches", "dropped", "dropped_events", "undelivered", "undelivered_events",
	}, keysOf(raw[0]))

	code, out, errOut = rp.run(t, "ps")
	require.Equal(t, 0, code, errOut)
	rows = lines(out)
	require.Len(t, rows, 3, out)
	assert.Regexp(t, `^w\s+running`, rows[1])
	assert.Regexp(t, `^sink file\.small: failing for \d+s, 100 lines and \d+ events? waiting: write: .*no space left on device \(prox sinks\)$`, rows[2])

	assert.Equal(t, 0, rp.stop(t))
	assert.Regexp(t, `\[ERROR\] prox: sink file\.small: 100 lines and \d+ events not delivered: write: .*no space left on device\n`, rp.up.ErrorWriter.String())
}

func TestSinksWithoutSinks(t *testing.T) {
	rp := startProx(t, threeSleepers, "a")
	code, out, errOut := rp.run(t, "sinks")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "No process sends its output to a sink.\n", out)
	code, out, _ = rp.run(t, "sinks", "-json")
	require.Equal(t, 0, code)
	assert.Equal(t, "[]\n", out)
	code, _, errOut = rp.run(t, "sinks", "extra")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "sinks takes no arguments")
}

func TestEventLineOfASink(t *testing.T) {
	at := time.Date(2025, 1, 2, 15, 4, 5, 0, time.Local)
	for _, tc := range []struct {
		ev   control.Event
		want string
	}{
		{control.Event{Time: at, Type: control.EventSink, Sink: "file.small", From: "ok", To: "failing",
			Reason: "write: no space left on device", Queued: 12288, QueuedEvents: 1},
			"15:04:05.000 sink file.small ok -> failing: write: no space left on device (12,288 lines and 1 event waiting)"},
		{control.Event{Time: at, Type: control.EventSink, Sink: "file.small", From: "failing", To: "ok"},
			"15:04:05.000 sink file.small failing -> ok: recovered"},
		{control.Event{Time: at, Type: control.EventSink, Sink: "webhook.alerts", From: "ok", To: "relaunching",
			Reason: "write: plugin unavailable", Queued: 1},
			"15:04:05.000 sink webhook.alerts ok -> relaunching: write: plugin unavailable (1 line waiting)"},
	} {
		assert.Equal(t, tc.want, eventLine(tc.ev))
	}
}
