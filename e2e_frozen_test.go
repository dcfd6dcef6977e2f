package main

import (
	"fmt"
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

// frozenStopBound is how long a stop may take with a frozen runner plugin,
// past the process's stop timeout: supervisor.DefaultKillWait (5 s) for
// the runner to report the exit after SIGKILL, then the runner's shutdown
// (loader's shutdownTimeout, 5 s) before prox kills the plugin, plus slack
// for a loaded machine. docs/reliability.md says what it measured.
const frozenStopBound = 10*time.Second + 10*time.Second

// frozenConfig writes a prox.hcl whose one process runs until it is
// stopped, with a stop timeout of 1 s.
func frozenConfig(t *testing.T) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(`
process "a" {
  command = ["sleep", "3601"]
  stop {
    timeout = "1s"
  }
}
`), 0o644))
	return cfg
}

// startFrozen runs prox up with frozenConfig, and once its process runs,
// freezes its runner plugin (SIGSTOP). It returns the plugin's PID and the
// process's cgroup ("" without one).
func startFrozen(t *testing.T) (r *run, cfg string, plugin int, cgroup string) {
	t.Helper()
	cfg = frozenConfig(t)
	r = startUp(t, cfg)
	require.Eventually(t, func() bool {
		return len(pidsOf(r.marker, "sleep 3601")) == 1 && len(pidsOf(r.marker, "plugin-serve runner exec")) == 1
	}, 30*time.Second, 20*time.Millisecond, "the process never ran: %s", r.output())
	plugin = pidsOf(r.marker, "plugin-serve runner exec")[0]
	if dir := cgroupDir(t, pidsOf(r.marker, "sleep 3601")[0]); strings.HasPrefix(filepath.Base(filepath.Dir(dir)), "prox-") {
		cgroup = dir // the exec runner's, not the test's own
	}
	require.NoError(t, syscall.Kill(plugin, syscall.SIGSTOP))
	require.Eventually(t, func() bool { return processState(plugin) == "T" }, 10*time.Second, 20*time.Millisecond, "the plugin is not stopped")
	return r, cfg, plugin, cgroup
}

// requireFrozenRunEnded checks what a stop with a frozen runner leaves:
// one ERROR line naming the process, no process and no plugin (the frozen
// one included), and no cgroup.
func requireFrozenRunEnded(t *testing.T, r *run, plugin int, cgroup string) {
	t.Helper()
	assert.Regexp(t, `\[ERROR\] .*its runner did not report the exit after SIGKILL: process=a runner=exec`, r.stderrString())
	requireNoneLeft(t, r.marker)
	assert.Contains(t, []string{"", "Z"}, processState(plugin), "the frozen plugin is gone")
	if cgroup != "" {
		requireCgroupsGone(t, cgroup)
	}
}

// Ctrl-C with the runner plugin frozen (kill -STOP): prox gives up on the
// exit its runner never reports, kills the plugin, which does not answer
// its shutdown, and exits within the process's stop timeout plus a bound.
func TestUpInterruptWithFrozenRunnerPlugin(t *testing.T) {
	r, _, plugin, cgroup := startFrozen(t)

	start := time.Now()
	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, r.waitWithin(t, time.Second+frozenStopBound), "a requested stop ends stopped")
	t.Logf("prox exited %s after Ctrl-C (stop timeout 1s)", time.Since(start).Round(10*time.Millisecond))
	requireFrozenRunEnded(t, r, plugin, cgroup)
}

// prox stop and prox down with the runner plugin frozen: the stop of the
// process ends after its stop timeout plus DefaultKillWait, and prox down
// ends prox within the bound.
func TestStopAndDownWithFrozenRunnerPlugin(t *testing.T) {
	r, cfg, plugin, cgroup := startFrozen(t)

	start := time.Now()
	stop := exec.Command(buildProx(t), "stop", "-config", cfg, "a")
	stop.Env = append(os.Environ(), "NO_COLOR=1")
	done := make(chan error, 1)
	var out []byte
	go func() {
		var err error
		out, err = stop.CombinedOutput()
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err, string(out))
	case <-time.After(time.Second + frozenStopBound):
		_ = stop.Process.Kill()
		t.Fatalf("prox stop a did not end\nstderr:\n%s", r.stderrString())
	}
	t.Logf("prox stop a ended after %s (stop timeout 1s)", time.Since(start).Round(10*time.Millisecond))
	ps, err := exec.Command(buildProx(t), "ps", "-config", cfg, "a").CombinedOutput()
	require.NoError(t, err, string(ps))
	assert.Regexp(t, `(?m)^a\s+stopped\b`, string(ps))

	start = time.Now()
	down := exec.Command(buildProx(t), "down", "-config", cfg)
	down.Env = append(os.Environ(), "NO_COLOR=1")
	downOut, err := down.CombinedOutput()
	require.NoError(t, err, fmt.Sprintf("%s\nprox up:\n%s", downOut, r.stderrString()))
	assert.Equal(t, 0, r.waitWithin(t, frozenStopBound))
	t.Logf("prox down ended prox after %s", time.Since(start).Round(10*time.Millisecond))
	requireFrozenRunEnded(t, r, plugin, cgroup)
}
