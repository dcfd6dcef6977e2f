package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

	// Every query of the example dashboard is valid PromQL on these
	// series, and its first panels show this prox.
	for _, q := range dashboardQueries(t) {
		got := prom.Query(t, q) // fails the test on an error
		if strings.HasPrefix(q, "sum(prox_process_up{") {
			require.Len(t, got, 1, q)
			assert.Equal(t, 1.0, got[0].Value, q)
		}
	}

	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, r.wait(t), "stderr:\n%s", r.stderrString())
	requireNoneLeft(t, r.marker)
}

// dashboardQueries returns the PromQL of every panel of the example
// Grafana dashboard, its variables set to match everything.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("examples", "observability", "grafana-dashboard.json"))
	require.NoError(t, err)
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &dash))
	require.Equal(t, "prox", dash.Title)
	var out []string
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, "panel %q", p.Title)
		for _, target := range p.Targets {
			require.NotEmpty(t, target.Expr, "panel %q", p.Title)
			out = append(out, strings.NewReplacer("$instance", ".*", "$process", ".*").Replace(target.Expr))
		}
	}
	return out
}

// TestObservabilityRules checks the example Prometheus configuration and
// rules with promtool (Debian prometheus), and runs the rules' unit tests:
// crash looping, unhealthy for 5 minutes, a growing sink backlog, a
// failed process and a dead plugin fire, and their look-alikes do not.
func TestObservabilityRules(t *testing.T) {
	promtool := testservers.Binary(t, "promtool", "prometheus")
	dir := filepath.Join("examples", "observability")
	for _, args := range [][]string{
		{"check", "rules", "prox-rules.yml"},
		{"check", "config", "prometheus.yml"},
		{"test", "rules", "prox-rules.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
		assert.Contains(t, string(out), "SUCCESS", "promtool %s", strings.Join(args, " "))
	}
}
