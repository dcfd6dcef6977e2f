package exec

import (
	"bufio"
	"fmt"
	"os"
	osexec "os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestIdleProcessesHoldNoThreads starts many idle processes and checks that
// waiting for them does not hold an OS thread each (reaping goes through
// the netpoller, not a blocking wait per child), that each is still
// reaped with its terminating signal, and that no descriptor outlives them.
func TestIdleProcessesHoldNoThreads(t *testing.T) {
	const n = 100
	// A thread per process would add n.
	const maxNewThreads = 20

	// With few Ps the runtime needs few threads to run goroutines, however
	// many CPUs the machine has; those it already has are reused.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	r := New()
	// Warm up first, so that what is set up once per plugin (the spawner's
	// thread, the netpoller's descriptors) is in the baselines.
	warm := start(t, r, &sdk.ProcessConfig{Command: []string{"true"}, Env: testEnv()})
	require.NoError(t, warm.wait(t))
	warm.stdout.all(t)
	warm.stderr.all(t)
	fdsBefore := openFDs(t)
	threadsBefore := threadCount(t)

	procs := make([]*started, n)
	pids := make([]int, n)
	for i := range procs {
		procs[i] = start(t, r, &sdk.ProcessConfig{
			Name:    fmt.Sprintf("idle%03d", i),
			Command: []string{"sleep", "3600"},
			Env:     testEnv(),
		})
		pids[i] = procs[i].PID()
	}
	waitComm(t, "sleep", pids...)
	for _, p := range procs {
		require.False(t, exited(p.Process), "process %d already reaped", p.PID())
	}
	threads := threadCount(t)
	t.Logf("%d processes running; threads: %d (%d before); descriptors: %d more than before",
		n, threads, threadsBefore, openFDs(t)-fdsBefore)
	require.Less(t, threads-threadsBefore, maxNewThreads, "the plugin holds an OS thread per waited-for process")

	for _, p := range procs {
		require.NoError(t, p.Signal(syscall.SIGTERM))
	}
	for _, p := range procs {
		require.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGTERM"}, p.wait(t), "process %d", p.PID())
		p.stdout.all(t)
		p.stderr.all(t)
	}
	for _, pid := range pids {
		require.False(t, alive(pid), "process %d", pid)
	}
	r.mu.Lock()
	require.Empty(t, r.procs)
	r.mu.Unlock()
	// Closing an *os.File is synchronous, but an output reader may still
	// be returning from its last read: poll, with a deadline.
	require.Eventually(t, func() bool { return openFDs(t) <= fdsBefore }, waitFor, tick,
		"descriptors leaked: %d before, %d now", fdsBefore, openFDs(t))
}

// threadCount returns the number of OS threads of this process.
func threadCount(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			require.NoError(t, err)
			return n
		}
	}
	require.NoError(t, s.Err())
	t.Fatal("no Threads: line in /proc/self/status")
	return 0
}

// openFDs returns the number of open descriptors of this process.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(entries)
}

// TestPollExitLeavesUnpollableToFallback checks the path taken when the
// pidfd cannot be polled: pollExit must then leave the child unreaped, for
// the blocking wait to reap it with the same result.
func TestPollExitLeavesUnpollableToFallback(t *testing.T) {
	sleep, err := osexec.LookPath("sleep")
	require.NoError(t, err)
	proc, err := os.StartProcess(sleep, []string{"sleep", "3600"}, &os.ProcAttr{Sys: sysProcAttr(-1)})
	require.NoError(t, err)
	pid := proc.Pid // Release sets proc.Pid to -1
	t.Cleanup(func() { _ = killGroup(pid, syscall.SIGKILL) })
	// Without PIDFD_NONBLOCK the pidfd is blocking, so os.NewFile leaves
	// it out of the netpoller.
	fd, err := unix.PidfdOpen(pid, 0)
	require.NoError(t, err)
	pidfd := os.NewFile(uintptr(fd), "pidfd")
	_, err = pollExit(pidfd, pid)
	require.NoError(t, pidfd.Close())
	require.ErrorIs(t, err, errNoPoll)
	require.True(t, alive(pid), "the child was reaped or killed")

	require.NoError(t, proc.Signal(syscall.SIGTERM))
	ws, err := waitBlocking(pid)
	require.NoError(t, err)
	require.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGTERM"}, statusResult(ws))
	require.NoError(t, proc.Release())
}
