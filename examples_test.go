package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The example plugins of examples/ are Go modules of their own (each with a
// replace to this repository), so this module cannot import them: these
// tests build and test them with the go command, validate their prox.hcl
// against the plugin they build, and run prox up with them.

// examplePlugins are the folders of examples/ and the plugin each builds.
var examplePlugins = []struct{ dir, plugin string }{
	{"chaos-runner", "chaos"},
	{"threshold-sink", "threshold"},
}

// goCommand runs the go command in dir and fails the test with its output
// when it fails.
func goCommand(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go %s in %s:\n%s", strings.Join(args, " "), dir, out)
}

// buildExample builds the example's plugin as prox-plugin-NAME into a new
// folder, with a copy of the example's prox.hcl, and returns the folder.
func buildExample(t *testing.T, dir, plugin string) string {
	t.Helper()
	out := t.TempDir()
	src, err := filepath.Abs(filepath.Join("examples", dir))
	require.NoError(t, err)
	goCommand(t, src, "build", "-o", filepath.Join(out, "prox-plugin-"+plugin), ".")
	hcl, err := os.ReadFile(filepath.Join(src, "prox.hcl"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(out, "prox.hcl"), hcl, 0o644))
	return out
}

// TestExamples runs each example's own tests (the conformance suite
// included) and checks that its prox.hcl is valid with the plugin it
// builds.
func TestExamples(t *testing.T) {
	for _, ex := range examplePlugins {
		t.Run(ex.dir, func(t *testing.T) {
			t.Parallel()
			goCommand(t, filepath.Join("examples", ex.dir), "test", "-race", "-count=1", "./...")

			dir := buildExample(t, ex.dir, ex.plugin)
			cmd := exec.Command(buildProx(t), "validate", "-config", "prox.hcl")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "prox validate of examples/%s/prox.hcl:\n%s", ex.dir, out)
			assert.Contains(t, string(out), "The configuration is valid")
		})
	}
}

// startProxUp runs `prox up` on the prox.hcl of dir (startUp of the
// end-to-end tests).
func startProxUp(t *testing.T, dir string) *run {
	t.Helper()
	return startUp(t, filepath.Join(dir, "prox.hcl"))
}

// The chaos runner kills its process again and again; prox restarts it each
// time, and stops everything on SIGINT.
func TestExampleChaosRunnerUp(t *testing.T) {
	t.Parallel()
	dir := buildExample(t, "chaos-runner", "chaos")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prox.hcl"), []byte(`
plugin "chaos" {
  path = "./prox-plugin-chaos"
}
runner "chaos" "fast" {
  kill_every = "300ms"
}
process "ticker" {
  command = ["sh", "-c", "echo started; while true; do sleep 0.1; echo tick; done"]
  runner  = "chaos.fast"
  restart {
    policy  = "always"
    backoff = "100ms"
  }
}
`), 0o644))
	u := startProxUp(t, dir)
	require.Eventually(t, func() bool { return u.count("ticker | started") >= 3 }, 30*time.Second, 20*time.Millisecond,
		"the process was not killed and restarted twice; output:\n%s", u.output())
	require.NoError(t, u.cmd.Process.Signal(syscall.SIGINT))
	u.wait(t)
	assert.Contains(t, u.output(), "chaos: signalling process", "the plugin logs its kills")
	requireNoneLeft(t, u.marker)
}

// The threshold sink, with the example's own prox.hcl: one alert for the
// burst of errors, in the file and through the command.
func TestExampleThresholdSinkUp(t *testing.T) {
	t.Parallel()
	dir := buildExample(t, "threshold-sink", "threshold")
	u := startProxUp(t, dir)
	require.Equal(t, 0, u.wait(t), "output:\n%s", u.output())
	assert.Equal(t, 1, u.count("flaky | done"))

	data, err := os.ReadFile(filepath.Join(dir, "alerts.jsonl"))
	require.NoError(t, err, "output:\n%s", u.output())
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 1, "one alert: %s", data)
	var alert struct {
		Process string `json:"process"`
		Count   int    `json:"count"`
		Matches []struct {
			Line string `json:"line"`
		} `json:"matches"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &alert))
	assert.Equal(t, "flaky", alert.Process)
	assert.Equal(t, 3, alert.Count)
	require.Len(t, alert.Matches, 3)
	assert.Equal(t, "ERROR number 1", alert.Matches[0].Line)

	summaries, err := os.ReadFile(filepath.Join(dir, "alert-summaries.txt"))
	require.NoError(t, err)
	assert.Equal(t, "3 matches of \"ERROR\" within 10s in flaky\n", string(summaries))
	requireNoneLeft(t, u.marker)
}
