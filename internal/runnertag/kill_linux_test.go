package runnertag

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// state returns pid's state letter from /proc/PID/stat, "" if it is gone.
func state(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return ""
}

func alive(pid int) bool { st := state(pid); return st != "" && st != "Z" }

// startTagged starts sh -c script with tag in its environment and returns
// the PIDs it prints, one a line, count of them.
func startTagged(t *testing.T, tag, script string, count int) (*exec.Cmd, []int) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = With([]string{"PATH=/bin:/usr/bin"}, tag)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var pids []int
	sc := bufio.NewScanner(out)
	for len(pids) < count && sc.Scan() {
		pid, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
		require.NoError(t, err, sc.Text())
		pids = append(pids, pid)
	}
	require.Len(t, pids, count)
	t.Cleanup(func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	go func() { _, _ = bufio.NewReader(out).WriteTo(devNull{}) }()
	return cmd, pids
}

type devNull struct{}

func (devNull) Write(p []byte) (int, error) { return len(p), nil }

// escapes is a script that prints its own PID and those of a descendant in
// a session of its own and of a double-forked one, then waits.
const escapes = `echo $$
setsid sh -c 'echo $$; exec sleep 3600' &
( sh -c 'echo $$; exec sleep 3601' & )
exec sleep 3602`

func TestKillKillsWhatCarriesTheTagAndNothingElse(t *testing.T) {
	tag, other := New(), New()
	_, pids := startTagged(t, tag, escapes, 3)
	_, spared := startTagged(t, other, escapes, 3)

	n, err := Kill(tag, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "the process and its two escaped descendants")
	require.Eventually(t, func() bool {
		for _, pid := range pids {
			if alive(pid) {
				return false
			}
		}
		return true
	}, 5*time.Second, 10*time.Millisecond, "a process carrying the tag survived")
	for _, pid := range spared {
		assert.True(t, alive(pid), "PID %d carries another tag", pid)
	}

	n, err = Kill(tag, 5*time.Second)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing is left to kill")
}

// A process that keeps forking: each pass finds the children the last one
// missed, until none is left.
func TestKillOutlastsAForkingProcess(t *testing.T) {
	tag := New()
	_, pids := startTagged(t, tag, `echo $$; while :; do sleep 3600 & done`, 1)
	n, err := Kill(tag, 10*time.Second)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, 1)
	require.Eventually(t, func() bool { return !alive(pids[0]) }, 5*time.Second, 10*time.Millisecond, "the forking shell was killed")
	n, err = Kill(tag, time.Second)
	require.NoError(t, err)
	assert.Zero(t, n, "a second sweep finds nothing")
}

func BenchmarkKillFindingNothing(b *testing.B) {
	tag := New()
	for b.Loop() {
		if _, err := Kill(tag, time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
