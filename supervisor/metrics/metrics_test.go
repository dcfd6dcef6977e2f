package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/logs"
	execrunner "github.com/prox-dev/prox/plugins/runner/exec"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const waitFor = 20 * time.Second

// scrape returns the text h serves at GET /metrics.
func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// value returns the value of the series, exactly as written (name and
// labels in Prometheus's order), or fails.
func value(t *testing.T, text, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	require.NotNil(t, m, "no series %s in:\n%s", series, text)
	v, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	return v
}

// TestMetricsOfARealSupervisor runs processes with the exec runner and
// a real log manager with a sink, and reads every family back from the
// text format.
func TestMetricsOfARealSupervisor(t *testing.T) {
	logger := hclog.NewNullLogger()
	lm := logs.NewManager(logs.ManagerOptions{Logger: logger})
	require.NoError(t, lm.AttachSink("file.all", nil, discardTarget{}, logs.SinkOptions{}))
	dir := t.TempDir()
	runner := execrunner.New()
	spec := func(name, script string, restart supervisor.RestartPolicy) supervisor.ProcessSpec {
		return supervisor.ProcessSpec{Name: name, Runner: runner, RunnerName: "exec", StopTimeout: 5 * time.Second, Restart: restart,
			Config: sdk.ProcessConfig{Name: name, Command: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}, Dir: dir}}
	}
	sup := supervisor.New([]supervisor.ProcessSpec{
		spec("writer", "echo 12345; echo abc; echo e >&2; exec sleep 600", supervisor.RestartPolicy{}),
		// Crashes twice (exit 3), then runs.
		spec("crasher", `n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; [ "$n" -ge 2 ] && exec sleep 600; exit 3`,
			supervisor.RestartPolicy{Policy: "on-failure", Backoff: time.Millisecond, MaxBackoff: time.Millisecond}),
	}, supervisor.Options{Logger: logger, OutputBatch: lm.WriteStableBatch})
	require.NoError(t, sup.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		assert.NoError(t, sup.Stop(ctx))
		assert.NoError(t, lm.Close(ctx))
		assert.NoError(t, runner.Shutdown())
	})
	h := Handler(Source{Supervisor: sup, Logs: lm, Version: "1.2.3", Plugins: func() []Plugin {
		return []Plugin{{ID: "sink.file.all", Up: true}, {ID: "runner.exec", Up: false, Relaunches: 2}}
	}})

	var text string
	ok := assert.Eventually(t, func() bool {
		text = scrape(t, h)
		return regexp.MustCompile(`(?m)^prox_process_restarts_total\{process="crasher",replica=""\} 2$`).MatchString(text) &&
			regexp.MustCompile(`(?m)^prox_process_up\{process="crasher",replica=""\} 1$`).MatchString(text) &&
			regexp.MustCompile(`(?m)^prox_process_output_lines_total\{process="writer",replica="",stream="stderr"\} 1$`).MatchString(text) &&
			regexp.MustCompile(`(?m)^prox_sink_sent_total\{sink="file.all"\} 3$`).MatchString(text)
	}, waitFor, 10*time.Millisecond, "two restarts, all lines delivered")
	if !ok {
		t.Fatalf("last scrape:\n%s", text)
	}

	assert.Equal(t, 1.0, value(t, text, `prox_process_state{process="writer",replica="",state="running"}`))
	assert.Equal(t, 0.0, value(t, text, `prox_process_state{process="writer",replica="",state="crashed"}`))
	assert.Equal(t, 1.0, value(t, text, `prox_process_up{process="writer",replica=""}`))
	assert.Equal(t, 2.0, value(t, text, `prox_process_output_lines_total{process="writer",replica="",stream="stdout"}`))
	assert.Equal(t, 8.0, value(t, text, `prox_process_output_bytes_total{process="writer",replica="",stream="stdout"}`), "12345 and abc")
	assert.Equal(t, 3.0, value(t, text, `prox_process_last_exit_code{process="crasher",replica=""}`))
	exit := value(t, text, `prox_process_last_exit_time_seconds{process="crasher",replica=""}`)
	start := value(t, text, `prox_process_start_time_seconds{process="crasher",replica=""}`)
	assert.InDelta(t, float64(time.Now().Unix()), exit, 60)
	assert.GreaterOrEqual(t, start, exit, "started after its last exit")
	assert.GreaterOrEqual(t, value(t, text, `prox_process_cpu_seconds_total{process="writer",replica=""}`), 0.0)
	assert.Positive(t, value(t, text, `prox_process_memory_bytes{process="writer",replica=""}`), "sleep's resident set, from /proc")
	assert.Equal(t, 0.0, value(t, text, `prox_sink_queued_entries{sink="file.all"}`))
	assert.Equal(t, 0.0, value(t, text, `prox_sink_failures_total{sink="file.all"}`))
	assert.Equal(t, 0.0, value(t, text, `prox_sink_dropped_total{sink="file.all"}`))
	assert.Positive(t, value(t, text, `prox_sink_batch_duration_seconds_count{sink="file.all"}`))
	assert.Equal(t, 1.0, value(t, text, `prox_plugin_up{plugin="sink.file.all"}`))
	assert.Equal(t, 0.0, value(t, text, `prox_plugin_up{plugin="runner.exec"}`))
	assert.Equal(t, 2.0, value(t, text, `prox_plugin_relaunches_total{plugin="runner.exec"}`))
	assert.Regexp(t, `(?m)^prox_build_info\{goversion="go[^"]+",version="1\.2\.3"\} 1$`, text)
	assert.Regexp(t, `(?m)^# TYPE prox_process_restarts_total counter$`, text)
	assert.Regexp(t, `(?m)^# TYPE prox_sink_batch_duration_seconds histogram$`, text)
	assert.Regexp(t, `(?m)^go_goroutines `, text)
	assert.Regexp(t, `(?m)^process_resident_memory_bytes `, text)
	assert.NotContains(t, text, "prox_process_health", "no health check, no health series")
}

