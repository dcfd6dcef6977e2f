package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/prox-dev/prox/supervisor/control"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startAgent builds the agent of opts and runs it in the background until
// the end of the test; it returns once its processes were started.
func startAgent(t *testing.T, opts Options) *Agent {
	t.Helper()
	a, diags, err := New(context.Background(), opts)
	require.NoError(t, err)
	require.False(t, diags.HasErrors(), diags.Error())
	stop := make(chan os.Signal, 2)
	done := make(chan int, 1)
	go func() { done <- a.Run(stop) }()
	t.Cleanup(func() {
		stop <- os.Interrupt
		<-done
		a.Close()
	})
	require.Eventually(t, func() bool {
		_, err := a.ReloadWith(context.Background(), ReloadOptions{DryRun: true})
		return err == nil
	}, 10*time.Second, 5*time.Millisecond)
	return a
}

const reloadBase = `
process "a" {
  command  = ["sh", "-c", "exec sleep 300"]
  env      = { X = "1" }
  env_file = "a.env"
  stop {
    timeout = "5s"
  }
}
process "b" {
  command = ["sh", "-c", "exec sleep 300"]
}
`

// Each change of what a process is made of restarts it, and only it.
func TestReloadSeesEveryChangeOfAProcess(t *testing.T) {
	opts, _, _ := testOptions(t, reloadBase)
	dir := filepath.Dir(opts.ConfigPath)
	envFile := filepath.Join(dir, "a.env")
	require.NoError(t, os.WriteFile(envFile, []byte("Y=1\n"), 0o644))
	a := startAgent(t, opts)

	res, err := a.ReloadWith(context.Background(), ReloadOptions{DryRun: true})
	require.NoError(t, err)
	assert.True(t, res.Plan.Empty(), "the same file: nothing to do")
	assert.Equal(t, []string{"a", "b"}, res.Plan.Unchanged)

	for _, c := range []struct {
		name    string
		config  string
		envFile string
	}{
		{name: "command", config: strings.Replace(reloadBase, `"exec sleep 300"]
  env`, `"exec sleep 301"]
  env`, 1)},
		{name: "env", config: strings.Replace(reloadBase, `X = "1"`, `X = "2"`, 1)},
		{name: "env_file content", config: reloadBase, envFile: "Y=2\n"},
		{name: "stop timeout", config: strings.Replace(reloadBase, `"5s"`, `"6s"`, 1)},
		{name: "log_lines", config: strings.Replace(reloadBase, `env_file = "a.env"`, "env_file = \"a.env\"\n  log_lines = 10", 1)},
		{name: "restart policy", config: strings.Replace(reloadBase, `env_file = "a.env"`, "env_file = \"a.env\"\n  restart {\n    policy = \"always\"\n  }", 1)},
		{name: "health check", config: strings.Replace(reloadBase, `env_file = "a.env"`, "env_file = \"a.env\"\n  health {\n    tcp {\n      address = \"127.0.0.1:1\"\n    }\n  }", 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(opts.ConfigPath, []byte(c.config), 0o644))
			content := "Y=1\n"
			if c.envFile != "" {
				content = c.envFile
			}
			require.NoError(t, os.WriteFile(envFile, []byte(content), 0o644))
			res, err := a.ReloadWith(context.Background(), ReloadOptions{DryRun: true})
			require.NoError(t, err)
			assert.Equal(t, []string{"a"}, specNames(res.Plan.Restart))
			assert.Equal(t, []string{"b"}, res.Plan.Unchanged)
			assert.False(t, res.Applied)
		})
	}
}

func TestReloadRefusesWhatARunningProxKeeps(t *testing.T) {
	opts, _, _ := testOptions(t, reloadBase)
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(opts.ConfigPath), "a.env"), nil, 0o644))
	a := startAgent(t, opts)
	require.NoError(t, os.WriteFile(opts.ConfigPath, []byte(`plugin_dir = "elsewhere"`+"\n"+reloadBase), 0o644))
	err := a.Reload(context.Background())
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Error(), "Cannot reload a change of plugin_dir")
	assert.Contains(t, ce.Error(), "restart prox")
}

func TestReloadBeforeRunIsRefused(t *testing.T) {
	opts, _, _ := testOptions(t, `process "a" { command = ["true"] }`)
	a, diags, err := New(context.Background(), opts)
	require.NoError(t, err)
	require.False(t, diags.HasErrors())
	defer a.Close()
	err = a.Reload(context.Background())
	require.ErrorIs(t, err, ErrNotRunning)
}

// The route's answers: refusals as the API's errors.
func TestReloadRouteRefusals(t *testing.T) {
	opts, _, _ := testOptions(t, `
process "db" { command = ["sh", "-c", "exec sleep 300"] }
process "web" {
  command    = ["sh", "-c", "exec sleep 300"]
  depends_on = ["db"]
}
`)
	a := startAgent(t, opts)
	require.NoError(t, os.WriteFile(opts.ConfigPath, []byte(`
process "web" {
  command    = ["sh", "-c", "exec sleep 300"]
  depends_on = ["db"]
}
`), 0o644))
	_, err := reloadRoute{a}.Reload(context.Background(), false)
	require.ErrorContains(t, err, `process "db" cannot be removed: process "web" depends on it`)
	assert.True(t, control.IsCode(err, control.CodeRefused), "%#v", err)

	require.NoError(t, os.WriteFile(opts.ConfigPath, []byte(`process "web" {`), 0o644))
	_, err = reloadRoute{a}.Reload(context.Background(), false)
	assert.True(t, control.IsCode(err, control.CodeInvalidConfig), "%#v", err)
	assert.Contains(t, err.Error(), "prox.hcl line 1")
	err = a.Reload(context.Background())
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
}

// A change that is not in the file goes through the same plan and apply.
func TestReloadWithAChange(t *testing.T) {
	opts, _, _ := testOptions(t, `
process "a" { command = ["sh", "-c", "exec sleep 300"] }
process "b" { command = ["sh", "-c", "exec sleep 300"] }
`)
	a := startAgent(t, opts)
	dropB := func(cfg *config.Config) (*config.Config, hcl.Diagnostics) {
		cfg.Processes = slices.DeleteFunc(cfg.Processes, func(p *config.Process) bool { return p.Name == "b" })
		return cfg, nil
	}
	res, err := a.ReloadWith(context.Background(), ReloadOptions{Change: dropB})
	require.NoError(t, err)
	assert.Equal(t, []string{"b"}, res.Plan.Remove)
	assert.Equal(t, []string{"a"}, specNames(a.reload.sup.Specs()))

	refuse := func(cfg *config.Config) (*config.Config, hcl.Diagnostics) {
		return cfg, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "No such count", Detail: "scale: 0 is not a count"}}
	}
	_, err = a.ReloadWith(context.Background(), ReloadOptions{Change: refuse})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, ce.Error(), "scale: 0 is not a count")
	assert.Equal(t, []string{"a"}, specNames(a.reload.sup.Specs()))
}
