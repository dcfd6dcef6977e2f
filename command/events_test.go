package command

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/cli"
	"github.com/prox-dev/prox/supervisor/control"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startEvents runs `prox events` with args until the returned stop is
// called, which returns its exit code; it returns once subscribed.
func startEvents(t *testing.T, rp *runningProx, args ...string) (*syncBuffer, func() int) {
	t.Helper()
	out := &syncBuffer{}
	ui := cli.NewMockUi()
	ctx, cancel := context.WithCancel(context.Background())
	c := &EventsCommand{Meta: Meta{Ui: ui, Stdout: out, Stderr: ui.ErrorWriter}, ctx: ctx, ready: make(chan struct{})}
	done := make(chan int, 1)
	go func() { done <- c.Run(append([]string{"-config", rp.config}, args...)) }()
	select {
	case <-c.ready:
	case code := <-done:
		t.Fatalf("events exited with %d: %s", code, ui.ErrorWriter.String())
	case <-time.After(ctlWait):
		t.Fatal("events never subscribed")
	}
	stopped, code := false, 0
	stop := func() int {
		if !stopped {
			stopped = true
			cancel()
			select {
			case code = <-done:
			case <-time.After(ctlWait):
				t.Fatal("events did not return after its context ended")
			}
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return out, stop
}

func TestEventsFollowsStateChanges(t *testing.T) {
	rp := startProx(t, threeSleepers, "a", "b", "c")
	out, stop := startEvents(t, rp)
	code, _, errOut := rp.run(t, "restart", "b")
	require.Equal(t, 0, code, errOut)
	want := []string{
		// The current states first, as kubectl get -w prints them.
		"a is running", "b is running", "c is running",
		"b running -> stopping", "b stopping -> stopped (SIGTERM)", "b stopped -> starting restarts=1", "b starting -> running restarts=1",
	}
	require.Eventually(t, func() bool { return len(lines(out.String())) >= len(want) }, ctlWait, ctlTick)
	assert.Equal(t, 0, stop())
	rows := lines(out.String())
	require.Len(t, rows, len(want), out.String())
	for i, row := range rows {
		_, err := time.Parse("15:04:05.000", row[:12])
		assert.NoError(t, err, "a time first: %q", row)
		assert.Equal(t, want[i], row[13:])
	}
}

func TestEventsJSON(t *testing.T) {
	rp := startProx(t, threeSleepers, "a", "b", "c")
	out, stop := startEvents(t, rp, "-json")
	code, _, errOut := rp.run(t, "stop", "c")
	require.Equal(t, 0, code, errOut)
	require.Eventually(t, func() bool { return len(lines(out.String())) >= 5 }, ctlWait, ctlTick)
	assert.Equal(t, 0, stop())
	var evs []control.Event
	for _, row := range lines(out.String()) {
		var ev control.Event
		require.NoError(t, json.Unmarshal([]byte(row), &ev), row)
		evs = append(evs, ev)
	}
	require.Len(t, evs, 5)
	for i, name := range []string{"a", "b", "c"} {
		assert.Equal(t, control.Event{Time: evs[i].Time, Type: "current", Process: name, To: "running"}, evs[i])
	}
	evs = evs[3:]
	assert.Equal(t, "state", evs[0].Type)
	assert.Equal(t, [3]string{"c", "running", "stopping"}, [3]string{evs[0].Process, evs[0].From, evs[0].To})
	assert.Equal(t, [3]string{"c", "stopping", "stopped"}, [3]string{evs[1].Process, evs[1].From, evs[1].To})
	require.NotNil(t, evs[1].Exit)
	assert.Equal(t, "SIGTERM", evs[1].Exit.Signal)
	assert.False(t, evs[1].Time.Before(evs[0].Time))
}

func TestEventsEndWhenProxStops(t *testing.T) {
	rp := startProx(t, threeSleepers, "a")
	out, stop := startEvents(t, rp)
	require.Equal(t, 0, rp.stop(t))
	assert.Equal(t, 0, stop())
	assert.True(t, strings.Contains(out.String(), "running -> stopping"), "the shutdown was followed: %s", out.String())
}

func TestEventsUsage(t *testing.T) {
	code, _, errOut := runCommand(t, "events", "extra")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "events takes no arguments")
}
