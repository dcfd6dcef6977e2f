package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/prox-dev/prox/plugins/loader"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/prox-dev/prox/supervisor/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each instance of a process with replicas is a spec of its own: its
// name, its group, its own values of replica, PROX_REPLICA and health
// check; a dependency on the process is one on each instance.
func TestInstanceSpecs(t *testing.T) {
	src := `
process "web" {
  replicas = 3
  command  = ["serve", 8000 + replica]
  health {
    tcp { address = "127.0.0.1:${8000 + replica}" }
  }
}
process "proxy" {
  command = ["proxy"]
  depends_on "web" { condition = "healthy" }
}
`
	cfg, diags := config.Parse([]byte(src), "prox.hcl")
	require.False(t, diags.HasErrors(), diags.Error())
	inst := &loader.Instance{Info: &sdk.Info{}}
	insts := cfg.Instances()
	require.Len(t, insts, 4)
	for i, p := range insts[:3] {
		spec, diags := processSpec(cfg, p, inst, nil, nil)
		require.False(t, diags.HasErrors(), diags.Error())
		assert.Equal(t, fmt.Sprintf("web.%d", i), spec.Name)
		assert.Equal(t, "web", spec.Group)
		assert.Equal(t, fmt.Sprintf("web.%d", i), spec.Config.Name)
		assert.Equal(t, []string{"serve", fmt.Sprint(8000 + i)}, spec.Config.Command)
		assert.Contains(t, spec.Config.Env, fmt.Sprintf("PROX_REPLICA=%d", i))
		require.NotNil(t, spec.Health)
		assert.Equal(t, fmt.Sprintf("127.0.0.1:%d", 8000+i), spec.Health.Check.(*supervisor.TCPCheck).Address)
	}
	proxy, diags := processSpec(cfg, insts[3], inst, nil, nil)
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Equal(t, "proxy", proxy.Group)
	assert.Equal(t, []supervisor.Dependency{
		{Name: "web.0", Condition: policy.ConditionHealthy},
		{Name: "web.1", Condition: policy.ConditionHealthy},
		{Name: "web.2", Condition: policy.ConditionHealthy},
	}, proxy.DependsOn)
	for _, kv := range proxy.Config.Env {
		assert.NotContains(t, kv, "PROX_REPLICA=", "a process without replicas runs as it did")
	}
}

// A dependency follows the count of the configuration it is built from:
// after WithReplicas (prox scale), one per new instance.
func TestDependenciesFollowTheCount(t *testing.T) {
	cfg, diags := config.Parse([]byte("process \"web\" {}\nprocess \"proxy\" {\n  depends_on = [\"web\"]\n}\n"), "prox.hcl")
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Equal(t, []supervisor.Dependency{{Name: "web", Condition: policy.ConditionStarted}}, dependencies(cfg, cfg.Process("proxy")))
	scaled, diags := cfg.WithReplicas("web", 2)
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Equal(t, []supervisor.Dependency{
		{Name: "web.0", Condition: policy.ConditionStarted},
		{Name: "web.1", Condition: policy.ConditionStarted},
	}, dependencies(scaled, scaled.Process("proxy")))
}

// prox validate says a problem the instances of a block share once, and
// builds a spec for each instance.
func TestCheckReplicasWarnsOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte("process \"web\" {\n  replicas = 3\n  command  = [\"true\"]\n  dir      = \"./missing\"\n}\n"), 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, diags := checkStack(ctx, cfg, "", hclog.NewNullLogger())
	defer func() { _ = st.close(context.Background()) }()
	require.False(t, diags.HasErrors(), diags.Error())
	require.Len(t, diags, 1, diags.Error())
	assert.Equal(t, "Working folder not found", diags[0].Summary)
	assert.Equal(t, 4, diags[0].Subject.Start.Line)
	var names []string
	for _, s := range st.specs {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"web.0", "web.1", "web.2"}, names)
}
