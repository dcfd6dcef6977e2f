package scenario

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prox-dev/prox/bench/internal/peers"
	"github.com/prox-dev/prox/bench/internal/procwatch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestS1ShellBaselinesCaptureEveryLine(t *testing.T) {
	e := testEnv(t)
	for _, p := range []peers.Peer{peers.Shell{}, peers.Shell{Pipe: true}} {
		t.Run(p.Name(), func(t *testing.T) {
			r := run(t, e, s1(e.Params), p)
			require.NotNil(t, r.Check)
			assert.True(t, r.Check.Intact, "%+v", r.Check)
			assert.EqualValues(t, 40000, r.Check.Unique)
			assert.Equal(t, 1.0, r.Metrics["intact"])
			assert.Positive(t, r.Metrics["wall_s"])
			assert.Positive(t, r.Metrics["mlines_per_s"])
			assert.Positive(t, r.Metrics["writers_cpu_s"])
			assert.Contains(t, r.Metrics, "cpu_s")
			assert.Contains(t, r.Metrics, "rss_mb")
			// The capture was cut to its head afterwards.
			fi, err := os.Stat(filepath.Join(r.Dir, peers.LogDir, "p1.log"))
			require.NoError(t, err)
			assert.LessOrEqual(t, fi.Size(), int64(4096))
		})
	}
}

func TestS1ReportsLostLines(t *testing.T) {
	e := testEnv(t)
	r := run(t, e, s1(e.Params), lossyPeer{})
	require.NotNil(t, r.Check)
	assert.False(t, r.Check.Intact)
	assert.Equal(t, 0.0, r.Metrics["intact"])
	assert.EqualValues(t, 2*50, r.Check.Unique, "5000 bytes of each: 50 lines")
	assert.EqualValues(t, 40000-100, r.Check.Missing)
}

func TestS1Supervisord(t *testing.T) {
	requireSupervisord(t)
	e := testEnv(t)
	r := run(t, e, s1(e.Params), peers.Supervisord{})
	assert.True(t, r.Check.Intact, "%+v", r.Check)
	assert.Positive(t, r.Metrics["cpu_s"], "supervisord's own CPU")
	assert.Positive(t, r.Metrics["rss_mb"])
}

func TestS1Prox(t *testing.T) {
	e := testEnv(t)
	r := run(t, e, s1(e.Params), proxPeer(t))
	assert.True(t, r.Check.Intact, "%+v", r.Check)
	assert.Positive(t, r.Metrics["cpu_s"])
	assert.Positive(t, r.Metrics["rss_mb"])
}

func TestS2ShellBaseline(t *testing.T) {
	e := testEnv(t)
	r := run(t, e, s2(e.Params), peers.Shell{})
	assert.Positive(t, r.Metrics["ready_s"])
	assert.LessOrEqual(t, r.Metrics["first_s"], r.Metrics["ready_s"])
	assert.Positive(t, r.Metrics["stop_s"])
	assert.Equal(t, 0.0, r.Metrics["survivors"])
	assert.Positive(t, r.Metrics["rss_mb"])
	assert.Positive(t, r.Metrics["anon_mb"])
	assert.Less(t, r.Metrics["anon_mb"], r.Metrics["rss_mb"])
	require.NotNil(t, r.Sample)
	require.Len(t, r.Sample.Procs, 1, "the shell alone: %+v", r.Sample.Procs)
	assert.Equal(t, "sh", r.Sample.Procs[0].Comm)
	assert.Equal(t, 5, r.Sample.Workload)
}

func TestS3aShellBaselineWaitsItsTimeout(t *testing.T) {
	e := testEnv(t)
	r := run(t, e, s3a(e.Params), peers.Shell{})
	assert.GreaterOrEqual(t, r.Metrics["stop_s"], e.Params.StopTimeout.Seconds())
	assert.Equal(t, 0.0, r.Metrics["survivors"])
}

