package procstat

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const waitFor = 20 * time.Second

// busy starts a busy loop and ends it when the test ends.
func busy(t *testing.T) *exec.Cmd {
	cmd := exec.Command("/bin/sh", "-c", "while :; do :; done")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// TestCgroup reads a real cgroup v2 folder with a busy process in it: its
// CPU time grows, and its memory is the resident sets of its processes
// (no memory controller in the v2 hierarchy here) or memory.current.
func TestCgroup(t *testing.T) {
	root := ""
	for _, dir := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "cgroup.kill")); err != nil || dir == "/sys/fs/cgroup/unified" {
				root = dir
				break
			}
		}
	}
	cg := filepath.Join(root, "prox-procstat-test-"+strconv.Itoa(os.Getpid()))
	if root == "" || os.Mkdir(cg, 0o755) != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no writable cgroup v2 hierarchy (CI=true: not skipping)")
		}
		t.Skip("no writable cgroup v2 hierarchy: run as root on Linux")
	}
	cmd := exec.Command("/bin/sh", "-c", "while :; do :; done")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		require.Eventually(t, func() bool { return os.Remove(cg) == nil }, waitFor, 10*time.Millisecond)
	})
	require.NoError(t, os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644))
	var first Usage
	require.Eventually(t, func() bool {
		u, err := Cgroup(cg)
		first = u
		return err == nil && u.CPU > 50*time.Millisecond
	}, waitFor, 10*time.Millisecond, "the busy loop's CPU time shows")
	assert.Positive(t, first.MemoryBytes)
	u, err := Read(cmd.Process.Pid, cg)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, u.CPU, first.CPU)
}

// TestProcess reads a busy process from /proc, and Read falls back to it
// when the cgroup cannot be read.
func TestProcess(t *testing.T) {
	cmd := busy(t)
	var first Usage
	require.Eventually(t, func() bool {
		u, err := Process(cmd.Process.Pid)
		first = u
		return err == nil && u.CPU > 50*time.Millisecond
	}, waitFor, 10*time.Millisecond, "the busy loop's CPU time shows")
	assert.Positive(t, first.MemoryBytes)
	u, err := Read(cmd.Process.Pid, filepath.Join(t.TempDir(), "no-cgroup"))
	require.NoError(t, err, "no cgroup: /proc")
	assert.GreaterOrEqual(t, u.CPU, first.CPU)
}

func TestProcessGone(t *testing.T) {
	cmd := exec.Command("/bin/true")
	require.NoError(t, cmd.Run())
	_, err := Process(cmd.Process.Pid)
	assert.Error(t, err, "a reaped process has no /proc entry")
	_, err = Process(0)
	assert.Error(t, err)
}

func TestParseStat(t *testing.T) {
	// A command name with spaces and a closing parenthesis in it.
	stat := "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 50 7 3 20 0 1 0 12345 1000000 200 18446744073709551615\n"
	cpu, err := ParseStat([]byte(stat))
	require.NoError(t, err)
	assert.Equal(t, 2100*time.Millisecond, cpu, "(150+50+7+3) ticks at 100 Hz")

	_, err = ParseStat([]byte("4242 no parenthesis"))
	assert.ErrorContains(t, err, "parentheses")
	_, err = ParseStat([]byte("4242 (sh) S 1 2"))
	assert.ErrorContains(t, err, "fields")
	_, err = ParseStat([]byte("4242 (sh) S 1 4242 4242 0 -1 0 0 0 0 0 x 50 7 3 20"))
	assert.ErrorContains(t, err, "cpu times")
}

func TestParseStatm(t *testing.T) {
	n, err := ParseStatm([]byte("2000 300 150 10 0 200 0\n"), 4096)
	require.NoError(t, err)
	assert.Equal(t, uint64(300*4096), n)
	_, err = ParseStatm([]byte("2000"), 4096)
	assert.Error(t, err)
	_, err = ParseStatm([]byte("2000 -3"), 4096)
	assert.Error(t, err)
}
