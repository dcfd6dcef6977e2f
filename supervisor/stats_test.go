package supervisor

import (
	"context"
	"testing"
	"time"

	execrunner "github.com/prox-dev/prox/plugins/runner/exec"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProcessStats: a running process's figures come from its runner's
// Stats (the exec runner's here); a runner without them, a process that
// does not run and an unknown name are told apart.
func TestProcessStats(t *testing.T) {
	r := newFakeRunner()
	exec := execrunner.New()
	t.Cleanup(func() { _ = exec.Shutdown() })
	m := startManager(t,
		spec("fake", r),
		ProcessSpec{Name: "real", Runner: exec, RunnerName: "exec", StopTimeout: 5 * time.Second,
			Config: sdk.ProcessConfig{Name: "real", Command: []string{"/bin/sh", "-c", "exec sleep 600"}, Env: []string{"PATH=/usr/bin:/bin"}}},
	)
	requireState(t, m, "fake", StateRunning)
	requireState(t, m, "real", StateRunning)

	st, err := m.ProcessStats(context.Background(), "real")
	require.NoError(t, err)
	assert.Positive(t, st.MemoryBytes)
	assert.WithinDuration(t, time.Now(), st.Time, time.Minute)

	_, err = m.ProcessStats(context.Background(), "fake")
	require.ErrorIs(t, err, sdk.ErrUnimplemented, "the fake runner's processes have no Stats")
	_, err = m.ProcessStats(context.Background(), "nope")
	require.ErrorIs(t, err, ErrUnknownProcess)

	require.NoError(t, m.StopProcess(context.Background(), "real"))
	requireState(t, m, "real", StateStopped)
	_, err = m.ProcessStats(context.Background(), "real")
	require.ErrorIs(t, err, ErrNotRunningProcess)
}
