package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUpFileSinkReceivesEveryLine(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	const n = 100000
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
sink "file" "all" {
  path = "%s/logs/{process}.log"
}

process "writer" {
  command = ["sh", "-c", "i=0; while [ $i -lt %d ]; do echo \"line $i\"; i=$((i+1)); done; echo done >&2"]
  sinks   = ["file.all"]
}

process "crasher" {
  command = ["sh", "-c", "echo about to fail; exit 7"]
  sinks   = ["file.all"]
}
`, dir, n)), 0o644))
	r := startUp(t, cfg)
	// Both exit by themselves; prox drains the sinks before exiting.
	assert.Equal(t, 1, r.wait(t), "crasher failed")

	f, err := os.Open(filepath.Join(dir, "logs", "writer.log"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	i := 0
	sawDone := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "--- prox:"):
			continue
		case line == "done":
			sawDone = true
			continue
		}
		require.Equal(t, fmt.Sprintf("line %d", i), line, "line %d intact and in order", i)
		i++
	}
	assert.Equal(t, n, i, "every line reached the file")
	assert.True(t, sawDone, "stderr too")

	crash, err := os.ReadFile(filepath.Join(dir, "logs", "crasher.log"))
	require.NoError(t, err)
	assert.Contains(t, string(crash), "about to fail")
	assert.Contains(t, string(crash), "--- prox: process crasher crashed", "events reach the sink")
	requireNoneLeft(t, r.marker)
}

func TestUpWebhookAlertsOnCrash(t *testing.T) {
	srv, received := webhookRecorder(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
sink "webhook" "alerts" {
  url    = %q
  events = ["crashed"]
  match  = "(?i)panic"
}

process "api" {
  command = ["sh", "-c", "echo starting; echo 'PANIC: out of cheese' >&2; exit 2"]
  sinks   = ["webhook.alerts"]
}
`, srv.URL)), 0o644))
	r := startUp(t, cfg)
	assert.Equal(t, 1, r.wait(t))
	bodies := received()
	require.NotEmpty(t, bodies, "the webhook was called before prox exited")
	all := strings.Join(bodies, "\n")
	var payload struct {
		Alerts []map[string]any `json:"alerts"`
	}
	require.NoError(t, json.Unmarshal([]byte(bodies[0]), &payload), bodies[0])
	assert.Contains(t, all, "out of cheese", "the matching line raised an alert")
	assert.Contains(t, all, "crashed", "the crash raised an alert")
	requireNoneLeft(t, r.marker)
}

