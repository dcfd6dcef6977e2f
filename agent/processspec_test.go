package agent

import (
	"context"
	"errors"
	"testing"

	"github.com/prox-dev/prox/internal/pluginhost"
	"github.com/prox-dev/prox/plugins/loader"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/prox-dev/prox/supervisor/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMaxRestartsZeroAllowsNone: max_restarts = 0 reaches the supervisor
// as policy.NoRestarts (its zero is the default, 5), and an unset
// max_restarts as the default.
func TestMaxRestartsZeroAllowsNone(t *testing.T) {
	src := `
process "none" {
  command = ["true"]
  restart {
    policy       = "always"
    max_restarts = 0
  }
}
process "default" {
  command = ["true"]
  restart { policy = "always" }
}
`
	cfg, diags := config.Parse([]byte(src), "prox.hcl")
	require.False(t, diags.HasErrors(), diags.Error())
	inst := &loader.Instance{Info: &sdk.Info{}}
	none, diags := processSpec(cfg, cfg.Process("none"), inst, nil, nil)
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Equal(t, policy.NoRestarts, none.Restart.MaxRestarts)
	def, diags := processSpec(cfg, cfg.Process("default"), inst, nil, nil)
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Equal(t, policy.DefaultMaxRestarts, def.Restart.MaxRestarts)
}

// localRunner is a third-party runner whose processes run on this host:
// it says so through sdk.LocalRunner, not through its name.
type localRunner struct{}

func (localRunner) Start(context.Context, *sdk.ProcessConfig) (sdk.Process, error) {
	return nil, errors.New("not started in this test")
}

func (localRunner) RunsLocally() bool { return true }

// remoteRunner is a third-party runner that does not say where its
// processes run.
type remoteRunner struct{ localRunner }

func (remoteRunner) RunsLocally() bool { return false }

// infoOver returns the Info of r as prox reads it, through the gRPC
// adapters.
func infoOver(t *testing.T, r sdk.Runner) *sdk.Info {
	t.Helper()
	d, stop, err := pluginhost.Serve(&sdk.ServeConfig{Name: "test", Version: "0.0.0", Runners: map[string]sdk.Runner{"test": r}}, "")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, stop()) })
	info, err := d.Base.Info(context.Background())
	require.NoError(t, err)
	return info
}

// TestLocalCapabilityGivesTheInheritedEnvironment: a process of a runner
// that declares the local capability, whatever its name, inherits prox's
// environment and runs in the config's folder; one of a runner that does
// not gets only what is written for it.
func TestLocalCapabilityGivesTheInheritedEnvironment(t *testing.T) {
	t.Setenv("PROX_TEST_INHERITED", "from-prox")
	src := `
process "web" {
  runner  = "mine"
  command = ["./web"]
  env     = { OWN = "1" }
}
`
	cfg, diags := config.Parse([]byte(src), "prox.hcl")
	require.False(t, diags.HasErrors(), diags.Error())
	p := cfg.Process("web")

	local := infoOver(t, localRunner{})
	require.Contains(t, local.Capabilities, sdk.CapabilityLocal)
	spec, diags := processSpec(cfg, p, &loader.Instance{Info: local}, nil, nil)
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Contains(t, spec.Config.Env, "PROX_TEST_INHERITED=from-prox")
	assert.Contains(t, spec.Config.Env, "OWN=1")
	assert.Equal(t, cfg.Dir, spec.Config.Dir)

	remote := infoOver(t, remoteRunner{})
	require.NotContains(t, remote.Capabilities, sdk.CapabilityLocal)
	spec, diags = processSpec(cfg, p, &loader.Instance{Info: remote}, nil, nil)
	require.False(t, diags.HasErrors(), diags.Error())
	assert.NotContains(t, spec.Config.Env, "PROX_TEST_INHERITED=from-prox")
	assert.Contains(t, spec.Config.Env, "OWN=1")
	assert.Empty(t, spec.Config.Dir)
}
