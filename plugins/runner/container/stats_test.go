package container

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStatsOfABusyContainer: the engine's stats API gives the CPU time of
// every process in the container (a busy child of its shell here) and
// its memory; once the container has exited, Stats is an error.
func TestStatsOfABusyContainer(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	p := start(t, r, processConfig(t, sh(`sh -c 'while :; do :; done' & echo ready; wait`), nil))
	require.Eventually(t, func() bool { return p.stdout.contains("ready") }, waitFor, 10*time.Millisecond)
	var got sdk.ProcessStats
	require.Eventually(t, func() bool {
		var err error
		got, err = p.Stats(context.Background())
		require.NoError(t, err)
		return got.CPU > 200*time.Millisecond
	}, waitFor, 50*time.Millisecond, "the busy child's CPU time is counted")
	assert.Positive(t, got.MemoryBytes)
	assert.WithinDuration(t, time.Now(), got.Time, time.Minute)

	require.NoError(t, p.Signal(syscall.SIGKILL))
	_ = p.wait(t)
	_, err := p.Stats(context.Background())
	assert.ErrorContains(t, err, "has exited")
}

// TestStatsOf: the memory is the usage less the inactive page cache, of
// cgroup v2 or v1; the CPU time is the total, in nanoseconds.
func TestStatsOf(t *testing.T) {
	read := time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		stats map[string]uint64
		want  uint64
	}{
		{"v2", map[string]uint64{"inactive_file": 300}, 700},
		{"v1", map[string]uint64{"total_inactive_file": 200}, 800},
		{"none", nil, 1000},
		{"more cache than usage", map[string]uint64{"inactive_file": 5000}, 1000},
	} {
		s := &container.StatsResponse{Read: read}
		s.MemoryStats.Usage, s.MemoryStats.Stats = 1000, tc.stats
		s.CPUStats.CPUUsage.TotalUsage = 1_500_000_000
		got := statsOf(s)
		assert.Equal(t, tc.want, got.MemoryBytes, tc.name)
		assert.Equal(t, 1500*time.Millisecond, got.CPU, tc.name)
		assert.Equal(t, read, got.Time, tc.name)
	}
}

// BenchmarkStats measures one Stats read of a running container: one
// sample of the engine's stats API.
func BenchmarkStats(b *testing.B) {
	r := newRunner(b)
	p := start(b, r, processConfig(b, sh(`echo ready; exec sleep 600`), nil))
	b.Cleanup(func() { _ = p.Signal(syscall.SIGKILL) })
	require.Eventually(b, func() bool { return p.stdout.contains("ready") }, waitFor, 10*time.Millisecond)
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Stats(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
