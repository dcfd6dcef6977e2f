package exec

import (
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// escapees are the descendants of testdata/scripts/escape.sh that try to
// outlive it, by kind ("setsid", "orphan", "daemon").
type escapees map[string]int

// startEscape starts escape.sh on r and waits until its three escapees
// run. Whatever happens, they are killed when the test ends.
func startEscape(t *testing.T, r *Runner) (*started, escapees) {
	t.Helper()
	p := start(t, r, &sdk.ProcessConfig{Command: []string{script(t, "escape.sh")}, Env: testEnv()})
	pids := escapees{}
	require.Eventually(t, func() bool {
		for line := range strings.SplitSeq(p.stdout.String(), "\n") {
			kind, v, ok := strings.Cut(line, " ")
			if pid, err := strconv.Atoi(v); ok && err == nil {
				pids[kind] = pid
			}
		}
		return len(pids) == 3
	}, waitFor, tick, "escape.sh printed: %q", p.stdout.String())
	t.Cleanup(func() {
		for _, pid := range pids {
			if alive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	waitComm(t, "sleep", pids["setsid"], pids["orphan"], pids["daemon"])
	return p, pids
}

// requireGone checks that no escapee is alive (zombies aside).
func (e escapees) requireGone(t *testing.T) {
	t.Helper()
	for kind, pid := range e {
		assert.False(t, alive(pid), "the %s descendant (PID %d) survived its process", kind, pid)
	}
}

// requireAlive checks that every escapee is alive.
func (e escapees) requireAlive(t *testing.T) {
	t.Helper()
	for kind, pid := range e {
		assert.True(t, alive(pid), "the %s descendant (PID %d) was killed", kind, pid)
	}
}

// quietRunner is NewForPlugin with its log discarded, and cgroups only if
// withCgroups.
func quietRunner(withCgroups bool) *Runner {
	r := newRunner(hclog.NewNullLogger(), true)
	r.noCgroups = !withCgroups
	return r
}

// requireCgroups skips the test where this process cannot make cgroups
// (under CI=true it fails instead).
func requireCgroups(t *testing.T) {
	t.Helper()
	if _, err := newCgroupRoot(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cgroups are needed: %v", err)
		}
		t.Skipf("no writable cgroup v2 hierarchy: %v", err)
	}
}

// stops are the ways a process ends in the containment tests.
var stops = []struct {
	name string
	stop func(t *testing.T, r *Runner, p *started)
	want error
}{
	{"stop signal", func(t *testing.T, _ *Runner, p *started) { require.NoError(t, p.Signal(syscall.SIGTERM)) },
		&sdk.ExitError{Code: -1, Signal: "SIGTERM"}},
	{"kill", func(t *testing.T, _ *Runner, p *started) { require.NoError(t, p.Signal(syscall.SIGKILL)) },
		&sdk.ExitError{Code: -1, Signal: "SIGKILL"}},
	{"shutdown", func(t *testing.T, r *Runner, _ *started) { require.NoError(t, r.Shutdown()) },
		&sdk.ExitError{Code: -1, Signal: "SIGKILL"}},
}

// TestNothingEscapesItsCgroup: a process's descendants that left its
// process group (setsid), lost their parent (double fork) or both die
// with it, by the stop signal, SIGKILL or the runner's shutdown; once Wait
// has returned none is left, and its cgroup is gone.
func TestNothingEscapesItsCgroup(t *testing.T) {
	requireCgroups(t)
	for _, tc := range stops {
		t.Run(tc.name, func(t *testing.T) {
			r := quietRunner(true)
			p, pids := startEscape(t, r)
			proc := p.Process.(*Process)
			assert.Equal(t, "cgroup", proc.Containment())
			dir := proc.LocalCgroup()
			require.DirExists(t, dir)
			procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
			require.NoError(t, err)
			for kind, pid := range pids {
				assert.Contains(t, strings.Fields(string(procs)), strconv.Itoa(pid), "the %s descendant is in the cgroup", kind)
			}

			tc.stop(t, r, p)
			require.Equal(t, tc.want, p.wait(t))
			pids.requireGone(t)
			p.stdout.all(t)
			p.stderr.all(t)
			assert.NoDirExists(t, dir)
			assert.NoDirExists(t, filepath.Dir(dir), "the runner's cgroup folder goes with its last process")
		})
	}
}

// TestNothingEscapesTheSubreaper is TestNothingEscapesItsCgroup without
// cgroups: the runner, a child subreaper, kills what escapes to it.
func TestNothingEscapesTheSubreaper(t *testing.T) {
	if !inOwnProcess(t) {
		return
	}
	for _, tc := range stops {
		t.Run(tc.name, func(t *testing.T) {
			r := quietRunner(false)
			p, pids := startEscape(t, r)
			proc := p.Process.(*Process)
			assert.Equal(t, "subreaper", proc.Containment())
			assert.Empty(t, proc.LocalCgroup())

			tc.stop(t, r, p)
			require.Equal(t, tc.want, p.wait(t))
			pids.requireGone(t)
			p.stdout.all(t)
			p.stderr.all(t)
		})
	}
}

// TestSubreaperKillsNoOrphanBeforeItsProcessEnds: with two processes, the
// subreaper cannot always tell whose an orphan is; it must then wait for
// both to end, never kill a running process's descendant.
func TestSubreaperKillsNoOrphanBeforeItsProcessEnds(t *testing.T) {
	if !inOwnProcess(t) {
		return
	}
	r := quietRunner(false)
	first, firstPIDs := startEscape(t, r)
	second, secondPIDs := startEscape(t, r)

	require.NoError(t, second.Signal(syscall.SIGTERM))
	require.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGTERM"}, second.wait(t))
	firstPIDs.requireAlive(t)
	// The second's orphan stayed in its group: that one is known to be its.
	assert.False(t, alive(secondPIDs["orphan"]), "the second process's orphan in its group survived it")

	require.NoError(t, first.Signal(syscall.SIGTERM))
	require.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGTERM"}, first.wait(t))
	firstPIDs.requireGone(t)
	secondPIDs.requireGone(t)
	require.NoError(t, r.Shutdown())
}

// ownProcessEnv marks a test binary started by inOwnProcess.
const ownProcessEnv = "PROX_EXEC_TEST_OWN_PROCESS"

// inOwnProcess runs the calling test in a test binary of its own and
// reports false; in that binary it reports true, and the test runs there.
// The subreaper is a property of the whole process, which then adopts
// orphans and reaps children that are not the runner's: no other test may
// share it.
func inOwnProcess(t *testing.T) bool {
	t.Helper()
	if os.Getenv(ownProcessEnv) == t.Name() {
		return true
	}
	cmd := osexec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), ownProcessEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("in a process of its own:\n%s", out)
	require.NoError(t, err)
	require.Contains(t, string(out), "--- PASS: "+t.Name(), "the test did not run")
	return false
}

func TestCgroup2Mounts(t *testing.T) {
	const mountinfo = `22 1 0:21 / /proc rw,nosuid - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:39 /user.slice /mnt/my\040cgroups rw shared:9 - cgroup2 none rw,nsdelegate
`
	mounts, err := cgroup2Mounts(strings.NewReader(mountinfo))
	require.NoError(t, err)
	require.Equal(t, []mount{{"/", "/sys/fs/cgroup/unified"}, {"/user.slice", "/mnt/my cgroups"}}, mounts)

	for _, tc := range []struct {
		path, root, want string
		ok               bool
	}{
		{"/", "/", "/", true},
		{"/a/b", "/", "/a/b", true},
		{"/user.slice/u@1.service", "/user.slice", "/u@1.service", true},
		{"/user.slice", "/user.slice", "/", true},
		{"/user.slicex", "/user.slice", "", false},
		{"/system.slice", "/user.slice", "", false},
	} {
		got, ok := underRoot(tc.path, tc.root)
		assert.Equal(t, tc.ok, ok, "%s under %s", tc.path, tc.root)
		assert.Equal(t, tc.want, got, "%s under %s", tc.path, tc.root)
	}
}

func TestCgroupName(t *testing.T) {
	assert.Equal(t, "web-1", cgroupName("web", 1))
	assert.Equal(t, "a_b_c_-7", cgroupName("a/b.c ", 7))
	assert.Equal(t, strings.Repeat("x", 64)+"-2", cgroupName(strings.Repeat("x", 80), 2))
}

// TestStaleCgroupsOfAGoneRunnerAreSwept: what a runner killed together with
// prox left behind (its folder, a process still running in it) is killed
// and removed by the next runner that makes cgroups there; the folder of a
// runner that still runs is left alone.
func TestStaleCgroupsOfAGoneRunnerAreSwept(t *testing.T) {
	requireCgroups(t)
	parent, err := ownCgroupDir()
	require.NoError(t, err)
	// A PID that ran and is gone: a child that exited and was reaped.
	gone := osexec.Command("true")
	require.NoError(t, gone.Run())
	stale := filepath.Join(parent, fmt.Sprintf("%s%d-test%d", cgroupPrefix, gone.Process.Pid, time.Now().UnixNano()))
	live := filepath.Join(parent, fmt.Sprintf("%s%d-test%d", cgroupPrefix, os.Getppid(), time.Now().UnixNano()))
	for _, dir := range []string{filepath.Join(stale, "web-1"), filepath.Join(live, "web-1")} {
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	t.Cleanup(func() {
		for _, dir := range []string{live, stale} {
			_ = os.Remove(filepath.Join(dir, "web-1"))
			_ = os.Remove(dir)
		}
	})
	left := osexec.Command("sleep", "3600")
	require.NoError(t, left.Start())
	t.Cleanup(func() { _ = left.Process.Kill() })
	require.NoError(t, os.WriteFile(filepath.Join(stale, "web-1", "cgroup.procs"), []byte(strconv.Itoa(left.Process.Pid)), 0o644))
	exited := make(chan error, 1)
	go func() { exited <- left.Wait() }()

	root, err := newCgroupRoot()
	require.NoError(t, err)
	assert.Equal(t, 1, root.swept)
	select {
	case err := <-exited:
		assert.EqualError(t, err, "signal: killed", "the process left in the stale cgroup was killed")
	case <-time.After(waitFor):
		t.Fatal("the process left in the stale cgroup still runs")
	}
	assert.NoDirExists(t, stale, "the stale folder is removed")
	assert.DirExists(t, filepath.Join(live, "web-1"), "a running runner's folder is left alone")
}
