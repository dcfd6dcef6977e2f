package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prox-dev/prox/internal/testservers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUpAlertmanagerCrashAlertResolves runs prox with an alertmanager
// sink pointed at a real Alertmanager (Debian prometheus-alertmanager, a
// private instance on loopback): a process crashes once, and its alert is
// listed by GET /api/v2/alerts with its labels and last lines; once the
// process runs again, after its 3 s backoff, the alert is resolved and no
// longer listed.
func TestUpAlertmanagerCrashAlertResolves(t *testing.T) {
	am := testservers.StartAlertmanager(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(`
sink "alertmanager" "oncall" {
  urls   = ["`+am.URL+`"]
  labels = { team = "core" }
}

process "web" {
  command = ["sh", "-c", "if [ -e crashed-once ]; then echo back; exec sleep 600; fi; touch crashed-once; echo 'about to fail'; exit 3"]
  sinks   = ["alertmanager.oncall"]
  restart {
    policy  = "on-failure"
    backoff = "3s"
  }
}
`), 0o644))
	r := startUp(t, cfg)
	var alert *testservers.Alert
	deadline := time.Now().Add(20 * time.Second)
	for alert == nil {
		for _, a := range am.Alerts(t) {
			if a.Labels["process"] == "web" {
				alert = &a
			}
		}
		if alert == nil {
			require.False(t, time.Now().After(deadline), "the crash never showed in Alertmanager; prox stderr:\n%s", r.stderrString())
			time.Sleep(50 * time.Millisecond)
		}
	}
	assert.Equal(t, "ProxProcessCrashed", alert.Labels["alertname"])
	assert.Equal(t, "core", alert.Labels["team"])
	assert.Equal(t, "exit code 3", alert.Annotations["reason"])
	assert.Contains(t, alert.Annotations["last_lines"], "about to fail")
	assert.Equal(t, "active", alert.Status.State)

	r.waitOutput(t, "back")
	require.Eventually(t, func() bool {
		for _, a := range am.Alerts(t) {
			if a.Labels["process"] == "web" {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "resolved once the process runs again")

	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, r.wait(t), "stderr:\n%s", r.stderrString())
	requireNoneLeft(t, r.marker)
}

// TestUpPrometheusScrapesRestarts runs prox with a metrics block and a
// real Prometheus (Debian prometheus, a private instance on loopback)
// scraping its listener every second: after a process crashed twice and
// runs, a PromQL query through Prometheus's HTTP API returns 2 restarts,
// and the process up.
func TestUpPrometheusScrapesRestarts(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(testservers.FreePort(t))
	prom := testservers.StartPrometheus(t, addr)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(`
metrics {
  address = "`+addr+`"
}

process "web" {
  command = ["sh", "-c", "n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; if [ $n -ge 2 ]; then echo up; exec sleep 600; fi; echo crash $n; exit 3"]
  restart {
    policy  = "on-failure"
    backoff = "100ms"
  }
}
`), 0o644))
	r := startUp(t, cfg)
	r.waitOutput(t, "up")

	var samples []testservers.Sample
	deadline := time.Now().Add(30 * time.Second)
	for {
		samples = prom.Query(t, `prox_process_restarts_total{process="web",job="prox"}`)
		if len(samples) == 1 && samples[0].Value == 2 {
			break
		}
		require.False(t, time.Now().After(deadline), "Prometheus never had 2 restarts: %+v\nprox stderr:\n%s\nprometheus log:\n%s", samples, r.stderrString(), prom.Log())
		time.Sleep(200 * time.Millisecond)
	}
	assert.Equal(t, addr, samples[0].Metric["instance"])
	up := prom.Query(t, `prox_process_up{process="web"}`)
	require.Len(t, up, 1)
	assert.Equal(t, 1.0, up[0].Value)
	lines := prom.Query(t, `sum by (process) (prox_process_output_lines_total{process="web"})`)
	require.Len(t, lines, 1)
	assert.Equal(t, 3.0, lines[0].Value, "crash 0, crash 1, up")

	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, r.wait(t), "stderr:\n%s", r.stderrString())
	requireNoneLeft(t, r.marker)
}
