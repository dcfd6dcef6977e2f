package config

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReplicasExpandIntoInstances(t *testing.T) {
	cfg := loadOK(t, `
process "web" {
  replicas = 3
  command  = ["serve", "--port", 8000 + replica]
  env      = { PORT = 8000 + replica, NAME = "web-${replica}" }
  health {
    tcp { address = "127.0.0.1:${9000 + replica}" }
  }
}
process "db" {
  command = ["db"]
}
`)
	require.Len(t, cfg.Processes, 2, "one block each")
	insts := cfg.Instances()
	require.Len(t, insts, 4)
	for i := range 3 {
		p := insts[i]
		assert.Equal(t, fmt.Sprintf("web.%d", i), p.Name)
		assert.Equal(t, "web", p.Group)
		assert.Equal(t, i, p.Replica)
		assert.Equal(t, 3, p.Replicas)
		assert.True(t, p.Replicated())
		assert.Equal(t, []string{"serve", "--port", fmt.Sprint(8000 + i)}, p.Command)
		assert.Equal(t, map[string]string{"PORT": fmt.Sprint(8000 + i), "NAME": fmt.Sprintf("web-%d", i)}, p.Env)
		require.NotNil(t, p.Health)
		require.NotNil(t, p.Health.TCP)
		assert.Equal(t, fmt.Sprintf("127.0.0.1:%d", 9000+i), p.Health.TCP.Address)
		env, err := cfg.Environ(p, nil)
		require.NoError(t, err)
		assert.Contains(t, env, fmt.Sprintf("PROX_REPLICA=%d", i))
	}
	// A process without replicas is exactly what it was: its name, no
	// PROX_REPLICA.
	db := insts[3]
	assert.Same(t, cfg.Process("db"), db)
	assert.Equal(t, "db", db.Name)
	assert.Equal(t, "db", db.Group)
	assert.Equal(t, 1, db.Replicas)
	assert.False(t, db.Replicated())
	env, err := cfg.Environ(db, nil)
	require.NoError(t, err)
	assert.Empty(t, env)
	assert.Equal(t, insts[:3], cfg.InstancesOf("web"))
	assert.Nil(t, cfg.InstancesOf("nope"))
}

// TestReplicasOneIsAnInstance: a block that sets replicas names its
// instances NAME.INDEX whatever the count, so that going from 3 to 1 (a
// reload, prox scale) keeps web.0 running instead of renaming it.
func TestReplicasOneIsAnInstance(t *testing.T) {
	cfg := loadOK(t, "process \"web\" {\n  replicas = 1\n  command = [\"x\", replica]\n}\n")
	insts := cfg.Instances()
	require.Len(t, insts, 1)
	assert.Equal(t, "web.0", insts[0].Name)
	assert.Equal(t, []string{"x", "0"}, insts[0].Command)
	env, err := cfg.Environ(insts[0], nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"PROX_REPLICA=0"}, env, "replicas is written: the instance knows its index")
}

func TestExpandWithACount(t *testing.T) {
	cfg := loadOK(t, `
process "web" {
  replicas = 2
  env      = { PORT = 8000 + replica }
}
process "other" {}
`)
	web := cfg.Process("web")
	insts, diags := cfg.Expand(web, 5)
	require.False(t, diags.HasErrors(), "%s", diags.Error())
	require.Len(t, insts, 5)
	for i, p := range insts {
		assert.Equal(t, fmt.Sprintf("web.%d", i), p.Name)
		assert.Equal(t, fmt.Sprint(8000+i), p.Env["PORT"])
		assert.Equal(t, 5, p.Replicas)
	}
	assert.Len(t, cfg.Instances(), 3, "the configuration is unchanged")

	one, diags := cfg.Expand(web, 1)
	require.False(t, diags.HasErrors(), "%s", diags.Error())
	require.Len(t, one, 1)
	assert.Equal(t, "web.0", one[0].Name, "one instance of a block with replicas is its instance 0")
	assert.True(t, one[0].Replicated())

	other, diags := cfg.Expand(cfg.Process("other"), 2)
	require.False(t, diags.HasErrors(), "%s", diags.Error())
	assert.Equal(t, "other.1", other[1].Name)
	assert.True(t, other[1].Replicated())

	for _, n := range []int{0, -1, MaxReplicas + 1} {
		_, diags := cfg.Expand(web, n)
		require.True(t, diags.HasErrors(), "count %d", n)
		assert.Equal(t, "Invalid replicas", diags[0].Summary)
		require.NotNil(t, diags[0].Subject, "at the replicas attribute")
		assert.Equal(t, 3, diags[0].Subject.Start.Line)
	}
}

func TestExpandRefusesATakenName(t *testing.T) {
	cfg := loadOK(t, "process \"web\" {}\nprocess \"web.1\" {}\n")
	_, diags := cfg.Expand(cfg.Process("web"), 3)
	require.True(t, diags.HasErrors())
	assert.Equal(t, "Instance name taken", diags[0].Summary)
	assert.Contains(t, diags[0].Detail, `"web.1"`)
	assert.Contains(t, diags[0].Detail, ":2,1")
}