// TestLocalUsage: a local process (its runner reported a containment)
// is read from /proc: a busy loop's CPU time grows, its memory shows.
func TestLocalUsage(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "while :; do :; done")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	p := supervisor.ProcessInfo{PID: cmd.Process.Pid, Containment: "process-group"}
	var first Usage
	require.Eventually(t, func() bool {
		u, ok := ProcessUsage(p)
		first = u
		return ok && u.CPUSeconds > 0.05
	}, waitFor, 10*time.Millisecond, "the busy loop's CPU time shows")
	assert.Positive(t, first.MemoryBytes)
	u, ok := ProcessUsage(p)
	require.True(t, ok)
	assert.GreaterOrEqual(t, u.CPUSeconds, first.CPUSeconds)
}

func TestRemoteProcessHasNoUsage(t *testing.T) {
	_, ok := ProcessUsage(supervisor.ProcessInfo{PID: os.Getpid()})
	assert.False(t, ok, "a PID no local runner reported may be another machine's")
}

type discardTarget struct{}

func (discardTarget) Open(context.Context) (sdk.Sink, error) { return discardSink{}, nil }

type discardSink struct{}

func (discardSink) Write(context.Context, *sdk.Batch) error { return nil }
func (discardSink) Flush(context.Context) error             { return nil }
func (discardSink) Close(context.Context) error             { return nil }

// snapshots is a supervisor's view given as it is.
type snapshots []supervisor.ProcessInfo

func (s snapshots) Processes() []supervisor.ProcessInfo { return s }

// TestHealthSeries: a process with a health check has one series per
// status, 1 for its own; a failed process's state is failed, and a
// process signalled to death has exit code -1.
func TestHealthSeries(t *testing.T) {
	exit := time.Unix(1_700_000_000, 500_000_000)
	text := scrape(t, Handler(Source{Supervisor: snapshots{
		{Name: "api", State: supervisor.StateRunning, PID: 1, Health: &supervisor.HealthInfo{Status: supervisor.HealthStatus(sdk.StateUnhealthy)}},
		{Name: "job", State: supervisor.StateFailed, Restarts: 5, LastExit: &supervisor.ExitStatus{Code: -1, Signal: "SIGKILL", Time: exit}},
	}, Usage: func(supervisor.ProcessInfo) (Usage, bool) { return Usage{CPUSeconds: 1.5, MemoryBytes: 4096}, true }}))
	assert.Equal(t, 1.0, value(t, text, `prox_process_health{process="api",replica="",status="unhealthy"}`))
	assert.Equal(t, 0.0, value(t, text, `prox_process_health{process="api",replica="",status="healthy"}`))
	assert.Equal(t, 0.0, value(t, text, `prox_process_health{process="api",replica="",status="unknown"}`))
	assert.NotContains(t, text, `prox_process_health{process="job",replica=""`)
	assert.Equal(t, 1.5, value(t, text, `prox_process_cpu_seconds_total{process="api",replica=""}`))
	assert.Equal(t, 4096.0, value(t, text, `prox_process_memory_bytes{process="api",replica=""}`))
	assert.NotContains(t, text, `prox_process_cpu_seconds_total{process="job",replica=""}`, "not running: no usage")
	assert.Equal(t, 1.0, value(t, text, `prox_process_state{process="job",replica="",state="failed"}`))
	assert.Equal(t, 5.0, value(t, text, `prox_process_restarts_total{process="job",replica=""}`))
	assert.Equal(t, -1.0, value(t, text, `prox_process_last_exit_code{process="job",replica=""}`))
	assert.Equal(t, 1.7000000005e+09, value(t, text, `prox_process_last_exit_time_seconds{process="job",replica=""}`))
}

// TestReplicaLabel: the instances of a block with replicas are series of
// their block's process with a replica label, their output too; a plain
// process's replica label is empty (no label, to Prometheus).
func TestReplicaLabel(t *testing.T) {
	lm := logs.NewManager(logs.ManagerOptions{Logger: hclog.NewNullLogger()})
	t.Cleanup(func() { assert.NoError(t, lm.Close(context.Background())) })
	lm.WriteStableBatch([]logs.LogEntry{{Timestamp: time.Now(), Process: "web.1", Stream: sdk.Stderr, Line: []byte("oops")}}, nil)
	text := scrape(t, Handler(Source{Supervisor: snapshots{
		{Name: "web.0", Group: "web", State: supervisor.StateRunning},
		{Name: "web.1", Group: "web", State: supervisor.StateCrashed, Restarts: 1},
		{Name: "db", Group: "db", State: supervisor.StateRunning},
	}, Logs: lm}))
	assert.Equal(t, 1.0, value(t, text, `prox_process_up{process="web",replica="0"}`))
	assert.Equal(t, 0.0, value(t, text, `prox_process_up{process="web",replica="1"}`))
	assert.Equal(t, 1.0, value(t, text, `prox_process_restarts_total{process="web",replica="1"}`))
	assert.Equal(t, 1.0, value(t, text, `prox_process_output_lines_total{process="web",replica="1",stream="stderr"}`))
	assert.Equal(t, 4.0, value(t, text, `prox_process_output_bytes_total{process="web",replica="1",stream="stderr"}`))
	assert.Equal(t, 1.0, value(t, text, `prox_process_up{process="db",replica=""}`))
	assert.NotContains(t, text, `process="web.1"`)
}
