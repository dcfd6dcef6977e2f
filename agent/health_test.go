package agent

import (
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHealthSpecExecFollowsTheCapability checks where an exec check runs:
// through a runner that announces the exec capability, locally for a
// runner that announces the local capability (the exec runner, or any
// other), and nowhere (a diagnostic at the check) otherwise.
func TestHealthSpecExecFollowsTheCapability(t *testing.T) {
	process := func(kind string) *config.Process {
		return &config.Process{
			Name:   "web",
			Runner: config.Ref{Kind: kind, Name: "x"},
			Health: &config.Health{Check: "exec", Exec: &config.ExecCheck{Command: []string{"true"}}},
		}
	}

	spec, diags := healthSpec(process("ssh"), nil, []string{sdk.CapabilityExec})
	require.Empty(t, diags)
	require.IsType(t, &supervisor.RunnerExecCheck{}, spec.Check)
	assert.Equal(t, []string{"true"}, spec.Check.(*supervisor.RunnerExecCheck).Command)

	spec, diags = healthSpec(&config.Process{
		Name: "web", Runner: config.Ref{Kind: config.DefaultRunner},
		Health: &config.Health{Check: "exec", Exec: &config.ExecCheck{Command: []string{"true"}}},
	}, nil, []string{sdk.CapabilityLocal})
	require.Empty(t, diags)
	assert.IsType(t, &supervisor.LocalExecCheck{}, spec.Check)

	// A third-party runner whose processes run on this host says so.
	spec, diags = healthSpec(process("mine"), nil, []string{sdk.CapabilityLocal})
	require.Empty(t, diags)
	assert.IsType(t, &supervisor.LocalExecCheck{}, spec.Check)

	_, diags = healthSpec(process("teleport"), nil, nil)
	require.Len(t, diags, 1)
	assert.Equal(t, "Exec check not supported by the runner", diags[0].Summary)
	assert.Contains(t, diags[0].Detail, `"teleport" runner`)
}
