package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUpWebhookOutageAcrossARestart is the webhook outage of issue 15 as a
// user meets it, through prox and its plugin: an alert raised while the
// webhook is down is acknowledged once it is in the spool under .prox/,
// the stop is not held by the dead webhook, and the next prox up on the
// file delivers it, once, under the Idempotency-Key it was spooled with.
func TestUpWebhookOutageAcrossARestart(t *testing.T) {
	// The webhook's address, refusing connections until the receiver
	// listens on it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	// The process crashes at its first run only.
	crashedOnce := filepath.Join(dir, "crashed-once")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
sink "webhook" "alerts" {
  url    = "http://%s/hook"
  events = ["crashed"]
}

process "crasher" {
  command = ["sh", "-c", "if [ ! -e %s ]; then touch %s; echo crashing; exit 3; fi; echo calm; exec sleep 3600"]
  sinks   = ["webhook.alerts"]
  restart {
    policy  = "on-failure"
    backoff = "10ms"
  }
}
`, addr, crashedOnce, crashedOnce)), 0o644))
	spooled := func() []string {
		files, err := filepath.Glob(filepath.Join(dir, ".prox", "webhook", "*", "*.alert"))
		require.NoError(t, err)
		return files
	}

	first := startUp(t, cfg)
	first.waitOutput(t, `^crasher \| crashing$`, `^crasher \| calm$`)
	require.Eventually(t, func() bool { return len(spooled()) == 1 }, 30*time.Second, 20*time.Millisecond,
		"the crash alert is in the spool\nstderr:\n%s", first.stderrString())
	require.NoError(t, first.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, first.wait(t), "stderr:\n%s", first.stderrString())
	requireNoneLeft(t, first.marker)
	assert.Contains(t, first.stderrString(), "webhook request failed; the alerts stay in the spool and are retried")
	assert.NotContains(t, first.stderrString(), "[ERROR]", "nothing was dropped")
	records := spooled()
	require.Len(t, records, 1, "the alert stays in the spool for the next start")
	data, err := os.ReadFile(records[0])
	require.NoError(t, err)
	header, _, ok := bytes.Cut(data, []byte("\n"))
	require.True(t, ok)
	var rec struct {
		Key string `json:"key"`
	}
	require.NoError(t, json.Unmarshal(header, &rec))
	require.NotEmpty(t, rec.Key)

	// The webhook comes back, then prox.
	type request struct {
		key  string
		body []byte
	}
	var (
		mu   sync.Mutex
		reqs []request
	)
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err, "listening again on %s", addr)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, request{r.Header.Get("Idempotency-Key"), b})
		mu.Unlock()
	}))
	require.NoError(t, srv.Listener.Close())
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	received := func() []request {
		mu.Lock()
		defer mu.Unlock()
		return append([]request(nil), reqs...)
	}

	second := startUp(t, cfg)
	second.waitOutput(t, `^crasher \| calm$`)
	require.Eventually(t, func() bool { return len(received()) >= 1 && len(spooled()) == 0 }, 30*time.Second, 20*time.Millisecond,
		"the spooled alert is delivered\nstderr:\n%s", second.stderrString())
	require.NoError(t, second.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, second.wait(t), "stderr:\n%s", second.stderrString())
	requireNoneLeft(t, second.marker)

	got := received()
	require.Len(t, got, 1, "delivered once")
	assert.Equal(t, rec.Key, got[0].key, "under the key it was spooled with")
	var body struct {
		Alerts []struct {
			Process string `json:"process"`
			Event   struct {
				State    string `json:"state"`
				ExitCode int    `json:"exit_code"`
			} `json:"event"`
		} `json:"alerts"`
	}
	require.NoError(t, json.Unmarshal(got[0].body, &body), "%s", got[0].body)
	require.Len(t, body.Alerts, 1)
	assert.Equal(t, "crasher", body.Alerts[0].Process)
	assert.Equal(t, "crashed", body.Alerts[0].Event.State)
	assert.Equal(t, 3, body.Alerts[0].Event.ExitCode)
}
