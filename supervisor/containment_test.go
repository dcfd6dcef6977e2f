package supervisor

import (
	"context"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// containedRunner starts fakeRunner processes that report a containment.
type containedRunner struct {
	*fakeRunner
	containment string
}

type containedProc struct {
	sdk.Process
	containment string
}

func (p *containedProc) Containment() string { return p.containment }

func (r *containedRunner) Start(ctx context.Context, cfg *sdk.ProcessConfig) (sdk.Process, error) {
	p, err := r.fakeRunner.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &containedProc{Process: p, containment: r.containment}, nil
}

// ProcessInfo.Containment is what the runner reports for the process's
// last run, also once it has ended (in backoff, stopped); "" before the
// first run or when its runner does not say.
func TestProcessInfoContainment(t *testing.T) {
	contained := &containedRunner{fakeRunner: newFakeRunner(), containment: "cgroup"}
	a := spec("a", nil)
	a.Runner = contained
	restarting := &containedRunner{fakeRunner: newFakeRunner(), containment: "subreaper"}
	c := spec("c", nil, restartPolicy(RestartPolicy{Policy: policy.RestartAlways, Backoff: time.Hour}))
	c.Runner = restarting
	m := startManager(t, a, spec("b", newFakeRunner()), c)

	assert.Equal(t, "cgroup", requireState(t, m, "a", StateRunning).Containment)
	assert.Empty(t, requireState(t, m, "b", StateRunning).Containment, "a runner that does not say")
	require.NoError(t, m.StopProcess(context.Background(), "a"))
	assert.Equal(t, "cgroup", requireState(t, m, "a", StateStopped).Containment, "the last run's")

	requireState(t, m, "c", StateRunning)
	restarting.last().exit(&sdk.ExitError{Code: 1})
	assert.Equal(t, "subreaper", requireState(t, m, "c", StateBackoff).Containment, "the last run's, in backoff")
}
