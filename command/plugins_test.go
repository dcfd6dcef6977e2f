package command

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prox-dev/prox/internal/version"
	"github.com/prox-dev/prox/plugins/builtin"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeTiny writes an external plugin to path that only describes itself
// (runner "tiny", sink "mem", version 0.0.1), as `prox plugins` asks, and
// notes every run in $PROX_TINY_MARKER. Serving is not needed to be
// listed, and a script needs no build.
func writeTiny(t *testing.T, path string) {
	t.Helper()
	script := `#!/bin/sh
echo "ran $*" >> "$PROX_TINY_MARKER"
if [ "$1" = describe ]; then
  echo '{"name":"tiny","version":"0.0.1","api_versions":[1],"runners":["tiny"],"sinks":["mem"]}'
  exit 0
fi
echo "only describe" >&2
exit 1
`
	require.NoError(t, os.WriteFile(path, []byte(script), 0o755))
}

func TestPluginsBuiltins(t *testing.T) {
	t.Setenv("HOME", t.TempDir()) // no ~/.prox/plugins
	dir := t.TempDir()            // no prox.hcl: built-ins only
	code, _, errOut := runCommand(t, "plugins", "-config", filepath.Join(dir, "prox.hcl"), "-json")
	require.Equal(t, 1, code, "an explicit -config must exist")
	assert.Contains(t, errOut, "prox.hcl")

	t.Chdir(dir)
	code, out, errOut := runCommand(t, "plugins", "-json")
	require.Equal(t, 0, code, errOut)
	var got PluginsOutput
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.Equal(t, version.Version, got.ProxVersion)
	assert.Equal(t, sdk.APIVersions, got.APIVersions)
	assert.Empty(t, got.Problems)
	require.Len(t, got.Components, len(builtin.Components()))
	for i, c := range builtin.Components() {
		assert.Equal(t, PluginComponent{Kind: string(c.Kind), Name: c.Name, Plugin: "builtin", Version: version.Version, APIVersions: sdk.APIVersions, Builtin: true}, got.Components[i])
	}

	code, out, errOut = runCommand(t, "plugins")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "prox "+version.Version+", plugin API versions 1")
	assert.Regexp(t, `(?m)^runner\s+exec\s+builtin\s+`+regexp.QuoteMeta(version.Version)+`\s+1\s+built-in$`, out)
}

func TestPluginsExternal(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "plugins"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bad"), 0o755))
	tiny := filepath.Join(dir, "plugins", "prox-plugin-tiny")
	writeTiny(t, tiny)
	bad := filepath.Join(dir, "bad", "prox-plugin-bad")
	data, err := os.ReadFile(tiny)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bad, data, 0o755))
	marker := filepath.Join(dir, "ran")
	t.Setenv("PROX_TINY_MARKER", marker)
	config := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(config, []byte(`
plugin_dir = "plugins"
plugin "bad" {
  path   = "./bad/prox-plugin-bad"
  sha256 = "`+strings.Repeat("0", 64)+`"
}
process "x" { command = ["true"] }
`), 0o644))

	code, out, errOut := runCommand(t, "plugins", "-config", config, "-json")
	require.Equal(t, 0, code, errOut)
	var got PluginsOutput
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	var external []PluginComponent
	for _, c := range got.Components {
		if !c.Builtin {
			external = append(external, c)
		}
	}
	assert.Equal(t, []PluginComponent{
		{Kind: "runner", Name: "tiny", Plugin: "tiny", Version: "0.0.1", APIVersions: sdk.APIVersions, Path: tiny},
		{Kind: "sink", Name: "mem", Plugin: "tiny", Version: "0.0.1", APIVersions: sdk.APIVersions, Path: tiny},
	}, external)
	require.Len(t, got.Problems, 1)
	assert.Equal(t, "bad", got.Problems[0].Plugin)
	assert.Contains(t, got.Problems[0].Error, "expected sha256 "+strings.Repeat("0", 64))
	ran, err := os.ReadFile(marker)
	require.NoError(t, err)
	assert.Equal(t, "ran describe\n", string(ran), "only the plugin with no checksum problem was run")

	code, out, errOut = runCommand(t, "plugins", "-config", config)
	require.Equal(t, 0, code)
	assert.Regexp(t, `(?m)^sink\s+mem\s+tiny\s+0\.0\.1\s+1\s+`+regexp.QuoteMeta(tiny)+`$`, out)
	assert.Contains(t, errOut, "plugin bad ("+bad+")")
}

func TestPluginsInvalidConfig(t *testing.T) {
	code, _, errOut := runCommand(t, "plugins", "-config", "testdata/invalid.hcl")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "on testdata/invalid.hcl line 3")
	code, _, errOut = runCommand(t, "plugins", "extra")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "plugins takes no arguments")
}

// A checksum mismatch is reported at the plugin block's sha256, where it
// is fixed, not at the process that uses the plugin.
func TestValidateChecksumMismatchAtThePluginBlock(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	writeTiny(t, filepath.Join(dir, "bin", "prox-plugin-tiny"))
	bin, err := os.ReadFile(filepath.Join(dir, "bin", "prox-plugin-tiny"))
	require.NoError(t, err)
	actual := sha256.Sum256(bin)
	config := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(config, []byte(`process "x" {
  command = ["true"]
  runner  = "tiny"
}

plugin "tiny" {
  path   = "./bin/prox-plugin-tiny"
  sha256 = "`+strings.Repeat("0", 64)+`"
}
`), 0o644))
	code, _, errOut := runCommand(t, "validate", "-config", config, "-no-color")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "plugin checksum mismatch")
	assert.Contains(t, errOut, `on `+config+` line 8, in plugin "tiny":`, errOut)
	// What to type instead: the file's checksum, if it is the plugin meant.
	assert.Contains(t, errOut, `If this file is the plugin you mean to run (you rebuilt or upgraded it), write sha256 = "`+hex.EncodeToString(actual[:])+`" in its plugin block; otherwise find out what replaced it`)
}
