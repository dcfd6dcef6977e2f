package procwatch

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const waitFor = 20 * time.Second

func start(t *testing.T, o Options) *Session {
	t.Helper()
	dir := t.TempDir()
	if o.Stdout == "" {
		o.Stdout = filepath.Join(dir, "stdout.log")
	}
	if o.Stderr == "" {
		o.Stderr = filepath.Join(dir, "stderr.log")
	}
	s, err := Start(o)
	require.NoError(t, err)
	t.Cleanup(func() {
		if !s.Finished() {
			s.Kill()
			s.Finish(time.Second, time.Second)
		}
	})
	return s
}

func TestExitStatusOutputAndTreeCPU(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.log")
	s := start(t, Options{Stdout: out, Stderr: out, Argv: []string{"sh", "-c", `
		i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done
		(j=0; while [ $j -lt 30000 ]; do j=$((j+1)); done; echo child done)
		echo to stderr >&2
		exit 3`}})
	_, err := s.Until(waitFor, func(st State) bool { return st.Exited })
	require.NoError(t, err)
	exit, ok := s.Exit()
	require.True(t, ok)
	assert.False(t, exit.Before(s.Started()))
	rep := s.Finish(time.Second, time.Second)
	assert.Equal(t, "exit 3", rep.ExitStatus)
	assert.False(t, rep.Killed)
	assert.Empty(t, rep.Survivors)
	assert.Empty(t, rep.Orphans)
	// Both loops ran on the tree's CPU: the subshell's through its parent.
	assert.Positive(t, rep.TreeCPU())
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "child done\nto stderr\n", string(b))
}

// readySleep starts a sleep that announces itself in dir, as a workload
// process does.
const readySleep = `sleep 60 & p=$!; echo 1 > "$D/.$p.tmp"; mv "$D/.$p.tmp" "$D/$p"; `

func TestSurvivorsAreReportedAndKilled(t *testing.T) {
	ready := t.TempDir()
	s := start(t, Options{
		ReadyDir: ready, Workload: []string{"sleep"},
		Env:  append(os.Environ(), "D="+ready),
		Argv: []string{"sh", "-c", readySleep + readySleep + "wait"},
	})
	st, err := s.Until(waitFor, func(st State) bool { return st.Ready == 2 && st.Alive == 2 })
	require.NoError(t, err, "%+v", st)
	sleeps := []int{}
	names, err := os.ReadDir(ready)
	require.NoError(t, err)
	for _, n := range names {
		var pid int
		_, err := fmtSscan(n.Name(), &pid)
		require.NoError(t, err)
		sleeps = append(sleeps, pid)
	}
	// The shell dies of SIGTERM; its sleeps, signalled by nobody, outlive it.
	_, err = s.Signal(syscall.SIGTERM)
	require.NoError(t, err)
	rep := s.Finish(waitFor, 300*time.Millisecond)
	assert.Equal(t, "signal SIGTERM", rep.ExitStatus)
	assert.Equal(t, 2, rep.WorkloadSurvivors)
	require.Len(t, rep.Survivors, 2)
	for _, pid := range sleeps {
		assert.Contains(t, rep.Survivors, "sleep["+itoa(pid)+"]")
		// Killed, then reaped here as orphans.
		assert.Contains(t, rep.Orphans, "sleep["+itoa(pid)+"]")
		_, err := os.Stat("/proc/" + itoa(pid))
		assert.True(t, os.IsNotExist(err), "pid %d still exists", pid)
	}
}

