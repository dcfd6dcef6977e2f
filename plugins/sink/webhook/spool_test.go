package webhook

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// idempotencyKey is the header a receiver de-duplicates by.
const idempotencyKey = "Idempotency-Key"

// The test binary is also the helper process of the tests that need a
// sink in another process (helper): with helperEnv set to the sink's
// values, it configures a sink, then, in mode "write", writes one alert
// (web crashed) and says "acknowledged" on stdout once Write returned, or
// in mode "hold" says "configured"; then it waits until the test kills it
// or closes its stdin.
const (
	helperEnv     = "PROX_WEBHOOK_TEST_HELPER"
	helperModeEnv = "PROX_WEBHOOK_TEST_HELPER_MODE"
)

func TestMain(m *testing.M) {
	if values := os.Getenv(helperEnv); values != "" {
		os.Exit(runHelper(values, os.Getenv(helperModeEnv)))
	}
	os.Exit(m.Run())
}

func runHelper(values, mode string) int {
	s := New()
	if err := s.Configure(&sdk.Config{APIVersion: 1, Values: json.RawMessage(values)}); err != nil {
		fmt.Fprintln(os.Stderr, "configure:", err)
		return 1
	}
	if mode == "write" {
		if err := s.Write(context.Background(), &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}}); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			return 1
		}
		fmt.Println("acknowledged")
	} else {
		fmt.Println("configured")
	}
	// Until killed, or until the test is gone (its end of stdin closed).
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// helper runs a sink in another process (see TestMain) and returns once it
// said what it did. The process is killed when the test ends.
func helper(t *testing.T, mode string, values map[string]any) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(hostConfig(t, values).Values), helperModeEnv+"="+mode)
	stderr := &logBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	said := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		said <- strings.TrimSpace(line)
	}()
	want := map[string]string{"write": "acknowledged", "hold": "configured"}[mode]
	select {
	case got := <-said:
		require.Equal(t, want, got, "the helper's stderr:\n%s", stderr)
	case <-time.After(waitFor):
		t.Fatalf("the helper said nothing within %s; its stderr:\n%s", waitFor, stderr)
	}
	return cmd
}

// recordFile is a record as the spool keeps it: a header line, then the
// request body.
type recordFile struct {
	Key    string    `json:"key"`
	Time   time.Time `json:"time"`
	Alerts int       `json:"alerts"`
	Body   []byte    `json:"-"`
}

func readRecord(t *testing.T, path string) recordFile {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	header, body, ok := bytes.Cut(data, []byte("\n"))
	require.True(t, ok, "a header line: %q", data)
	var r recordFile
	require.NoError(t, json.Unmarshal(header, &r), string(header))
	r.Body = body
	return r
}

func TestWriteReturnsWithTheAlertOnDisk(t *testing.T) {
	w := newWebhook(t)
	dir := t.TempDir()
	s, _ := newSink(t, map[string]any{"url": w.URL, "spool": dir})
	w.stop()

	require.NoError(t, s.Write(context.Background(), &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}}))
	records := spoolRecords(t, dir)
	require.Len(t, records, 1, "when Write returns, the alert is on disk")
	rec := readRecord(t, records[0])
	assert.NotEmpty(t, rec.Key)
	assert.Equal(t, 1, rec.Alerts)
	var body jsonBody
	require.NoError(t, json.Unmarshal(rec.Body, &body), string(rec.Body))
	require.Len(t, body.Alerts, 1)
	assert.Equal(t, "web", body.Alerts[0].Process)
	assert.Equal(t, "crashed", body.Alerts[0].Event.State)

	// What goes out is that record, under its key.
	w.restart(t)
	require.NoError(t, s.Flush(context.Background()))
	require.Eventually(t, func() bool { return len(w.received()) == 1 }, waitFor, tick)
	got := w.received()[0]
	assert.Equal(t, rec.Body, got.Body)
	assert.Equal(t, rec.Key, got.Header.Get(idempotencyKey))
	require.Eventually(t, func() bool { return len(spoolRecords(t, dir)) == 0 }, waitFor, tick, "removed once delivered")
}

