package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMatchTrigger(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL, "match": `(?i)\berror\b`})
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{
		line("web", 0, "all good"),
		line("web", 1, "ERROR: disk full"),
		line("db", 2, "terrors are fine"),
		line("db", 3, "error: connection lost"),
	}, Events: []sdk.Event{crashed("web", 4)}})
	alerts := w.jsonAlerts(t)
	require.Len(t, alerts, 2, "only matching lines alert; with match set, events are not watched by default")
	assert.Equal(t, "web", alerts[0].Process)
	assert.Equal(t, "match", alerts[0].Trigger)
	assert.Equal(t, "ERROR: disk full", *alerts[0].Line)
	assert.Nil(t, alerts[0].Event)
	assert.Equal(t, "db", alerts[1].Process)
	assert.Equal(t, "error: connection lost", *alerts[1].Line)

	write(t, s, &sdk.Batch{Seq: 2, Entries: []sdk.LogEntry{line("web", 5, "fine"), line("db", 6, "fine")}})
	assert.Len(t, w.received(), 1, "a batch without triggers sends nothing")
}

func TestEventsTrigger(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL, "events": []string{"Crashed", "restarting"}})
	write(t, s, &sdk.Batch{Seq: 1, Events: []sdk.Event{
		{Timestamp: at(0), Process: "web", Type: "started", State: "running"},
		crashed("web", 1),
		{Timestamp: at(2), Process: "db", Type: "restarting", State: "backoff", Restarts: 1},
		{Timestamp: at(3), Process: "db", Type: "exited", State: "stopped"},
	}})
	alerts := w.jsonAlerts(t)
	require.Len(t, alerts, 2)
	assert.Equal(t, "web", alerts[0].Process)
	assert.Equal(t, "event", alerts[0].Trigger)
	require.NotNil(t, alerts[0].Event)
	assert.Equal(t, "crashed", alerts[0].Event.State)
	assert.Equal(t, 1, alerts[0].Event.ExitCode)
	assert.Nil(t, alerts[0].Line)
	assert.Equal(t, "db", alerts[1].Process)
	assert.Equal(t, "restarting", alerts[1].Event.Type, "an event is matched by its type too")
}

func TestDefaultEventsWithoutMatch(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL})
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{line("web", 0, "error")}, Events: []sdk.Event{
		{Timestamp: at(1), Process: "web", Type: "started", State: "running"},
		crashed("web", 2),
		{Timestamp: at(3), Process: "web", State: "failed"},
	}})
	alerts := w.jsonAlerts(t)
	require.Len(t, alerts, 2)
	assert.Equal(t, "crashed", alerts[0].Event.State)
	assert.Equal(t, "failed", alerts[1].Event.State)
}

func TestCooldownDeduplicatesACrashLoop(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL, "events": []string{"crashed"}, "cooldown": "300ms"})

	loop := &sdk.Batch{Seq: 1}
	for i := range 50 {
		loop.Events = append(loop.Events, crashed("web", i))
	}
	write(t, s, loop)
	alerts := w.jsonAlerts(t)
	require.Len(t, alerts, 1, "a crash loop raises one alert")
	assert.Equal(t, 49, alerts[0].Suppressed)
	assert.Equal(t, at(0), alerts[0].Time, "the alert is the first crash's")

	// The loop goes on, one crash per batch: nothing is sent until the
	// cooldown is over; the next alert counts the crashes in between.
	writes := 0
	for deadline := time.Now().Add(waitFor); len(w.received()) < 2; {
		require.True(t, time.Now().Before(deadline), "no second alert after %d crashes", writes)
		if writes > 0 {
			time.Sleep(tick) // the pace of the crash loop
		}
		writes++
		write(t, s, &sdk.Batch{Seq: uint64(1 + writes), Events: []sdk.Event{crashed("web", 100+writes)}})
	}
	alerts = w.jsonAlerts(t)
	require.Len(t, alerts, 2)
	assert.Equal(t, writes-1, alerts[1].Suppressed)
	assert.Equal(t, at(100+writes), alerts[1].Time)
	assert.EqualValues(t, 49+writes-1, s.Stats().Suppressed)
}

