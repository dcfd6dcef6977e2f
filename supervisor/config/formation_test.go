package config

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFormation(t *testing.T) {
	f, err := ParseFormation("web=2, worker=0,all=3")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"web": 2, "worker": 0}, f.Counts)
	assert.True(t, f.HasAll)
	assert.Equal(t, 3, f.All)
	assert.Equal(t, "all=3,web=2,worker=0", f.String())
	assert.Equal(t, 2, f.count("web"))
	assert.Equal(t, 3, f.count("other"), "all= counts the processes not named")

	f, err = ParseFormation("")
	require.NoError(t, err)
	assert.True(t, f.IsZero())
	assert.Equal(t, 1, f.count("web"))

	for in, want := range map[string]string{
		"web":            `"web" is not NAME=COUNT`,
		"=2":             `"=2" is not NAME=COUNT`,
		"web=abc":        `the count of "web" must be a whole number from 0 to 1000, not "abc"`,
		"web=-1":         `not "-1"`,
		"web=1.5":        `not "1.5"`,
		"web=1001":       `not "1001"`,
		"web=1,web=2":    `"web" is given twice`,
		"all=1,all=2":    `"all" is given twice`,
		"-web=1":         `"-web" is not a process name`,
		"web=1,,worker=": `"" is not NAME=COUNT`,
	} {
		_, err := ParseFormation(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
}

func TestLoadProcfileWithAFormation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "Procfile")
	require.NoError(t, os.WriteFile(path, []byte("web: serve\nworker: work\nclock: tick\n"), 0o644))

	f, err := ParseFormation("web=3,clock=0")
	require.NoError(t, err)
	cfg, diags := LoadProcfileWith(path, LoadOptions{Formation: f})
	require.False(t, diags.HasErrors(), diags.Error())
	var names, ports []string
	for _, p := range cfg.Instances() {
		names = append(names, p.Name)
		ports = append(ports, p.Env["PORT"])
	}
	assert.Equal(t, []string{"web.0", "web.1", "web.2", "worker"}, names, "clock=0 runs none")
	assert.Equal(t, []string{"5000", "5001", "5002", "5100"}, ports, "foreman's PORT: the process's, plus the instance's index")
	env, err := cfg.Environ(cfg.Instances()[2], nil)
	require.NoError(t, err)
	assert.Contains(t, env, "PROX_REPLICA=2")

	f, err = ParseFormation("all=2")
	require.NoError(t, err)
	cfg, diags = LoadProcfileWith(path, LoadOptions{Formation: f})
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Len(t, cfg.Instances(), 6)

	for in, want := range map[string]string{
		"wrker=2":       `names "wrker", but ` + path + ` declares no such process. Did you mean "worker"?`,
		"all=0":         "runs no process",
		"all=0,other=1": `names "other"`,
	} {
		f, err := ParseFormation(in)
		require.NoError(t, err)
		_, diags := LoadProcfileWith(path, LoadOptions{Formation: f})
		require.True(t, diags.HasErrors(), in)
		assert.Contains(t, diags.Error(), want, in)
		assert.Contains(t, diags.Error(), fmt.Sprintf("-m %s", f), in)
	}
}