func TestOutageLosesNoAlert(t *testing.T) {
	w := newWebhook(t)
	dir := t.TempDir()
	s, _ := newSink(t, map[string]any{"url": w.URL, "cooldown": "0", "spool": dir})
	w.stop()

	procs := []string{"web", "db", "api"}
	for i, p := range procs {
		require.NoError(t, s.Write(context.Background(), &sdk.Batch{Seq: uint64(i + 1), Events: []sdk.Event{crashed(p, i)}}),
			"acknowledged while the webhook is down")
	}
	require.Len(t, spoolRecords(t, dir), 3, "the alerts wait in the spool")
	require.Eventually(t, func() bool { return s.Stats().Requests >= 4 }, waitFor, tick, "the delivery is retried while the webhook is down")
	assert.Zero(t, s.Stats().Dropped)

	back := w.restart(t)
	require.Eventually(t, func() bool { return len(w.received()) >= 3 && len(spoolRecords(t, dir)) == 0 }, waitFor, tick)
	reqs := w.received()
	require.Len(t, reqs, 3, "each alert is delivered once")
	assert.True(t, reqs[0].At.After(back), "delivered after the webhook came back")
	t.Logf("first delivery %s after the webhook came back", reqs[0].At.Sub(back))
	keys := map[string]bool{}
	for i, r := range reqs {
		var body jsonBody
		require.NoError(t, json.Unmarshal(r.Body, &body), string(r.Body))
		require.Len(t, body.Alerts, 1)
		assert.Equal(t, procs[i], body.Alerts[0].Process, "in the order they were raised")
		key := r.Header.Get(idempotencyKey)
		assert.NotEmpty(t, key, "request %d has an idempotency key", i)
		assert.False(t, keys[key], "request %d has a key of its own", i)
		keys[key] = true
	}
	st := s.Stats()
	assert.EqualValues(t, 3, st.Sent)
	assert.EqualValues(t, 0, st.Dropped)
}

func TestRetryAfter5xxCarriesTheSameKey(t *testing.T) {
	w := newWebhook(t)
	// A receiver that de-duplicates: it processes a key once. The first
	// request is processed, but the answer is a 500 (say, a proxy timed
	// out): the sender cannot tell, and retries.
	processed := map[string]int{}
	answered := 0
	w.respond = func(r request) int {
		key := r.Header.Get(idempotencyKey)
		if key == "" || processed[key] == 0 {
			processed[key]++
		}
		answered++
		if answered == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	s, _ := newSink(t, map[string]any{"url": w.URL})
	require.NoError(t, s.Write(context.Background(), &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}}))

	require.Eventually(t, func() bool { return s.Stats().Sent == 1 }, waitFor, tick)
	reqs := w.received()
	require.Len(t, reqs, 2, "the 500, then the delivery")
	assert.NotEmpty(t, reqs[0].Header.Get(idempotencyKey))
	assert.Equal(t, reqs[0].Header.Get(idempotencyKey), reqs[1].Header.Get(idempotencyKey), "the retry carries the same key")
	assert.Equal(t, reqs[0].Body, reqs[1].Body)
	w.mu.Lock()
	total := 0
	for _, n := range processed {
		total += n
	}
	w.mu.Unlock()
	assert.Equal(t, 1, total, "the receiver processed the alert once")
	assert.EqualValues(t, 1, s.Stats().Retries)
}

func TestSpooledAlertsDeliveredAfterARestart(t *testing.T) {
	t.Run("sink closed", func(t *testing.T) {
		w := newWebhook(t)
		dir := t.TempDir()
		values := map[string]any{"url": w.URL, "spool": dir}
		before, _ := newSink(t, values)
		w.stop()
		require.NoError(t, before.Write(context.Background(), &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}}))
		require.NoError(t, before.Flush(context.Background()), "a Flush that cannot deliver does not fail")
		require.NoError(t, before.Close(context.Background()))
		records := spoolRecords(t, dir)
		require.Len(t, records, 1, "the alert stays in the spool")
		key := readRecord(t, records[0]).Key

		w.restart(t)
		// A sink that is configured and closed, and never written to (prox
		// validate), sends nothing.
		validate := New()
		require.NoError(t, validate.Configure(hostConfig(t, values)))
		require.NoError(t, validate.Close(context.Background()))
		assert.Empty(t, w.received())

		after, _ := newSink(t, values)
		write(t, after, &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("db", 1)}})
		reqs := w.received()
		require.Len(t, reqs, 2)
		alerts := w.jsonAlerts(t)
		assert.Equal(t, "web", alerts[0].Process, "the spooled alert first")
		assert.Equal(t, "db", alerts[1].Process)
		assert.Equal(t, key, reqs[0].Header.Get(idempotencyKey), "under the key it was spooled with")
		assert.Empty(t, spoolRecords(t, dir))
	})
	t.Run("plugin killed", func(t *testing.T) {
		w := newWebhook(t)
		dir := t.TempDir()
		values := map[string]any{"url": w.URL, "spool": dir}
		w.stop()
		// A sink in another process acknowledges an alert, and is killed
		// (SIGKILL) at once.
		cmd := helper(t, "write", values)
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()
		records := spoolRecords(t, dir)
		require.Len(t, records, 1, "the acknowledged alert is in the spool")
		key := readRecord(t, records[0]).Key

		w.restart(t)
		after, _ := newSink(t, values)
		require.NoError(t, after.Flush(context.Background()))
		require.Eventually(t, func() bool { return len(w.received()) == 1 && len(spoolRecords(t, dir)) == 0 }, waitFor, tick)
		alerts := w.jsonAlerts(t)
		require.Len(t, alerts, 1, "delivered once")
		assert.Equal(t, "web", alerts[0].Process)
		assert.Equal(t, key, w.received()[0].Header.Get(idempotencyKey))
		assert.EqualValues(t, 1, after.Stats().Sent)
	})
}

