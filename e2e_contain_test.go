package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// escapeConfig writes a prox.hcl whose one process, testdata/scripts/
// escape.sh, starts descendants that leave its process group (setsid), lose
// their parent (double fork), or both, and prints their PIDs.
func escapeConfig(t *testing.T) string {
	t.Helper()
	script, err := filepath.Abs("testdata/scripts/escape.sh")
	require.NoError(t, err)
	cfg := filepath.Join(t.TempDir(), "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, `
process "escape" {
  command = [%q]
  stop {
    timeout = "5s"
  }
}
`, script), 0o644))
	return cfg
}

var escapeeLine = regexp.MustCompile(`^escape \| (setsid|orphan|daemon) (\d+)$`)

// startEscape runs prox up with escapeConfig (and env in its environment)
// and returns it with the PIDs of the three escapees, once they run, and
// their process's containment as `prox ps -json` shows it.
func startEscape(t *testing.T, env ...string) (r *run, cfg string, pids map[string]int, containment string) {
	t.Helper()
	cfg = escapeConfig(t)
	r = startUpEnv(t, cfg, env...)
	r.waitOutput(t, `^escape \| setsid \d+$`, `^escape \| orphan \d+$`, `^escape \| daemon \d+$`)
	pids = map[string]int{}
	r.mu.Lock()
	for _, l := range r.stdout {
		if m := escapeeLine.FindStringSubmatch(l); m != nil {
			pids[m[1]], _ = strconv.Atoi(m[2])
		}
	}
	r.mu.Unlock()
	require.Len(t, pids, 3)
	for kind, pid := range pids {
		require.Eventually(t, func() bool { return processState(pid) != "" && processState(pid) != "Z" }, 10*time.Second, 20*time.Millisecond,
			"the %s descendant (PID %d) does not run", kind, pid)
	}

	out, err := exec.Command(buildProx(t), "ps", "-json", "-config", cfg).Output()
	require.NoError(t, err)
	var ps []map[string]any
	require.NoError(t, json.Unmarshal(out, &ps), string(out))
	require.Len(t, ps, 1)
	containment, _ = ps[0]["containment"].(string)
	require.Contains(t, []string{"cgroup", "subreaper"}, containment, "prox ps -json names the exec runner's containment")
	return r, cfg, pids, containment
}

// requireEscapeesGone polls until none of pids runs (zombies aside).
func requireEscapeesGone(t *testing.T, pids map[string]int, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, pid := range pids {
			if st := processState(pid); st != "" && st != "Z" {
				return false
			}
		}
		return true
	}, within, 20*time.Millisecond, "a descendant survived: %v", describePIDs(mapPIDs(pids)))
}

func mapPIDs(m map[string]int) []int {
	var out []int
	for _, pid := range m {
		out = append(out, pid)
	}
	return out
}

// cgroupDir returns the folder of pid's cgroup v2, "" if it has none.
func cgroupDir(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	require.NoError(t, err)
	var path string
	for line := range strings.SplitSeq(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			path = p
		}
	}
	f, err := os.Open("/proc/self/mountinfo")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pre, post, _ := strings.Cut(sc.Text(), " - ")
		if fields := strings.Fields(pre); strings.HasPrefix(post, "cgroup2 ") && len(fields) > 4 && fields[3] == "/" {
			return filepath.Join(fields[4], path)
		}
	}
	return ""
}

// requireCgroupsGone polls until the process's cgroup and the runner's
// folder that held it are removed.
func requireCgroupsGone(t *testing.T, dir string) {
	t.Helper()
	require.Contains(t, filepath.Base(filepath.Dir(dir)), "prox-", "the runner's cgroup folder")
	for _, d := range []string{dir, filepath.Dir(dir)} {
		require.Eventually(t, func() bool { _, err := os.Stat(d); return os.IsNotExist(err) }, 10*time.Second, 20*time.Millisecond,
			"cgroup %s is still there", d)
	}
}

// requireContainment skips the test (fails it under CI=true) where the exec
// runner's containment is not want ("cgroup", or "subreaper" when cgroups
// are turned off).
func requireContainment(t *testing.T, want, containment string) {
	t.Helper()
	if containment == want {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("the exec runner's containment is %q, not %q", containment, want)
	}
	t.Skipf("the exec runner's containment here is %q, not %q", containment, want)
}

// Stopping prox stops a process's descendants that left its group or lost
// their parent, and removes its cgroup.
func TestUpStopLeavesNoEscapee(t *testing.T) {
	r, _, pids, containment := startEscape(t)
	requireContainment(t, "cgroup", containment)
	dir := cgroupDir(t, pids["daemon"])
	require.Equal(t, dir, cgroupDir(t, pids["setsid"]))

	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, r.wait(t), "stderr:\n%s", r.stderrString())
	requireEscapeesGone(t, pids, 10*time.Second)
	requireNoneLeft(t, r.marker)
	requireCgroupsGone(t, dir)
}

// kill -9 of prox: its plugins get SIGTERM (parent-death signal) and kill
// their processes' cgroups before they exit.
func TestUpKilledLeavesNoEscapee(t *testing.T) {
	r, _, pids, containment := startEscape(t)
	requireContainment(t, "cgroup", containment)
	dir := cgroupDir(t, pids["daemon"])

	require.NoError(t, r.cmd.Process.Signal(syscall.SIGKILL))
	assert.Equal(t, -1, r.wait(t))
	// The lifecycle issue's bound: nothing alive 2 s after prox's death.
	requireEscapeesGone(t, pids, 2*time.Second)
	requireNoneLeftWithin(t, r.marker, 2*time.Second)
	requireCgroupsGone(t, dir)
}

// kill -9 of the runner plugin: prox kills what is left in its processes'
// cgroups, which the plugin's death left behind, and removes them.
func TestUpRunnerPluginKilledLeavesNoEscapee(t *testing.T) {
	r, _, pids, containment := startEscape(t)
	requireContainment(t, "cgroup", containment)
	dir := cgroupDir(t, pids["daemon"])
	plugins := pidsOf(r.marker, "plugin-serve runner exec")
	require.Len(t, plugins, 1)

	require.NoError(t, syscall.Kill(plugins[0], syscall.SIGKILL))
	requireEscapeesGone(t, pids, 10*time.Second)
	requireCgroupsGone(t, dir)

	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	r.wait(t)
	requireNoneLeft(t, r.marker)
}

// withoutCgroups is prox's environment that caps the exec runner's
// containment at the subreaper (exec.ContainmentEnv), as where no cgroup
// can be made.
const withoutCgroups = "PROX_EXEC_CONTAINMENT=subreaper"

// Without cgroups, stopping prox stops a process's descendants that left
// its group or lost its parent: the runner, their subreaper, kills them.
func TestUpStopLeavesNoEscapeeWithoutCgroups(t *testing.T) {
	r, _, pids, containment := startEscape(t, withoutCgroups)
	requireContainment(t, "subreaper", containment)

	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, r.wait(t), "stderr:\n%s", r.stderrString())
	requireEscapeesGone(t, pids, 10*time.Second)
	requireNoneLeft(t, r.marker)
}

// Without cgroups, kill -9 of prox: the runner plugin gets SIGTERM
// (parent-death signal) and kills its processes and what escaped to it.
func TestUpKilledLeavesNoEscapeeWithoutCgroups(t *testing.T) {
	r, _, pids, containment := startEscape(t, withoutCgroups)
	requireContainment(t, "subreaper", containment)

	require.NoError(t, r.cmd.Process.Signal(syscall.SIGKILL))
	assert.Equal(t, -1, r.wait(t))
	requireEscapeesGone(t, pids, 2*time.Second)
	requireNoneLeftWithin(t, r.marker, 2*time.Second)
}

// Without cgroups, kill -9 of the runner plugin: the escapees lose their
// subreaper and are reparented to init, but they carry the plugin's tag
// (PROX_RUNNER_TAG), by which prox finds and kills them.
func TestUpRunnerPluginKilledLeavesNoEscapeeWithoutCgroups(t *testing.T) {
	r, _, pids, containment := startEscape(t, withoutCgroups)
	requireContainment(t, "subreaper", containment)
	plugins := pidsOf(r.marker, "plugin-serve runner exec")
	require.Len(t, plugins, 1)

	require.NoError(t, syscall.Kill(plugins[0], syscall.SIGKILL))
	requireEscapeesGone(t, pids, 10*time.Second)

	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	r.wait(t)
	requireNoneLeft(t, r.marker)
}