func TestCooldownIsPerProcessAndTrigger(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL, "match": "oops", "events": []string{"crashed", "failed"}, "cooldown": "1h"})
	for i := range 10 {
		write(t, s, &sdk.Batch{Seq: uint64(i + 1), Entries: []sdk.LogEntry{line("web", i, "oops"), line("db", i, "oops")},
			Events: []sdk.Event{crashed("web", i)}})
	}
	write(t, s, &sdk.Batch{Seq: 11, Events: []sdk.Event{{Timestamp: at(20), Process: "web", State: "failed"}}})
	alerts := w.jsonAlerts(t)
	var got []string
	for _, a := range alerts {
		name := a.Trigger
		if a.Event != nil {
			name = a.Event.State
		}
		got = append(got, a.Process+" "+name)
	}
	assert.Equal(t, []string{"web match", "db match", "web crashed", "web failed"}, got)
	assert.EqualValues(t, 27, s.Stats().Suppressed)
}

func TestCooldownZeroSendsEveryTrigger(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL, "cooldown": "0"})
	for i := range 3 {
		write(t, s, &sdk.Batch{Seq: uint64(i + 1), Events: []sdk.Event{crashed("web", i)}})
	}
	assert.Len(t, w.jsonAlerts(t), 3)
}

func TestContextLines(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL, "context_lines": 3, "cooldown": "0"})
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{
		line("web", 0, "w1"), line("db", 1, "d1"), line("web", 2, "w2"),
	}})
	write(t, s, &sdk.Batch{Seq: 2,
		Entries: []sdk.LogEntry{line("web", 3, "w3"), line("web", 4, "w4"), line("db", 5, "d2"), line("web", 10, "after the crash")},
		Events:  []sdk.Event{crashed("web", 6), crashed("db", 7)},
	})
	alerts := w.jsonAlerts(t)
	require.Len(t, alerts, 2)
	assert.Equal(t, []string{"w2", "w3", "w4"}, alerts[0].Context, "the last 3 lines of web before its crash")
	assert.Equal(t, []string{"d1", "d2"}, alerts[1].Context)

	write(t, s, &sdk.Batch{Seq: 3, Events: []sdk.Event{crashed("web", 11)}})
	alerts = w.jsonAlerts(t)
	require.Len(t, alerts, 3)
	assert.Equal(t, []string{"w3", "w4", "after the crash"}, alerts[2].Context)
}

func TestNoContextLines(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL, "context_lines": 0})
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{line("web", 0, "w1")}, Events: []sdk.Event{crashed("web", 1)}})
	alerts := w.jsonAlerts(t)
	require.Len(t, alerts, 1)
	assert.Empty(t, alerts[0].Context)
}

func TestSignatureVerifiesWithTheSecret(t *testing.T) {
	const secret = "correct horse battery staple"
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL, "secret": secret})
	write(t, s, &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}})

	reqs := w.received()
	require.Len(t, reqs, 1)
	got := reqs[0].Header.Get("X-Prox-Signature")
	require.True(t, strings.HasPrefix(got, "sha256="), got)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(reqs[0].Body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	assert.True(t, hmac.Equal([]byte(want), []byte(got)), "signature %s, want %s", got, want)

	mac = hmac.New(sha256.New, []byte("wrong secret"))
	mac.Write(reqs[0].Body)
	assert.NotEqual(t, "sha256="+hex.EncodeToString(mac.Sum(nil)), got)
}

func TestNoSignatureWithoutSecret(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL})
	write(t, s, &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}})
	assert.Empty(t, w.received()[0].Header.Values("X-Prox-Signature"))
}

