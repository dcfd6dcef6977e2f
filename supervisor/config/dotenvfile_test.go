package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeProject writes prox.hcl (and .env when dotenv is not "") into a
// new folder and returns the configuration's path.
func writeProject(t *testing.T, hcl, dotenv string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(path, []byte(hcl), 0o644))
	if dotenv != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o644))
	}
	return path
}

func TestDotenvBesideTheConfig(t *testing.T) {
	t.Setenv("PROX_TEST_SHELL", "shell")
	path := writeProject(t, `
process "web" {
  command  = ["echo", env("PROX_TEST_PORT"), env("PROX_TEST_SHELL")]
  env_file = "web.env"
  env      = { FROM_ENV = "env" }
}
`, "PROX_TEST_PORT=5000\nPROX_TEST_SHELL=dotenv\nLAYER=dotenv\nFILE_LAYER=dotenv\nFROM_ENV=dotenv\n")
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(path), "web.env"), []byte("FILE_LAYER=env_file\nFROM_ENV=env_file\n"), 0o644))
	cfg, diags := Load(path)
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Equal(t, filepath.Join(filepath.Dir(path), ".env"), cfg.DotenvFile)
	// env(): prox's environment first, then .env (compose's order).
	assert.Equal(t, []string{"echo", "5000", "shell"}, cfg.Processes[0].Command)

	// A process's environment: prox's < .env < env_file < env (foreman's).
	env, err := cfg.Environ(cfg.Processes[0], []string{"LAYER=shell", "PROX_TEST_SHELL=shell", "ONLY_SHELL=1"})
	require.NoError(t, err)
	assert.Equal(t, []string{
		"FILE_LAYER=env_file", "FROM_ENV=env", "LAYER=dotenv", "ONLY_SHELL=1",
		"PROX_TEST_PORT=5000", "PROX_TEST_SHELL=dotenv",
	}, env)
}

func TestDotenvOff(t *testing.T) {
	path := writeProject(t, `
dotenv = false
process "web" { command = ["echo", env("PROX_TEST_PORT")] }
`, "PROX_TEST_PORT=5000\n")
	cfg, diags := Load(path)
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Empty(t, cfg.DotenvFile)
	assert.Nil(t, cfg.Dotenv)
	assert.Equal(t, []string{"echo", ""}, cfg.Processes[0].Command)
}

func TestDotenvMissingIsFine(t *testing.T) {
	cfg, diags := Load(writeProject(t, `process "web" { command = ["true"] }`, ""))
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Empty(t, cfg.DotenvFile)
}

func TestEnvFileOption(t *testing.T) {
	path := writeProject(t, `
dotenv = false
process "web" { command = ["echo", env("PROX_TEST_PORT")] }
`, "PROX_TEST_PORT=5000\n")
	other := filepath.Join(t.TempDir(), "staging.env")
	require.NoError(t, os.WriteFile(other, []byte("PROX_TEST_PORT=6000\n"), 0o644))
	// -env-file is read even with dotenv = false: it was asked for.
	cfg, diags := LoadWith(path, LoadOptions{EnvFile: other})
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Equal(t, other, cfg.DotenvFile)
	assert.Equal(t, []string{"echo", "6000"}, cfg.Processes[0].Command)

	_, diags = LoadWith(path, LoadOptions{EnvFile: filepath.Join(t.TempDir(), "missing.env")})
	require.True(t, diags.HasErrors())
	assert.Equal(t, "Cannot read the env file", diags[0].Summary)
	assert.Contains(t, diags[0].Detail, "missing.env")
}

func TestDotenvErrors(t *testing.T) {
	path := writeProject(t, `process "web" { command = ["true"] }`, "A=1\n\nbroken line\n")
	cfg, diags := Load(path)
	require.True(t, diags.HasErrors())
	d := diags[0]
	assert.Equal(t, "Invalid env file", d.Summary)
	require.NotNil(t, d.Subject, "the diagnostic points at the line of .env")
	assert.True(t, strings.HasSuffix(d.Subject.Filename, ".env"), d.Subject.Filename)
	assert.Equal(t, 3, d.Subject.Start.Line)
	assert.Contains(t, d.Detail, "expected KEY=VALUE")
	assert.Contains(t, d.Detail, "dotenv = false in the configuration stops prox reading .env")
	var buf strings.Builder
	require.NoError(t, WriteDiagnostics(&buf, cfg.Files, diags, 0, false))
	assert.Contains(t, buf.String(), "   3: broken line\n", "the line of .env is shown")
	assert.NotContains(t, buf.String(), "source code not available")

	// Beside a configuration named relatively, .env is named the same way.
	dir := filepath.Dir(path)
	t.Chdir(dir)
	_, diags = Load("prox.hcl")
	require.True(t, diags.HasErrors())
	assert.Equal(t, ".env", diags[0].Subject.Filename)

	// A file of -env-file is named as given, and dotenv = false is no
	// help for it.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "staging.env"), []byte("B=2\nexport\n"), 0o644))
	cfg, diags = LoadWith("prox.hcl", LoadOptions{EnvFile: "staging.env"})
	require.True(t, diags.HasErrors())
	assert.Equal(t, "staging.env", diags[0].Subject.Filename)
	assert.Equal(t, 2, diags[0].Subject.Start.Line)
	assert.NotContains(t, diags[0].Detail, "dotenv = false")
	buf.Reset()
	require.NoError(t, WriteDiagnostics(&buf, cfg.Files, diags, 0, false))
	assert.Contains(t, buf.String(), "   2: export\n")

	_, diags = Load(writeProject(t, `dotenv = env("X") == ""`+"\n", ""))
	require.True(t, diags.HasErrors())
	assert.Equal(t, "Invalid dotenv", diags[0].Summary)
	assert.Equal(t, 1, diags[0].Subject.Start.Line)
}
