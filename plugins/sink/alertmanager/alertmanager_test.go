package alertmanager

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/plugins/sink/internal/alerting"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestURLWithoutSchemeIsRefusedAtValidate(t *testing.T) {
	err := sdktest.ConfigureError(t, New(), map[string]any{"urls": []string{"http://127.0.0.1:9093", "127.0.0.1:9093"}, "spool": t.TempDir()})
	require.Error(t, err)
	assert.Equal(t, []string{"urls"}, sdktest.AttributeNames(err))
	assert.Contains(t, err.Error(), "url 2: must start with http:// or https://")
	// prox validate (CheckOnly) refuses it too.
	cfg := sdktest.Values(t, schema, map[string]any{"urls": []string{"localhost:9093"}})
	cfg.CheckOnly = true
	require.ErrorContains(t, New().Configure(cfg), "must start with http:// or https://")
}

func TestConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		values map[string]any
		attrs  []string
		msg    string
	}{
		"no url":          {map[string]any{"urls": []string{}}, []string{"urls"}, "name at least one Alertmanager"},
		"twice":           {map[string]any{"urls": []string{"http://a:1", "http://a:1/"}}, []string{"urls"}, "url 2: named twice"},
		"reserved label":  {map[string]any{"urls": []string{"http://a:1"}, "labels": map[string]string{"process": "x"}}, []string{"labels"}, `"process" is set by the sink itself`},
		"bad label":       {map[string]any{"urls": []string{"http://a:1"}, "labels": map[string]string{"team-a": "x"}}, []string{"labels"}, "not a valid label name"},
		"resend 0":        {map[string]any{"urls": []string{"http://a:1"}, "resend_interval": "0s"}, []string{"resend_interval"}, "must be positive"},
		"bad match":       {map[string]any{"urls": []string{"ftp://a"}, "match": "(["}, []string{"urls", "match"}, "invalid regular expression"},
		"nothing to fire": {map[string]any{"urls": []string{"http://a:1"}, "events": []string{}}, []string{"events"}, "nothing triggers an alert"},
	} {
		t.Run(name, func(t *testing.T) {
			tc.values["spool"] = t.TempDir()
			err := sdktest.ConfigureError(t, New(), tc.values)
			require.Error(t, err)
			assert.Equal(t, tc.attrs, sdktest.AttributeNames(err))
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

// TestCrashFiresUntilTheProcessRecovers: a crash is pushed with the
// labels and annotations, with endsAt in the future; the process's start
// resolves it (endsAt the start's time).
func TestCrashFiresUntilTheProcessRecovers(t *testing.T) {
	am := newReceiver(t)
	s, _ := newSink(t, map[string]any{"urls": []string{am.URL}, "labels": map[string]string{"team": "core"}, "context_lines": 2})
	host, err := os.Hostname()
	require.NoError(t, err)

	lines := []sdk.LogEntry{line("web", "one"), line("web", "two"), line("web", "three")}
	crash := crashed("web")
	write(t, s, lines, crash)
	got := am.alerts()
	require.Len(t, got, 1)
	a := got[0]
	assert.Equal(t, map[string]string{"alertname": "ProxProcessCrashed", "process": "web", "host": host, "team": "core"}, a.Labels)
	assert.Equal(t, "two\nthree", a.Annotations["last_lines"])
	assert.Equal(t, "exit code 3", a.Annotations["reason"])
	assert.Equal(t, "process web crashed (exit 3)", a.Annotations["summary"])
	assert.True(t, a.StartsAt.Equal(crash.Timestamp))
	assert.True(t, a.EndsAt.After(time.Now().Add(3*time.Minute)), "fires: endsAt 4 resend intervals ahead, got %s", a.EndsAt)
	assert.Equal(t, 1, s.Stats().Firing)

	up := started("web")
	write(t, s, nil, up)
	got = am.alerts()
	require.Len(t, got, 2)
	assert.Equal(t, a.Labels, got[1].Labels, "the same alert")
	assert.True(t, got[1].StartsAt.Equal(crash.Timestamp))
	assert.True(t, got[1].EndsAt.Equal(up.Timestamp), "resolved at the start")
	assert.Zero(t, s.Stats().Firing)
}

// TestCrashAndRecoveryInOneBatch sends the alert once, resolved.
func TestCrashAndRecoveryInOneBatch(t *testing.T) {
	am := newReceiver(t)
	s, _ := newSink(t, map[string]any{"urls": []string{am.URL}})
	crash := crashed("web")
	up := started("web")
	up.Timestamp = crash.Timestamp.Add(time.Millisecond)
	write(t, s, nil, crash, up)
	got := am.alerts()
	require.Len(t, got, 1)
	assert.True(t, got[0].EndsAt.Equal(up.Timestamp))
}

// TestFiringAlertsAreResent: while an alert fires, it goes again every
// resend_interval, with endsAt moving on; once resolved, it is not sent
// again.
func TestFiringAlertsAreResent(t *testing.T) {
	am := newReceiver(t)
	s, _ := newSink(t, map[string]any{"urls": []string{am.URL}, "resend_interval": "50ms"})
	write(t, s, nil, crashed("web"))
	require.Eventually(t, func() bool { return am.count("web") >= 3 }, waitFor, tick, "resent")
	got := am.alerts()
	assert.True(t, got[len(got)-1].EndsAt.After(got[0].EndsAt), "endsAt moves on")
	assert.True(t, got[len(got)-1].StartsAt.Equal(got[0].StartsAt), "startsAt stays")

	write(t, s, nil, started("web"))
	resolvedAt := am.count("web")
	// Another process's alert, resent several times, shows that resends
	// go on without the resolved one.
	write(t, s, nil, crashed("db"))
	require.Eventually(t, func() bool { return am.count("db") >= 3 }, waitFor, tick)
	assert.Equal(t, resolvedAt, am.count("web"), "a resolved alert is not resent")
}

// TestRefusedAlertIsNotRetried: an Alertmanager that answers 400 gets no
// retry of that alert, neither as a retry nor as a resend, and the answer
// is logged once.
func TestRefusedAlertIsNotRetried(t *testing.T) {
	am := newReceiver(t)
	am.respond = func(alerts []postableAlert) (int, string) {
		for _, a := range alerts {
			if a.Labels["process"] == "bad" {
				return http.StatusBadRequest, `{"code":400,"message":"bad alert"}`
			}
		}
		return http.StatusOK, ""
	}
	s, logs := newSink(t, map[string]any{"urls": []string{am.URL}, "resend_interval": "50ms"})
	write(t, s, nil, crashed("bad"))
	write(t, s, nil, crashed("good"))
	require.Eventually(t, func() bool { return am.count("good") >= 4 }, waitFor, tick, "the good alert is resent")
	assert.Equal(t, 1, am.count("bad"), "one attempt, no retry, no resend")
	assert.Equal(t, 1, strings.Count(logs.String(), "alertmanager refused the alerts; dropping them"))
	assert.Contains(t, logs.String(), `"response":"{\"code\":400,\"message\":\"bad alert\"}"`)
	assert.Contains(t, logs.String(), `"status":400`)
	assert.EqualValues(t, 1, s.Stats().Dropped)
}

// TestClusterEachGetsEveryAlertAndOutageLosesNone: two Alertmanagers, one
// down while the crash happens: the other has it at once, the one that
// was down gets it when it is back.
func TestClusterEachGetsEveryAlertAndOutageLosesNone(t *testing.T) {
	a, b := newReceiver(t), newReceiver(t)
	b.stop()
	s, _ := newSink(t, map[string]any{"urls": []string{a.URL, b.URL}})
	write(t, s, nil, crashed("web"))
	assert.Equal(t, 1, a.count("web"))
	assert.Zero(t, b.count("web"))
	assert.EqualValues(t, 1, s.Stats().Spooled, "waiting for b")
	b.restart(t)
	require.Eventually(t, func() bool { return b.count("web") == 1 }, waitFor, tick, "delivered once b is back")
	require.Eventually(t, func() bool { return s.Stats().Spooled == 0 }, waitFor, tick)
}

// TestSpooledAlertsSurviveARestart: what an Alertmanager did not get
// before the sink closed is delivered by the next sink on the spool.
func TestSpooledAlertsSurviveARestart(t *testing.T) {
	am := newReceiver(t)
	am.stop()
	spool := t.TempDir()
	s, _ := newSink(t, map[string]any{"urls": []string{am.URL}, "spool": spool})
	write(t, s, nil, crashed("web"))
	require.NoError(t, s.Close(t.Context()))
	am.restart(t)
	next, _ := newSink(t, map[string]any{"urls": []string{am.URL}, "spool": spool})
	require.NoError(t, next.Flush(t.Context()))
	require.Eventually(t, func() bool { return am.count("web") == 1 }, waitFor, tick)
}

func TestMatchAlertIsAOneOff(t *testing.T) {
	am := newReceiver(t)
	s, _ := newSink(t, map[string]any{"urls": []string{am.URL}, "match": "panic", "cooldown": "2m"})
	l := line("api", "panic: oops")
	write(t, s, []sdk.LogEntry{l})
	got := am.alerts()
	require.Len(t, got, 1)
	assert.Equal(t, "ProxLogMatch", got[0].Labels["alertname"])
	assert.Equal(t, "panic: oops", got[0].Annotations["line"])
	assert.True(t, got[0].EndsAt.Equal(l.Timestamp.Add(2*time.Minute)))
	assert.Zero(t, s.Stats().Firing)
}

func TestConformance(t *testing.T) {
	receivers := map[sdk.Sink]*receiver{}
	sdktest.SinkSuite(t, func(t *testing.T) sdk.Sink {
		r := newReceiver(t)
		s := New()
		sdktest.Configure(t, s, map[string]any{"urls": []string{r.URL}, "events": []string{"started", "exited", "crashed"}, "cooldown": "0", "spool": t.TempDir()})
		receivers[s] = r
		return s
	}, sdktest.SinkSuiteOptions{})
}

// spooledKeys returns the Idempotency-Keys of the records in the spools
// under dir, oldest first.
func spooledKeys(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.alert"))
	require.NoError(t, err)
	sort.Strings(files)
	var keys []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		header, _, ok := bytes.Cut(data, []byte("\n"))
		require.True(t, ok, "a header line in %s", f)
		var h alerting.RecordHeader
		require.NoError(t, json.Unmarshal(header, &h))
		keys = append(keys, h.Key)
	}
	return keys
}

// TestOutageAndRestartLoseNoAlert: the webhook sink's promises hold for
// the alertmanager sink, which shares its spool and delivery. Alerts
// raised while the Alertmanager is down are acknowledged once on disk,
// wait there across a restart of the sink, and are delivered in order,
// each once, under the Idempotency-Key they were spooled with.
func TestOutageAndRestartLoseNoAlert(t *testing.T) {
	am := newReceiver(t)
	am.stop()
	spool := t.TempDir()
	values := func() map[string]any {
		return map[string]any{"urls": []string{am.URL}, "spool": spool, "cooldown": "0", "resend_interval": "1h"}
	}
	s, _ := newSink(t, values())
	procs := []string{"web", "db", "api"}
	for _, p := range procs {
		write(t, s, nil, crashed(p))
	}
	keys := spooledKeys(t, spool)
	require.Len(t, keys, 3, "the alerts wait in the spool")
	require.Eventually(t, func() bool { return s.Stats().Requests >= 4 }, waitFor, tick, "retried while the Alertmanager is down")
	assert.Zero(t, s.Stats().Dropped)
	require.NoError(t, s.Close(t.Context()))
	require.Len(t, spooledKeys(t, spool), 3, "they stay in the spool for the next start")

	am.restart(t)
	next, _ := newSink(t, values())
	require.NoError(t, next.Flush(t.Context()))
	require.Eventually(t, func() bool { return next.Stats().Sent == 3 }, waitFor, tick)
	reqs, got := am.received()
	require.Len(t, reqs, 3, "each request once")
	for i, req := range reqs {
		require.Len(t, req, 1)
		assert.Equal(t, procs[i], req[0].Labels["process"], "in the order they were raised")
	}
	assert.Equal(t, keys, got, "under the keys they were spooled with")
	assert.Empty(t, spooledKeys(t, spool))
}

// TestAlertsDroppedAfterRetryFor: a request not delivered within
// retry_for is dropped, counted and logged at ERROR; the alert, still
// firing, goes out again with the next resend once the Alertmanager is
// back.
func TestAlertsDroppedAfterRetryFor(t *testing.T) {
	am := newReceiver(t)
	am.stop()
	spool := t.TempDir()
	s, logs := newSink(t, map[string]any{"urls": []string{am.URL}, "spool": spool, "retry_for": "300ms", "resend_interval": "200ms"})
	write(t, s, nil, crashed("web"))
	require.Eventually(t, func() bool { return s.Stats().Dropped >= 1 }, waitFor, tick, "dropped once retry_for is over")
	assert.Contains(t, logs.String(), `"@level":"error","@message":"alerts not delivered within retry_for; dropping them"`)

	am.restart(t)
	require.Eventually(t, func() bool { return am.count("web") >= 1 }, waitFor, tick, "the firing alert is resent")
	got := am.alerts()
	assert.True(t, got[0].EndsAt.After(time.Now()), "still firing")
}