func TestExtraHeaders(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL, "headers": map[string]string{
		"Authorization": "Bearer abc123",
		"x-team":        "payments",
	}})
	write(t, s, &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}})
	h := w.received()[0].Header
	assert.Equal(t, "Bearer abc123", h.Get("Authorization"))
	assert.Equal(t, "payments", h.Get("X-Team"))
	assert.Equal(t, "application/json", h.Get("Content-Type"))
	assert.Equal(t, "prox-webhook/"+Version, h.Get("User-Agent"))
}

func TestRetriesOn5xxThenDelivers(t *testing.T) {
	w := newWebhook(t, http.StatusServiceUnavailable, http.StatusInternalServerError)
	s, _ := newSink(t, map[string]any{"url": w.URL})
	require.NoError(t, s.Write(context.Background(), &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}}))

	require.Eventually(t, func() bool { return s.Stats().Sent == 1 }, waitFor, tick)
	// A delivered alert counts as sent just before it leaves the spool;
	// Flush returns once the spool is empty.
	require.NoError(t, s.Flush(context.Background()))
	reqs := w.received()
	require.Len(t, reqs, 3, "two failures, then the delivery")
	assert.Equal(t, reqs[0].Body, reqs[2].Body, "the same alert is resent")
	st := s.Stats()
	assert.EqualValues(t, 0, st.Dropped)
	assert.EqualValues(t, 3, st.Requests)
	assert.EqualValues(t, 2, st.Retries)
	assert.EqualValues(t, 0, st.Spooled)
}

func TestRetriesOn429(t *testing.T) {
	w := newWebhook(t, http.StatusTooManyRequests)
	s, _ := newSink(t, map[string]any{"url": w.URL})
	require.NoError(t, s.Write(context.Background(), &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}}))
	require.Eventually(t, func() bool { return s.Stats().Sent == 1 }, waitFor, tick)
	assert.Len(t, w.received(), 2)
}

func Test4xxIsNotRetried(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusMovedPermanently} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			w := newWebhook(t, status)
			s, logs := newSink(t, map[string]any{"url": w.URL})
			write(t, s, &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}})
			assert.Len(t, w.received(), 1)
			st := s.Stats()
			assert.EqualValues(t, 1, st.Dropped)
			assert.EqualValues(t, 0, st.Sent)
			assert.EqualValues(t, 0, st.Retries)
			assert.Contains(t, logs.String(), "webhook refused the alerts")
			assert.Contains(t, logs.String(), fmt.Sprintf(`"status":%d`, status))

			// The sink goes on with the next batch.
			write(t, s, &sdk.Batch{Seq: 2, Events: []sdk.Event{crashed("db", 1)}})
			assert.Len(t, w.received(), 2)
			assert.EqualValues(t, 1, s.Stats().Sent)
		})
	}
}

func TestCancelledWriteSpoolsOnResend(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL, "context_lines": 5})
	batch := &sdk.Batch{Seq: 7, Entries: []sdk.LogEntry{line("web", 0, "last words")}, Events: []sdk.Event{crashed("web", 1)}}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, s.Write(ctx, batch), context.Canceled)
	assert.Zero(t, s.Stats().Spooled, "a cancelled Write spools nothing")

	// The host sends the batch again: the alert goes out once, its context
	// not doubled by a second scan.
	write(t, s, batch)
	alerts := w.jsonAlerts(t)
	require.Len(t, alerts, 1)
	assert.Equal(t, []string{"last words"}, alerts[0].Context)
}

func TestWriteThatCannotSpoolFailsAndIsResent(t *testing.T) {
	w := newWebhook(t)
	dir := t.TempDir()
	s, logs := newSink(t, map[string]any{"url": w.URL, "spool": dir, "context_lines": 5})
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{line("web", 0, "first")}})

	// The spool's folder goes away: a record cannot be written.
	require.NoError(t, os.RemoveAll(dir))
	batch := &sdk.Batch{Seq: 2, Entries: []sdk.LogEntry{line("web", 1, "last words")}, Events: []sdk.Event{crashed("web", 2)}}
	err := s.Write(context.Background(), batch)
	require.ErrorContains(t, err, "alert spool", "not acknowledged: prox sends the batch again")
	assert.Empty(t, w.received())

	// It comes back; the resend spools the alerts of the first scan.
	require.NoError(t, os.MkdirAll(dir, 0o700))
	write(t, s, batch)
	alerts := w.jsonAlerts(t)
	require.Len(t, alerts, 1, "logs:\n%s", logs)
	assert.Equal(t, []string{"first", "last words"}, alerts[0].Context, "the context is not doubled by a second scan")
	assert.EqualValues(t, 1, s.Stats().Sent)
}