func TestS3bShellBaselineLeavesTheGrandchild(t *testing.T) {
	e := testEnv(t)
	r := run(t, e, s3b(), peers.Shell{})
	assert.Equal(t, 1.0, r.Metrics["survivors"], "%+v", r.Watch)
	assert.NotContains(t, r.Metrics, "stop_s")
	require.Len(t, r.Watch.Survivors, 1)
	assert.Contains(t, r.Watch.Survivors[0], WorkloadComm)
	assert.Equal(t, 1, r.Watch.WorkloadSurvivors)
	assert.NotEmpty(t, r.Notes)
}

func TestS3bSupervisordTunedKillsTheGrandchild(t *testing.T) {
	requireSupervisord(t)
	e := testEnv(t)
	r := run(t, e, s3b(), peers.Supervisord{Tuned: true})
	assert.Equal(t, 0.0, r.Metrics["survivors"], "%+v", r.Watch)
	assert.Positive(t, r.Metrics["stop_s"])
}

func TestS3Prox(t *testing.T) {
	e := testEnv(t)
	p := proxPeer(t)
	for _, sc := range []*Scenario{s3b(), s3c()} {
		t.Run(sc.Name, func(t *testing.T) {
			r := run(t, e, sc, p)
			assert.Equal(t, 0.0, r.Metrics["survivors"], "%+v", r.Watch)
			assert.Positive(t, r.Metrics["stop_s"])
		})
	}
}

func TestS3cShellBaselineLeavesBoth(t *testing.T) {
	e := testEnv(t)
	r := run(t, e, s3c(), peers.Shell{})
	assert.Equal(t, 2.0, r.Metrics["survivors"], "%+v", r.Watch)
	assert.Equal(t, "signal SIGKILL", r.Watch.ExitStatus)
}

func TestS4ShellLoopRestarts(t *testing.T) {
	e := testEnv(t)
	r := run(t, e, s4(e.Params), peers.Shell{})
	assert.Greater(t, r.Metrics["restarts"], 5.0)
	assert.Positive(t, r.Metrics["gap_median_ms"])
	assert.GreaterOrEqual(t, r.Metrics["gap_max_ms"], r.Metrics["gap_median_ms"])
	assert.GreaterOrEqual(t, r.Metrics["starts_total"], r.Metrics["restarts"]+1)
}

func TestStartShellBaseline(t *testing.T) {
	e := testEnv(t)
	r := run(t, e, start(2), peers.Shell{})
	assert.Positive(t, r.Metrics["first_s"])
	assert.LessOrEqual(t, r.Metrics["first_s"], r.Metrics["ready_s"])
	assert.Equal(t, 1.0, r.Metrics["procs"])
	assert.Positive(t, r.Metrics["stop_s"])
}

func TestStartProxCountsItsPlugins(t *testing.T) {
	e := testEnv(t)
	r := run(t, e, start(2), proxPeer(t))
	// prox and two exec runner plugins: no sink here.
	assert.Equal(t, 3.0, r.Metrics["procs"], "%+v", r.Sample)
	assert.LessOrEqual(t, r.Metrics["first_s"], r.Metrics["ready_s"])
	assert.Equal(t, 0.0, r.Metrics["survivors"])
}

func TestFloorSplitsProxAndItsPlugins(t *testing.T) {
	e := testEnv(t)
	e.NoopSink = goBuild(t, "./bench/cmd/noopsink", NoopSinkComm)
	r := run(t, e, floor(), proxPeer(t))
	require.NotNil(t, r.Sample)
	comms := map[string]int{}
	for _, p := range r.Sample.Procs {
		comms[p.Comm]++
	}
	assert.Equal(t, map[string]int{"prox": 2, NoopSinkComm: 1}, comms, "prox, its exec runner and the no-op sink")
	for _, k := range []string{"host_mb", "runner_mb", "sink_mb", "anon_mb", "file_mb", "pss_mb", "host_pss_mb", "runner_pss_mb", "sink_pss_mb"} {
		assert.Positive(t, r.Metrics[k], k)
	}
	assert.InDelta(t, r.Metrics["pss_mb"], r.Metrics["host_pss_mb"]+r.Metrics["runner_pss_mb"]+r.Metrics["sink_pss_mb"], 0.01)
	assert.Less(t, r.Metrics["pss_mb"], r.Metrics["rss_mb"], "prox and its exec runner share their binary's pages")
	assert.InDelta(t, r.Metrics["rss_mb"], r.Metrics["host_mb"]+r.Metrics["runner_mb"]+r.Metrics["sink_mb"], 0.01)
	assert.InDelta(t, r.Metrics["rss_mb"], r.Metrics["anon_mb"]+r.Metrics["file_mb"], 0.01)
	assert.Equal(t, 0.0, r.Metrics["survivors"])
}