func TestWorkloadExitsAreTimed(t *testing.T) {
	ready := t.TempDir()
	s := start(t, Options{
		ReadyDir: ready, Workload: []string{"sleep"},
		Env: append(os.Environ(), "D="+ready),
		// The trap is set before the sleep announces itself; dash may miss
		// a signal that arrives as "wait" begins, so the shell naps instead.
		Argv: []string{"sh", "-c", `trap 'kill $p; wait $p; exit 0' TERM; ` + readySleep + `while :; do sleep 0.05; done`},
	})
	_, err := s.Until(waitFor, func(st State) bool { return st.Ready == 1 && st.Alive == 1 })
	require.NoError(t, err)
	sent, err := s.Signal(syscall.SIGTERM)
	require.NoError(t, err)
	st, err := s.Until(waitFor, func(st State) bool { return st.Exited && st.Alive == 0 })
	require.NoError(t, err, "%+v", st)
	assert.Equal(t, 1, st.Gone)
	last := s.LastWorkloadExit()
	exit, _ := s.Exit()
	assert.False(t, last.Before(sent))
	assert.False(t, exit.Before(sent))
	rep := s.Finish(time.Second, time.Second)
	assert.Equal(t, "exit 0", rep.ExitStatus)
	assert.Zero(t, rep.WorkloadSurvivors)
	assert.Empty(t, rep.Survivors)
	_, err = s.Signal(syscall.SIGTERM)
	require.Error(t, err, "the supervisor is gone")
}

func TestSampleSplitsSupervisorAndWorkload(t *testing.T) {
	s := start(t, Options{Workload: []string{"sleep"}, Argv: []string{"sh", "-c", "sleep 60 & sleep 60 & wait"}})
	var smp Sample
	// RSS, PSS and the anonymous part come from three /proc files read one
	// after the other: a shell still settling (its children just forked)
	// can change between them, so wait for a sample of a settled shell. A
	// sampler that mixed the figures up would never give one.
	require.Eventually(t, func() bool {
		smp = s.Sample(false)
		return smp.Workload == 2 && smp.PSS <= smp.RSS && smp.Anon < smp.RSS
	}, waitFor, 10*time.Millisecond, "last sample: %+v", &smp)
	require.Len(t, smp.Procs, 1)
	assert.Equal(t, s.PID(), smp.Procs[0].PID)
	assert.Equal(t, "sh", smp.Procs[0].Comm)
	assert.Positive(t, smp.RSS)
	assert.Equal(t, smp.Procs[0].RSS, smp.RSS)
	assert.Positive(t, smp.PSS)
	assert.LessOrEqual(t, smp.PSS, smp.RSS, "a shared page counts in full in RSS, in part in PSS")
	assert.Equal(t, smp.Procs[0].PSS, smp.PSS)
	assert.Positive(t, smp.Anon)
	assert.Less(t, smp.Anon, smp.RSS, "a shell's binary and libc are resident too")
	assert.Equal(t, smp.Procs[0].Anon, smp.Anon)
	assert.Equal(t, os.Getpid(), smp.Procs[0].Parent)

	// A persistent sample counts only what the previous one saw.
	s.SampleEvery(5 * time.Millisecond)
	// The shell ignores nothing but waits: kill it after the timeout.
	rep := s.Finish(50*time.Millisecond, time.Second)
	assert.True(t, rep.Killed)
	assert.Equal(t, "signal SIGKILL", rep.ExitStatus)
	assert.Empty(t, rep.Survivors, "the group went with it")
	assert.GreaterOrEqual(t, rep.PeakRSS, smp.RSS/2)
	assert.Positive(t, rep.PeakPSS)
	assert.Positive(t, rep.HWM, "%+v", rep)
	assert.GreaterOrEqual(t, rep.Samples, 2)
}

func TestPersistentSampleSkipsNewProcesses(t *testing.T) {
	s := start(t, Options{Argv: []string{"sleep", "60"}})
	first := s.Sample(true)
	assert.Empty(t, first.Procs, "seen for the first time")
	second := s.Sample(true)
	require.Len(t, second.Procs, 1)
	assert.Equal(t, "sleep", second.Procs[0].Comm)
	_, err := s.Signal(syscall.SIGKILL)
	require.NoError(t, err)
	rep := s.Finish(waitFor, time.Second)
	assert.Equal(t, "signal SIGKILL", rep.ExitStatus)
}