func TestUpSinkPluginDeathLosesNoLine(t *testing.T) {
	// The file sink plugin is killed while lines flow through the shared
	// batch region: it is relaunched, the unacknowledged batch is sent
	// again, and every line reaches the file at least once, in order.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	const n = 30000
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
sink "file" "all" {
  path = "%s/logs/{process}.log"
}

process "writer" {
  command = ["sh", "-c", "i=0; while [ $i -lt %d ]; do echo \"line $i\"; i=$((i+1)); if [ $((i %% 1000)) -eq 0 ]; then sleep 0.1; fi; done"]
  sinks   = ["file.all"]
}
`, dir, n)), 0o644))
	r := startUp(t, cfg)
	logFile := filepath.Join(dir, "logs", "writer.log")
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Count(string(b), "\n") > 2000
	}, 30*time.Second, 10*time.Millisecond, "lines reach the file")
	sinks := pidsOf(r.marker, "plugin-serve sink file")
	require.Len(t, sinks, 1)
	require.NoError(t, syscall.Kill(sinks[0], syscall.SIGKILL))

	assert.Equal(t, 0, r.wait(t), "stderr:\n%s", r.stderrString())
	b, err := os.ReadFile(logFile)
	require.NoError(t, err)
	next := 0 // the first line not seen yet
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if strings.HasPrefix(line, "--- prox:") {
			continue
		}
		var i int
		_, err := fmt.Sscanf(line, "line %d", &i)
		require.NoError(t, err, "an intact line: %q", line)
		// A resent batch repeats lines already written (at least once),
		// never skips one.
		require.LessOrEqual(t, i, next, "line %d came before line %d", i, next)
		if i == next {
			next++
		}
	}
	assert.Equal(t, n, next, "every line reached the file")
	assert.Contains(t, r.stderrString(), "sink plugin died; relaunching it and resending the batch: sink=file.all")
	assert.Contains(t, r.stderrString(), "sink plugin relaunched: sink=file.all")
	requireNoneLeft(t, r.marker)
}

func TestUpRequestedStopIsNoCrash(t *testing.T) {
	// Ctrl-C stops a process that ignores SIGTERM: it needs SIGKILL after
	// its stop timeout, but the stop was asked for, so it ends stopped,
	// with the reason, and raises no "crashed" alert.
	srv, received := webhookRecorder(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	script, err := filepath.Abs("testdata/scripts/ignore_sigterm.sh")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
sink "webhook" "alerts" {
  url    = %q
  events = ["started", "crashed"]
}

sink "alertmanager" "oncall" {
  urls   = [%q]
  events = ["started", "crashed"]
}

process "stubborn" {
  command = [%q]
  sinks   = ["webhook.alerts", "alertmanager.oncall"]
  stop { timeout = "200ms" }
}
`, srv.URL, srv.URL, script)), 0o644))
	r := startUp(t, cfg)
	r.waitOutput(t, `^stubborn \| ignore_sigterm started$`)
	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, r.wait(t), "stderr:\n%s", r.stderrString())

	stderr := r.stderrString()
	assert.Contains(t, stderr, "stop timeout expired, sending SIGKILL: process=stubborn")
	assert.Regexp(t, `exited: process=stubborn state=stopped .*reason="killed after the stop timeout \(200ms\)"`, stderr)
	assert.NotContains(t, stderr, "state=crashed")
	all := strings.Join(received(), "\n")
	assert.Contains(t, all, `"summary":"process stubborn started"`, "the webhook was reached: the absence of a crash alert means something")
	assert.Contains(t, all, `"alertname":"ProxProcessStarted"`, "so was the Alertmanager")
	assert.NotContains(t, all, "crashed", "a requested stop raises no crash alert")
	assert.NotContains(t, all, "ProxProcessCrashed", "nor an Alertmanager alert")
	requireNoneLeft(t, r.marker)
}

// webhookRecorder starts an HTTP server on loopback that answers 200 and
// keeps every request body; received returns them so far.
func webhookRecorder(t *testing.T) (srv *httptest.Server, received func() []string) {
	t.Helper()
	var mu sync.Mutex
	var bodies []string
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(bodies)
	}
}

// proxCommand runs a control command of the prox binary on config and
// returns its stdout; it fails the test when the command fails.
func proxCommand(t *testing.T, config string, args ...string) string {
	t.Helper()
	out, err := tryProxCommand(t, config, args...)
	require.NoError(t, err)
	return out
}

// tryProxCommand runs a control command of the prox binary on config and
// returns its stdout, or an error with its stderr.
func tryProxCommand(t *testing.T, config string, args ...string) (string, error) {
	t.Helper()
	out, stderr, code := runProxCommand(t, config, args...)
	if code != 0 {
		return "", fmt.Errorf("prox %s: exit status %d: %s", strings.Join(args, " "), code, stderr)
	}
	return out, nil
}

// runProxCommand runs `prox COMMAND -config config ARGS...` (args[0] is
// the command): its stdout, its stderr and its exit code.
func runProxCommand(t *testing.T, config string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(buildProx(t), append(append(args[:1:1], "-config", config), args[1:]...)...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "PROX_SOCKET=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "stderr: %s", stderr.String())
		code = ee.ExitCode()
	}
	return string(out), stderr.String(), code
}

// sinkJSON is what the tests read of `prox sinks -json`.
type sinkJSON struct {
	Name       string `json:"name"`
	State      string `json:"state"`
	LastError  string `json:"last_error"`
	Queued     int    `json:"queued"`
	Sent       int    `json:"sent"`
	Failures   int    `json:"failures"`
	Relaunches int    `json:"relaunches"`
}

