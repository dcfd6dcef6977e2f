package ssh

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStatsOfTheRemoteGroup: the remote /proc gives the CPU time and
// memory of the whole process group (a busy child of the process here);
// once the process has exited, Stats is an error.
func TestStatsOfTheRemoteGroup(t *testing.T) {
	srv := startSSHD(t)
	r := newTestRunner(t, srv.config(testUser))
	p := start(t, r, &sdk.ProcessConfig{Command: sh(`sh -c 'while :; do :; done' & echo ready; wait`)})
	require.Eventually(t, func() bool { return p.stdout.contains("ready") }, waitFor, 10*time.Millisecond)
	var got sdk.ProcessStats
	require.Eventually(t, func() bool {
		var err error
		got, err = p.Stats(context.Background())
		require.NoError(t, err)
		return got.CPU > 200*time.Millisecond
	}, waitFor, 50*time.Millisecond, "the busy child's CPU time is counted; the waiting leader has none")
	// The leader, its busy child and the watchdog each hold some memory.
	assert.Greater(t, got.MemoryBytes, uint64(3*4096))
	assert.WithinDuration(t, time.Now(), got.Time, time.Minute)

	require.NoError(t, p.Signal(syscall.SIGKILL))
	_ = p.wait(t)
	_, err := p.Stats(context.Background())
	require.ErrorIs(t, err, errNotRunning)
}

// TestStatsWithoutASessionLeft: when the process's connection has no
// session left (MaxSessions 1, held by the process itself), Stats read
// over another connection.
func TestStatsWithoutASessionLeft(t *testing.T) {
	srv := startSSHD(t, "MaxSessions 1")
	r := newTestRunner(t, srv.config(testUser))
	p := start(t, r, &sdk.ProcessConfig{Command: sh(`echo ready; exec sleep 600`)})
	require.Eventually(t, func() bool { return p.stdout.contains("ready") }, waitFor, 10*time.Millisecond)
	got, err := p.Stats(context.Background())
	require.NoError(t, err)
	assert.Positive(t, got.MemoryBytes)
}

func TestParseGroupStats(t *testing.T) {
	out := "pagesize 4096\n" +
		"100 (sh) S 1 100 100 0 -1 0 0 0 0 0 10 5 3 2 20 0 1 0 5 0 0\n" +
		"m 500 100 50 1 0 40 0\n" +
		"101 (my (odd) prog) R 100 100 100 0 -1 0 0 0 0 0 200 0 0 0 20 0 1 0 6 0 0\n" +
		"m 900 250 60 1 0 80 0\n"
	got, err := parseGroupStats(out)
	require.NoError(t, err)
	assert.Equal(t, 2200*time.Millisecond, got.CPU, "(10+5+3+2)+200 ticks at 100 Hz")
	assert.Equal(t, uint64(350*4096), got.MemoryBytes)

	for _, tc := range []struct{ out, want string }{
		{"", "no page size"},
		{"pagesize x\n", "page size"},
		{"pagesize 4096\n", "no process of the group"},
		{"pagesize 4096\n100 (sh) S 1 100 100 0 -1 0 0 0 0 0 10 5 3 2 20\n", "pairs"},
		{"pagesize 4096\n100 sh\nm 1 2\n", "stat:"},
		{"pagesize 4096\n100 (sh) S 1 100 100 0 -1 0 0 0 0 0 10 5 3 2 20\nx 1 2\n", "statm line"},
		{"pagesize 4096\n100 (sh) S 1 100 100 0 -1 0 0 0 0 0 10 5 3 2 20\nm 1\n", "statm:"},
	} {
		_, err := parseGroupStats(tc.out)
		assert.ErrorContains(t, err, tc.want, "%q", tc.out)
	}
}

// BenchmarkStats measures one Stats read of a running process's group:
// a control session on its connection and a walk of the remote /proc.
func BenchmarkStats(b *testing.B) {
	srv := startSSHD(b)
	r := newTestRunner(b, srv.config(testUser))
	p := start(b, r, &sdk.ProcessConfig{Name: "idle", Command: sh(`echo ready; exec sleep 600`)})
	require.Eventually(b, func() bool { return p.stdout.contains("ready") }, waitFor, 10*time.Millisecond)
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Stats(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