func TestKillEndsEverything(t *testing.T) {
	s := start(t, Options{Argv: []string{"sh", "-c", "trap '' TERM; (trap '' TERM; sleep 60) & sleep 60 & wait"}})
	require.Eventually(t, func() bool { return len(s.descendants()) >= 3 }, waitFor, 10*time.Millisecond)
	s.Kill()
	rep := s.Finish(waitFor, time.Second)
	assert.Equal(t, "signal SIGKILL", rep.ExitStatus)
	assert.Empty(t, rep.Survivors)
}

func TestStartErrors(t *testing.T) {
	_, err := Start(Options{})
	require.Error(t, err)
	_, err = Start(Options{Argv: []string{"/nonexistent/supervisor"}})
	require.Error(t, err)
	_, err = Start(Options{Argv: []string{"true"}, ReadyDir: "/nonexistent/dir"})
	require.ErrorContains(t, err, "/nonexistent/dir")
	_, err = Start(Options{Argv: []string{"true"}, Stdout: "/nonexistent/dir/out"})
	require.ErrorContains(t, err, "stdout")
	// The failed starts released the session lock.
	s := start(t, Options{Argv: []string{"true"}})
	rep := s.Finish(waitFor, time.Second)
	assert.Equal(t, "exit 0", rep.ExitStatus)
}

func TestParseStat(t *testing.T) {
	st, err := parseStat([]byte("42 (a (b) c) S 7 42 42 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 3 0 1000 1000000 256 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"))
	require.NoError(t, err)
	assert.Equal(t, "a (b) c", st.comm)
	assert.Equal(t, byte('S'), st.state)
	assert.Equal(t, 7, st.ppid)
	assert.Equal(t, 3, st.threads)
	assert.InDelta(t, 2.0, st.cpu, 1e-9)
	assert.Equal(t, 256*pageSize, st.rss)
	_, err = parseStat([]byte("42 (x) S 1"))
	require.Error(t, err)
	_, err = parseStat([]byte("garbage"))
	require.Error(t, err)
}

func TestParsePSS(t *testing.T) {
	pss, err := parsePSS([]byte("55a0-7ffd [rollup]\nRss:    2048 kB\nPss:    1024 kB\nPss_Anon: 10 kB\n"))
	require.NoError(t, err)
	assert.Equal(t, int64(1024<<10), pss)
	_, err = parsePSS([]byte("Rss: 1 kB\n"))
	require.Error(t, err)
	own, err := readPSS(os.Getpid(), make([]byte, 64))
	require.NoError(t, err)
	assert.Positive(t, own)
}

func TestParseStatus(t *testing.T) {
	st, err := parseStatus([]byte("Name:\tprox\nVmHWM:\t   35000 kB\nVmRSS:\t   30000 kB\nRssAnon:\t   12000 kB\nRssFile:\t   18000 kB\n"))
	require.NoError(t, err)
	assert.Equal(t, memStatus{hwm: 35000 << 10, anon: 12000 << 10}, st)
	_, err = parseStatus([]byte("VmHWM:\t1 kB\n"))
	require.ErrorContains(t, err, "no RssAnon line")
	_, err = parseStatus([]byte("VmHWM:\tlots kB\nRssAnon:\t1 kB\n"))
	require.ErrorContains(t, err, "VmHWM:")
}

func TestReadStatusOfSelf(t *testing.T) {
	st, err := readStatus(os.Getpid(), make([]byte, 64))
	require.NoError(t, err)
	assert.Positive(t, st.hwm)
	assert.Positive(t, st.anon)
	assert.Less(t, st.anon, st.hwm)
	kids := children(os.Getpid(), make([]byte, 64))
	assert.False(t, slices.Contains(kids, os.Getpid()))
	assert.Nil(t, children(-1, nil))
	_, err = readInto("/nonexistent", nil)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(itoa(12), "12"))
}