// waitSink polls `prox sinks -json` until the only sink satisfies ok.
func waitSink(t *testing.T, r *run, config string, what string, ok func(sinkJSON) bool) sinkJSON {
	t.Helper()
	var last []sinkJSON
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Until prox up listens, the command fails.
		out, err := tryProxCommand(t, config, "sinks", "-json")
		if err == nil {
			last = nil
			require.NoError(t, json.Unmarshal([]byte(out), &last), out)
			if len(last) == 1 && ok(last[0]) {
				return last[0]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sink never was %s: %+v %v\nstderr:\n%s", what, last, err, r.stderrString())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUpFailingSinkNeverHangsTheStop runs a file sink on /dev/full, where
// every write fails with "no space left on device" as on a full disk:
// prox keeps the sink's plugin and retries; `prox sinks` and `prox ps`
// show it failing with its backlog; Ctrl-C ends prox within the stop
// timeout and the sink's drain timeout, saying how much the sink never
// got.
func TestUpFailingSinkNeverHangsTheStop(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("/dev/full is needed for a sink whose writes fail: %v", err)
		}
		t.Skipf("no /dev/full, needed for a sink whose writes fail: %v", err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(`
sink "file" "small" {
  path          = "/dev/full"
  drain_timeout = "2s"
}

process "writer" {
  command = ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo \"line $i\"; i=$((i+1)); done; exec sleep 600"]
  sinks   = ["file.small"]
  stop { timeout = "3s" }
}
`), 0o644))
	r := startUp(t, cfg)
	s := waitSink(t, r, cfg, "failing with a backlog, retried", func(s sinkJSON) bool {
		return s.State == "failing" && s.Queued > 0 && s.Failures >= 3
	})
	assert.Contains(t, s.LastError, "no space left on device")
	sinkPlugins := pidsOf(r.marker, "plugin-serve sink file")
	require.Len(t, sinkPlugins, 1)

	table := proxCommand(t, cfg, "sinks")
	assert.Regexp(t, `(?m)^file\.small\s+failing\s+\d+s\s+[\d,]+ lines and \d+ events?\s+0\s+\d+\s+0\s+0\s+write: .*no space left on device$`, table)
	ps := proxCommand(t, cfg, "ps")
	assert.Regexp(t, `(?m)^sink file\.small: failing for \d+s, [\d,]+ lines and \d+ events? waiting: write: .*no space left on device \(prox sinks\)$`, ps)

	// More failures, on the same plugin process: it is alive, it answers.
	s = waitSink(t, r, cfg, "retried more", func(next sinkJSON) bool { return next.Failures > s.Failures+2 })
	assert.Zero(t, s.Relaunches)
	assert.Equal(t, sinkPlugins, pidsOf(r.marker, "plugin-serve sink file"), "the sink's plugin was not relaunched")

	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, r.wait(t), "stderr:\n%s", r.stderrString())
	stderr := r.stderrString()
	assert.Regexp(t, `\[ERROR\] prox: sink file\.small: [\d,]+ lines and \d+ events not delivered: write: failed to write log file: write /dev/full: no space left on device\n`, stderr)
	assert.Equal(t, 1, strings.Count(stderr, "not delivered"), "one line for the one sink")
	assert.NotContains(t, stderr, "relaunch")
	requireNoneLeft(t, r.marker)
}

// TestUpBinaryOutputAndUnterminatedLine: bytes that are not text (NUL,
// invalid UTF-8, a carriage return) reach the file sink untouched, a line
// longer than the 64 KiB maximum is split at it with nothing lost, and a
// last line without a newline is delivered when the process exits.
func TestUpBinaryOutputAndUnterminatedLine(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	long := strings.Repeat("x", 70000)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "long.txt"), []byte(long+"\n"), 0o644))
	require.NoError(t, os.WriteFile(cfg, []byte(`
sink "file" "raw" {
  path   = "logs/{process}.log"
  events = false
}

process "bin" {
  command = ["sh", "-c", "printf 'a\\000b\\377c\\r\\n'; cat long.txt; printf 'last without newline'"]
  sinks   = ["file.raw"]
}
`), 0o644))
	r := startUp(t, cfg)
	assert.Equal(t, 0, r.wait(t), "stderr:\n%s", r.stderrString())
	got, err := os.ReadFile(filepath.Join(dir, "logs", "bin.log"))
	require.NoError(t, err)
	want := "a\x00b\xffc\r\n" + long[:65536] + "\n" + long[65536:] + "\n" + "last without newline\n"
	assert.Equal(t, len(want), len(got))
	assert.True(t, string(got) == want, "the file holds the bytes as written, the long line split at 64 KiB, the last line whole")
	requireNoneLeft(t, r.marker)
}