func TestAlertsDroppedAfterRetryFor(t *testing.T) {
	w := newWebhook(t)
	dir := t.TempDir()
	s, logs := newSink(t, map[string]any{"url": w.URL, "retry_for": "300ms", "spool": dir})
	w.stop()

	require.NoError(t, s.Write(context.Background(), &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}}))
	require.Len(t, spoolRecords(t, dir), 1, "acknowledged once spooled, before any drop")
	assert.Zero(t, s.Stats().Dropped)
	require.Eventually(t, func() bool { return s.Stats().Dropped == 1 }, waitFor, tick, "dropped once retry_for is over")
	assert.GreaterOrEqual(t, s.Stats().Requests, int64(2), "retried until then")
	assert.Contains(t, logs.String(), `"@level":"error","@message":"alerts not delivered within retry_for; dropping them"`)
	assert.Empty(t, spoolRecords(t, dir))

	// The webhook comes back: the dropped alert is not sent, the next one is.
	w.restart(t)
	write(t, s, &sdk.Batch{Seq: 2, Events: []sdk.Event{crashed("db", 1)}})
	alerts := w.jsonAlerts(t)
	require.Len(t, alerts, 1)
	assert.Equal(t, "db", alerts[0].Process)
}

func TestFullSpoolDropsNewAlerts(t *testing.T) {
	w := newWebhook(t)
	dir := t.TempDir()
	s, logs := newSink(t, map[string]any{"url": w.URL, "cooldown": "0", "spool_max_alerts": 3, "spool": dir})
	w.stop()

	for i, procs := range [][]string{{"web", "db"}, {"api", "worker"}, {"cron"}} {
		b := &sdk.Batch{Seq: uint64(i + 1)}
		for j, p := range procs {
			b.Events = append(b.Events, crashed(p, 10*i+j))
		}
		require.NoError(t, s.Write(context.Background(), b), "a full spool does not fail the batch")
	}
	assert.Len(t, spoolRecords(t, dir), 2, "web and db, then api: the spool holds 3 alerts")
	assert.EqualValues(t, 2, s.Stats().Dropped, "worker and cron found it full")
	assert.Equal(t, 2, strings.Count(logs.String(), `"@level":"error","@message":"the alert spool is full; dropping new alerts"`))

	w.restart(t)
	require.Eventually(t, func() bool { return s.Stats().Sent == 3 }, waitFor, tick)
	var got []string
	for _, a := range w.jsonAlerts(t) {
		got = append(got, a.Process)
	}
	assert.Equal(t, []string{"web", "db", "api"}, got)
	assert.Len(t, w.received(), 2, "one request per batch")
}

func TestTwoSinksOfOneProxCannotShareASpool(t *testing.T) {
	w := newWebhook(t)
	t.Run("set", func(t *testing.T) {
		dir := t.TempDir()
		newSink(t, map[string]any{"url": w.URL, "spool": dir})
		err := New().Configure(hostConfig(t, map[string]any{"url": w.URL, "spool": dir}))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "spool: "+dir+": in use by another webhook sink")
		assert.Equal(t, []string{"spool"}, sdktest.AttributeNames(err))
	})
	t.Run("default", func(t *testing.T) {
		t.Chdir(t.TempDir()) // the configuration's folder
		first := New()
		require.NoError(t, first.Configure(hostConfig(t, map[string]any{"url": w.URL, "match": "panic"})))
		t.Cleanup(func() { _ = first.Close(context.Background()) })
		err := New().Configure(hostConfig(t, map[string]any{"url": w.URL, "events": []string{"failed"}}))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "spool: the default spool .prox/webhook/")
		assert.Contains(t, err.Error(), "give each webhook sink with this url a spool of its own")
		assert.Equal(t, []string{"spool"}, sdktest.AttributeNames(err))
	})
}

func TestSpoolHeldByAnotherProx(t *testing.T) {
	// Another prox's sink (a prox validate, or a prox still stopping)
	// holds the spool: Configure succeeds, Writes fail until it lets go.
	w := newWebhook(t)
	dir := t.TempDir()
	values := map[string]any{"url": w.URL, "spool": dir}
	other := helper(t, "hold", values)

	s, _ := newSink(t, values)
	err := s.Write(context.Background(), &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}})
	require.ErrorContains(t, err, fmt.Sprintf("in use by another webhook sink (process %d)", other.Process.Pid))

	require.NoError(t, other.Process.Kill())
	_ = other.Wait()
	write(t, s, &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}})
	assert.Len(t, w.jsonAlerts(t), 1)
}
