package supervisor

import (
	"context"
	"testing"

	"github.com/prox-dev/prox/sdk"
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

// ProcessInfo.Containment is what the runner reports while the process
// runs, "" when it does not run or its runner does not say.
func TestProcessInfoContainment(t *testing.T) {
	contained := &containedRunner{fakeRunner: newFakeRunner(), containment: "cgroup"}
	a := spec("a", nil)
	a.Runner = contained
	m := startManager(t, a, spec("b", newFakeRunner()))

	assert.Equal(t, "cgroup", requireState(t, m, "a", StateRunning).Containment)
	assert.Empty(t, requireState(t, m, "b", StateRunning).Containment, "a runner that does not say")
	require.NoError(t, m.StopProcess(context.Background(), "a"))
	assert.Empty(t, requireState(t, m, "a", StateStopped).Containment, "a process that does not run")
}