func TestSecretsNeverLogged(t *testing.T) {
	const (
		secret = "hmac-secret-4f9a"
		token  = "Bearer header-secret-77c1"
		path   = "/services/T000/B000/url-token-9d2e"
	)
	values := func(url string) map[string]any {
		return map[string]any{
			"url": url, "secret": secret, "retry_for": "0",
			"headers": map[string]string{"Authorization": token},
		}
	}
	check := func(t *testing.T, logs string) {
		t.Helper()
		require.NotEmpty(t, logs)
		for _, s := range []string{secret, "header-secret-77c1", "url-token-9d2e"} {
			assert.NotContains(t, logs, s)
		}
	}

	t.Run("5xx then 4xx", func(t *testing.T) {
		w := newWebhook(t, http.StatusInternalServerError, http.StatusForbidden)
		v := values(w.URL + path)
		delete(v, "retry_for")
		s, logs := newSink(t, v)
		require.NoError(t, s.Write(context.Background(), &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}}))
		require.Eventually(t, func() bool { return s.Stats().Dropped == 1 }, waitFor, tick, "dropped at the 403")
		require.Len(t, w.received(), 2)
		assert.Equal(t, token, w.received()[0].Header.Get("Authorization"))
		check(t, logs.String())
	})
	t.Run("network errors", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		s, logs := newSink(t, values("http://user:password-5b1@"+addr+path+"?token=url-token-9d2e"))
		require.NoError(t, s.Write(context.Background(), &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}}))
		require.Eventually(t, func() bool { return s.Stats().Dropped == 1 }, waitFor, tick, "dropped: retry_for is 0")
		check(t, logs.String())
		assert.NotContains(t, logs.String(), "password-5b1")
		assert.Contains(t, logs.String(), "http://"+addr, "the endpoint is named")
	})
	t.Run("config errors", func(t *testing.T) {
		for _, v := range []map[string]any{
			{"url": "ftp://h" + path, "secret": secret},
			{"url": "example.com" + path},
			{"url": "http://h" + path, "headers": map[string]string{"Bad Name": token}},
			{"url": "http://h" + path, "headers": map[string]string{"X-Ok": token + "\r\nInjected: 1"}},
		} {
			err := New().Configure(hostConfig(t, v))
			require.Error(t, err)
			check(t, err.Error())
		}
	})
}

func TestCloseEndsRetriesAndKeepsTheAlerts(t *testing.T) {
	w := newWebhook(t)
	w.respond = func(request) int { return http.StatusBadGateway }
	s, _ := newSink(t, map[string]any{"url": w.URL})
	require.NoError(t, s.Write(context.Background(), &sdk.Batch{Seq: 1, Events: []sdk.Event{crashed("web", 0)}}))
	require.Eventually(t, func() bool { return len(w.received()) >= 1 }, waitFor, tick)
	require.NoError(t, s.Close(context.Background()))
	st := s.Stats()
	assert.EqualValues(t, 0, st.Dropped, "the undelivered alert is not dropped")
	assert.EqualValues(t, 1, st.Spooled, "it stays in the spool for the next start")
	assert.ErrorContains(t, s.Write(context.Background(), &sdk.Batch{Seq: 2}), "closed")
	assert.NoError(t, s.Close(context.Background()), "a second Close is not an error")
}

func TestWriteBeforeConfigure(t *testing.T) {
	assert.ErrorContains(t, New().Write(context.Background(), &sdk.Batch{Seq: 1}), "not configured")
}
