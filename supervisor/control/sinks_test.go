package control

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// errDiskFull is what the failing sink answers.
var errDiskFull = errors.New("write /logs/app.log: no space left on device")

// fullDisk is a sink target whose sink answers every Write with
// errDiskFull until space comes back.
type fullDisk struct {
	space atomic.Bool // set: writes succeed
	mu    sync.Mutex
	lines int
	opens int
}

func (d *fullDisk) Open(context.Context) (sdk.Sink, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.opens++
	return d, nil
}

func (d *fullDisk) Write(_ context.Context, b *sdk.Batch) error {
	if !d.space.Load() {
		return errDiskFull
	}
	d.mu.Lock()
	d.lines += len(b.Entries)
	d.mu.Unlock()
	return nil
}

func (d *fullDisk) Flush(context.Context) error { return nil }
func (d *fullDisk) Close(context.Context) error { return nil }

func TestSinksShowAFailingSinkAndItsRecovery(t *testing.T) {
	// w writes once the sink is attached and the events followed.
	inst := startInstance(t, sh("w", `while [ ! -e go ]; do sleep 0.01; done; i=0; while [ $i -lt 50 ]; do echo "line $i"; i=$((i+1)); done; sleep 60`))
	ctx := testContext(t)
	events, err := inst.client.FollowEvents(ctx)
	require.NoError(t, err)
	defer events.Close()
	disk := &fullDisk{}
	require.NoError(t, inst.logs.AttachSink("file.small", []string{"w"}, disk, logs.SinkOptions{
		RetryMin: time.Millisecond, RetryMax: 20 * time.Millisecond,
	}))
	require.NoError(t, os.WriteFile(filepath.Join(inst.dir, "go"), nil, 0o644))
	inst.waitLines(t, "w", 50)

	// The events stream says it fails, with the error and the backlog.
	ev := nextSinkEvent(t, events)
	assert.Equal(t, EventSink, ev.Type)
	assert.Equal(t, "file.small", ev.Sink)
	assert.Equal(t, "ok", ev.From)
	assert.Equal(t, "failing", ev.To)
	assert.Equal(t, errDiskFull.Error(), ev.Reason)
	assert.Positive(t, ev.Queued)

	var sinks []Sink
	require.Eventually(t, func() bool {
		sinks, err = inst.client.Sinks(ctx)
		return err == nil && len(sinks) == 1 && sinks[0].Queued == 50 && sinks[0].Failures >= 2
	}, waitFor, tick, "the backlog is every line, retried: %+v %v", sinks, err)
	s := sinks[0]
	assert.Equal(t, "file.small", s.Name)
	assert.Equal(t, "failing", s.State)
	assert.Equal(t, errDiskFull.Error(), s.LastError)
	assert.False(t, s.Since.IsZero())
	assert.Zero(t, s.Relaunches, "the plugin answered: it is not relaunched")
	assert.Zero(t, s.Sent)

	// The JSON keys are exactly the documented ones.
	var raw []map[string]any
	require.NoError(t, json.Unmarshal(get(t, inst, "/v1/sinks"), &raw))
	require.Len(t, raw, 1)
	assert.ElementsMatch(t, []string{
		"name", "state", "since", "last_error", "queued", "queued_events", "sent", "sent_events", "batches",
		"failures", "relaunches", "dropped", "dropped_events", "undelivered", "undelivered_events",
	}, keys(raw[0]))

	// Space comes back: the sink recovers, and says so.
	disk.space.Store(true)
	ev = nextSinkEvent(t, events)
	assert.Equal(t, "failing", ev.From)
	assert.Equal(t, "ok", ev.To)
	require.Eventually(t, func() bool {
		sinks, err = inst.client.Sinks(ctx)
		return err == nil && len(sinks) == 1 && sinks[0].Sent == 50
	}, waitFor, tick)
	assert.Equal(t, "ok", sinks[0].State)
	assert.Empty(t, sinks[0].LastError)
	assert.Zero(t, sinks[0].Queued)
	disk.mu.Lock()
	assert.Equal(t, 1, disk.opens)
	disk.mu.Unlock()
}

// nextSinkEvent returns the next sink event of the stream, skipping the
// processes' events.
func nextSinkEvent(t *testing.T, s *EventStream) Event {
	t.Helper()
	for {
		ev, err := s.Next()
		require.NoError(t, err)
		if ev.Type == EventSink {
			return ev
		}
	}
}

func TestSinksWithoutLogsIs503(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"))
	inst.server.opts.Logs = nil
	_, err := inst.client.Sinks(testContext(t))
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, CodeUnavailable, apiErr.Code)
}
