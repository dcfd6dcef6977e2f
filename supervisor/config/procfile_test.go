package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseProcfile(t *testing.T) {
	src := "# comment\nweb: bundle exec rails s -p $PORT\n\nworker:python worker.py --queue=${QUEUE}\n"
	entries, diags := ParseProcfile(strings.NewReader(src), "Procfile")
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Equal(t, []ProcfileEntry{
		{Name: "web", Command: "bundle exec rails s -p $PORT", Line: 2},
		{Name: "worker", Command: "python worker.py --queue=${QUEUE}", Line: 4},
	}, entries)
}

func TestParseProcfileErrors(t *testing.T) {
	src := "web: ok\nno colon here\nbad name!: x\nempty:\nweb: again\n"
	_, diags := ParseProcfile(strings.NewReader(src), "Procfile")
	require.Len(t, diags, 4)
	for i, line := range []int{2, 3, 4, 5} {
		assert.Equal(t, "Procfile", diags[i].Subject.Filename)
		assert.Equal(t, line, diags[i].Subject.Start.Line)
	}
	assert.Contains(t, diags[0].Detail, "no colon")
	assert.Equal(t, "Duplicate process", diags[3].Summary)
}

func TestLoadProcfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "Procfile")
	require.NoError(t, os.WriteFile(path, []byte("web: echo \"port $PORT ${HOME}\"\nworker: sleep 1\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".env"), []byte("GREETING=hi\n"), 0o644))
	cfg, diags := LoadProcfile(path)
	require.False(t, diags.HasErrors(), diags.Error())
	require.Len(t, cfg.Processes, 2)
	web := cfg.Processes[0]
	assert.Equal(t, []string{"sh", "-c", `echo "port $PORT ${HOME}"`}, web.Command, "the command reaches the shell as written")
	assert.Equal(t, map[string]string{"PORT": "5000"}, web.Env)
	assert.Equal(t, "5100", cfg.Processes[1].Env["PORT"])
	assert.Empty(t, web.EnvFile, ".env is the dotenv file, not an env_file")
	env, err := cfg.Environ(web, nil)
	require.NoError(t, err)
	assert.Contains(t, env, "GREETING=hi")
	assert.Contains(t, env, "PORT=5000")

	// -env-file replaces .env for the processes too, as foreman's -e.
	staging := filepath.Join(dir, "staging.env")
	require.NoError(t, os.WriteFile(staging, []byte("GREETING=staging\nPORT=1\n"), 0o644))
	cfg, diags = LoadProcfileWith(path, LoadOptions{EnvFile: staging})
	require.False(t, diags.HasErrors(), diags.Error())
	env, err = cfg.Environ(cfg.Processes[0], nil)
	require.NoError(t, err)
	assert.Contains(t, env, "GREETING=staging")
	assert.NotContains(t, env, "GREETING=hi")
	assert.Contains(t, env, "PORT=5000", "the Procfile's PORT is above any env file")
}

func TestProcfileHCLIsValid(t *testing.T) {
	src := ProcfileHCL([]ProcfileEntry{{Name: "a", Command: `x "quoted" %{ if } \ back`}}, false)
	cfg, diags := Parse(src, "prox.hcl")
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Equal(t, []string{"sh", "-c", `x "quoted" %{ if } \ back`}, cfg.Processes[0].Command)
}

// TestProcfileHCLQuotesEveryCharacter: prox init must write a prox.hcl
// that parses back to the very command of the Procfile, whatever bytes it
// holds. strconv's escapes (\x1b, \a, \v) are not HCL's.
func TestProcfileHCLQuotesEveryCharacter(t *testing.T) {
	cmd := "printf '\x1b[1mbold\x1b[0m\a\b\f\v\x7f' \"$X\" \\ ${Y} %{ Z } é 日本 \U0001F600\ttab\r\nnext"
	src := ProcfileHCL([]ProcfileEntry{{Name: "a", Command: cmd}}, false)
	cfg, diags := Parse(src, "prox.hcl")
	require.False(t, diags.HasErrors(), "%s\n%s", diags.Error(), src)
	assert.Equal(t, []string{"sh", "-c", cmd}, cfg.Processes[0].Command)
}