func TestFloorNeedsTheNoopSink(t *testing.T) {
	e := testEnv(t)
	r := floor().Run(e, proxPeer(t), filepath.Join(t.TempDir(), "run"), 1)
	assert.Equal(t, errNoNoopSink.Error(), r.Error)
}

func TestSetFloorRejectsAnotherShape(t *testing.T) {
	r := &Result{Metrics: map[string]float64{}}
	two := procwatch.Sample{Procs: []procwatch.Proc{{PID: 10, Parent: 1, Comm: "prox"}, {PID: 11, Parent: 10, Comm: "prox"}}}
	require.ErrorContains(t, setFloor(r, two), "found 2")
	twoSinks := procwatch.Sample{Procs: []procwatch.Proc{{PID: 10, Parent: 1, Comm: "prox"},
		{PID: 11, Parent: 10, Comm: NoopSinkComm}, {PID: 12, Parent: 10, Comm: NoopSinkComm}}}
	require.ErrorContains(t, setFloor(r, twoSinks), "two processes count as sink_mb")
}

func TestIdleShellBaseline(t *testing.T) {
	e := testEnv(t)
	r := run(t, e, idle(e.Params), peers.Shell{})
	assert.GreaterOrEqual(t, r.Metrics["cpu_pct"], 0.0)
	assert.Positive(t, r.Metrics["rss_mb"])
	assert.Equal(t, 0.0, r.Metrics["survivors"])
}

func TestEarlyExitIsAnError(t *testing.T) {
	e := testEnv(t)
	e.Params.S2Procs = 2
	// A supervisor that starts nothing and exits.
	r := s2(e.Params).Run(e, brokenPeer{}, filepath.Join(t.TempDir(), "run"), 1)
	require.False(t, r.OK())
	assert.Contains(t, r.Error, "exit 3")
	assert.Contains(t, r.Error, "no luck")
}

type brokenPeer struct{}

func (brokenPeer) Name() string    { return "broken" }
func (brokenPeer) Version() string { return "test" }
func (brokenPeer) Prepare(string, *peers.Spec) (*peers.Setup, error) {
	return &peers.Setup{Argv: []string{"sh", "-c", "echo no luck >&2; exit 3"}}, nil
}

func TestSelect(t *testing.T) {
	all := All(DefaultParams())
	names := func(ss []*Scenario) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Name)
		}
		return out
	}
	assert.Equal(t, []string{"s1", "s2", "s3a", "s3b", "s3c", "s4", "start-1", "start-6", "idle", "floor"}, names(all))
	got, err := Select(all, "s1, s3,start-6")
	require.NoError(t, err)
	assert.Equal(t, []string{"s1", "s3a", "s3b", "s3c", "start-6"}, names(got))
	got, err = Select(all, "start")
	require.NoError(t, err)
	assert.Equal(t, []string{"start-1", "start-6"}, names(got))
	got, err = Select(all, "")
	require.NoError(t, err)
	assert.Len(t, got, len(all))
	_, err = Select(all, "s9")
	require.ErrorContains(t, err, `unknown scenario "s9"`)
}

func TestMedianAndTail(t *testing.T) {
	assert.Equal(t, 2.0, median([]float64{1, 2, 3}))
	assert.Equal(t, 2.5, median([]float64{1, 2, 3, 4}))
	path := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(path, []byte("line one\nline two\n"), 0o644))
	assert.Equal(t, "line two", tail(path, 9))
	assert.Contains(t, tail(filepath.Join(t.TempDir(), "none"), 9), "no such file")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	assert.Equal(t, "(nothing)", tail(path, 9))
	_ = time.Second
}
