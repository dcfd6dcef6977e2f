package agent

import (
	"testing"

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
