package exec

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStatsCountTheWholeCgroup: a process with a cgroup reports the CPU
// time and memory of its whole tree, a busy grandchild's included; once
// it has exited, Stats is an error.
func TestStatsCountTheWholeCgroup(t *testing.T) {
	requireCgroups(t)
	r := quietRunner(true)
	p := start(t, r, &sdk.ProcessConfig{Command: sh(`sh -c 'while :; do :; done' & echo ready; wait`), Env: testEnv()})
	require.Eventually(t, func() bool { return p.stdout.contains("ready") }, waitFor, 10*time.Millisecond)
	st := p.Process.(sdk.ProcessStatter)
	var got sdk.ProcessStats
	require.Eventually(t, func() bool {
		var err error
		got, err = st.Stats(context.Background())
		require.NoError(t, err)
		return got.CPU > 200*time.Millisecond
	}, waitFor, 10*time.Millisecond, "the busy grandchild's CPU time is counted; the idle leader has none")
	assert.Positive(t, got.MemoryBytes)
	assert.WithinDuration(t, time.Now(), got.Time, 5*time.Second)

	require.NoError(t, r.Shutdown())
	_ = p.wait(t)
	_, err := st.Stats(context.Background())
	assert.ErrorContains(t, err, "has exited")
}

// TestStatsWithoutCgroup: without a cgroup the figures come from /proc,
// for the process itself.
func TestStatsWithoutCgroup(t *testing.T) {
	r := quietRunner(false)
	p := start(t, r, &sdk.ProcessConfig{Command: sh(`echo ready; while :; do :; done`), Env: testEnv()})
	require.Eventually(t, func() bool { return p.stdout.contains("ready") }, waitFor, 10*time.Millisecond)
	st := p.Process.(sdk.ProcessStatter)
	require.Eventually(t, func() bool {
		got, err := st.Stats(context.Background())
		require.NoError(t, err)
		return got.CPU > 100*time.Millisecond && got.MemoryBytes > 0
	}, waitFor, 10*time.Millisecond, "the busy process's CPU time and memory show")
}

// BenchmarkStats measures one Stats read of a running process, from its
// cgroup where the runner makes them.
func BenchmarkStats(b *testing.B) {
	r := newRunner(hclog.NewNullLogger(), false) // New, without its log lines among the results
	b.Cleanup(func() { _ = r.Shutdown() })
	p, err := r.Start(context.Background(), &sdk.ProcessConfig{Name: "idle", Command: []string{"sleep", "600"}, Env: testEnv()})
	require.NoError(b, err)
	st := p.(sdk.ProcessStatter)
	for b.Loop() {
		if _, err := st.Stats(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