func TestReplicasErrors(t *testing.T) {
	tests := []struct {
		name, src, summary, detail string
		line                       int
	}{
		{"zero", "process \"a\" {\n  replicas = 0\n}\n", "Invalid replicas", "at least 1, not 0", 2},
		{"negative", "process \"a\" {\n\n  replicas = -2\n}\n", "Invalid replicas", "at least 1, not -2", 3},
		{"too many", "process \"a\" {\n  replicas = 1001\n}\n", "Invalid replicas", "at most 1000", 2},
		{"fraction", "process \"a\" {\n  replicas = 1.5\n}\n", "Invalid replicas", "whole number", 2},
		{"string", "process \"a\" {\n  replicas = \"two\"\n}\n", "Invalid replicas", "", 2},
		{"count from replica", "process \"a\" {\n  replicas = replica + 2\n}\n", "Invalid replicas", "cannot use replica", 2},
		{"name taken", "process \"a\" {\n  replicas = 3\n}\nprocess \"a.2\" {}\n", "Instance name taken", `"a.2"`, 2},
		{"replica outside a process", "sink \"file\" \"x\" {\n  path = replica\n}\nprocess \"a\" {\n  sinks = [\"file.x\"]\n}\n", "", "", 0},
		{"unknown variable", "process \"a\" {\n  replicas = 2\n  env = { A = replicas }\n}\n", "Unknown variable", "The one variable of a process block is replica", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse([]byte(tt.src), "prox.hcl")
			if tt.summary == "" {
				// Plugin blocks are decoded later, against the plugin's
				// schema: the config loader leaves them alone.
				require.False(t, diags.HasErrors(), "%s", diags.Error())
				return
			}
			require.True(t, diags.HasErrors())
			require.Len(t, diags, 1, "reported once, not once per instance: %s", diags.Error())
			d := diags[0]
			assert.Equal(t, tt.summary, d.Summary)
			assert.Contains(t, d.Detail, tt.detail)
			require.NotNil(t, d.Subject)
			assert.Equal(t, "prox.hcl", d.Subject.Filename)
			assert.Equal(t, tt.line, d.Subject.Start.Line)
		})
	}
}

// A problem in the expressions of a replicated block is reported once, at
// its place; one that only some instances have is reported too.
func TestReplicaProblemsReportedOnce(t *testing.T) {
	_, diags := Parse([]byte(`process "a" {
  replicas = 3
  command  = [nope()]
  log_lines = 1 - replica
}
`), "prox.hcl")
	require.Len(t, diags, 2, "%s", diags.Error())
	assert.Equal(t, "Call to unknown function", diags[0].Summary)
	assert.Equal(t, "Invalid log_lines", diags[1].Summary)
	assert.Equal(t, 4, diags[1].Subject.Start.Line)
}

func TestReplicasDependencies(t *testing.T) {
	cfg := loadOK(t, `
process "web" {
  replicas = 2
  health {
    tcp { address = "127.0.0.1:${8000 + replica}" }
  }
}
process "proxy" {
  depends_on "web" { condition = "healthy" }
}
`)
	deps := cfg.Process("proxy").DependsOn
	require.Len(t, deps, 1)
	assert.Equal(t, "web", deps[0].Name, "a dependency names the process block")
}

// WithReplicas is the configuration with another count for one block: the
// old one is unchanged, and the new one's instances, and dependencies on
// them, follow the new count.
func TestWithReplicas(t *testing.T) {
	cfg := loadOK(t, `
process "web" {
  env = { PORT = 8000 + replica }
}
process "proxy" {
  depends_on = ["web"]
}
`)
	scaled, diags := cfg.WithReplicas("web", 3)
	require.False(t, diags.HasErrors(), diags.Error())
	var names []string
	for _, p := range scaled.Instances() {
		names = append(names, p.Name)
	}
	assert.Equal(t, []string{"web.0", "web.1", "web.2", "proxy"}, names)
	assert.Len(t, scaled.InstancesOf("web"), 3)
	assert.Equal(t, "8002", scaled.InstancesOf("web")[2].Env["PORT"])
	assert.Equal(t, 3, scaled.Process("web").Replicas)
	assert.Same(t, cfg.Process("proxy"), scaled.Process("proxy"), "other blocks are shared")

	assert.Len(t, cfg.Instances(), 2, "the original is unchanged")
	assert.Equal(t, "web", cfg.Instances()[0].Name)
	assert.Equal(t, 1, cfg.Process("web").Replicas)

	back, diags := scaled.WithReplicas("web", 1)
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Equal(t, "web.0", back.Instances()[0].Name, "scaled once, the block keeps naming its instances: web.0 stays as it runs")

	same, diags := cfg.WithReplicas("web", 1)
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Same(t, cfg, same, "one instance of a process without replicas is the process as it runs")

	_, diags = cfg.WithReplicas("nope", 2)
	require.True(t, diags.HasErrors())
	assert.Contains(t, diags.Error(), `no process "nope"`)
	_, diags = cfg.WithReplicas("web", 0)
	require.True(t, diags.HasErrors())
	assert.Contains(t, diags.Error(), "at least 1, not 0")
}
