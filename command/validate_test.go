package command

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/cli"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		config string
		code   int
		stdout []string
		stderr []string
	}{
		{
			name: "valid", config: "testdata/valid.hcl", code: 0,
			stdout: []string{"The configuration is valid: testdata/valid.hcl"},
		},
		{
			name: "every error reported", config: "testdata/invalid.hcl", code: 1,
			stderr: []string{
				"on testdata/invalid.hcl line 3",
				"Unsupported argument",
				"on testdata/invalid.hcl line 5",
				"on testdata/invalid.hcl line 9",
				"Duplicate process",
				"on testdata/invalid.hcl line 10",
				"on testdata/invalid.hcl line 11",
			},
		},
		{
			name: "plugin attribute checked against the plugin's schema", config: "testdata/bad_plugin_attr.hcl", code: 1,
			stderr: []string{"on testdata/bad_plugin_attr.hcl line 3", "exec"},
		},
		{
			name: "unknown runner plugin", config: "testdata/unknown_runner.hcl", code: 1,
			stderr: []string{"on testdata/unknown_runner.hcl line 2", `Cannot use runner "teleport"`, "plugin not found"},
		},
		{
			name: "every attribute a plugin rejects, at its line", config: "testdata/bad_sink_values.hcl", code: 1,
			stderr: []string{
				`Invalid sink attribute "url"`,
				"on testdata/bad_sink_values.hcl line 7, in sink \"webhook\" \"alerts\":\n   7:   url      = \"hooks.example.com/x\"",
				`sink "webhook.alerts": url: must start with http:// or https://.`,
				`Invalid sink attribute "match"`,
				"on testdata/bad_sink_values.hcl line 8, in sink",
				"match: invalid regular expression",
				`Invalid sink attribute "max_size"`,
				"on testdata/bad_sink_values.hcl line 14, in sink \"file\" \"all\":",
				// Found without creating anything: a file is in the way.
				`Invalid sink attribute "path"`,
				"on testdata/bad_sink_values.hcl line 18, in sink \"file\" \"blocked\":",
				"valid.hcl is not a folder",
			},
		},
		{
			name: "every attribute a runner rejects, at its line", config: "testdata/bad_runner_values.hcl", code: 1,
			stderr: []string{
				`Invalid runner attribute "port"`,
				"on testdata/bad_runner_values.hcl line 4, in runner \"ssh\" \"box\":",
				`runner "ssh.box": port: 70000 is not a TCP port (1 to 65535).`,
				`Invalid runner attribute "identity_file"`,
				"on testdata/bad_runner_values.hcl line 5, in runner",
			},
		},
		{
			name: "missing file", config: "testdata/nope.hcl", code: 1,
			stderr: []string{"nope.hcl"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ui := cli.NewMockUi()
			c := &ValidateCommand{Meta: newMeta(ui)}
			code := c.Run([]string{"-config", tc.config, "-log-level", "warn"})
			assert.Equal(t, tc.code, code, "stderr: %s", ui.ErrorWriter.String())
			for _, s := range tc.stdout {
				assert.Contains(t, ui.OutputWriter.String(), s)
			}
			for _, s := range tc.stderr {
				assert.Contains(t, ui.ErrorWriter.String(), s)
			}
		})
	}
}

func TestValidateFlags(t *testing.T) {
	ui := cli.NewMockUi()
	c := &ValidateCommand{Meta: newMeta(ui)}
	assert.Equal(t, 2, c.Run([]string{"-nope"}), "a usage error")
	assert.Contains(t, ui.ErrorWriter.String(), "flag provided but not defined: -nope")
	assert.Contains(t, ui.ErrorWriter.String(), "Usage: prox validate")

	ui = cli.NewMockUi()
	c = &ValidateCommand{Meta: newMeta(ui)}
	assert.Equal(t, 2, c.Run([]string{"-config", "testdata/valid.hcl", "-log-level", "loud"}))
	assert.Contains(t, ui.ErrorWriter.String(), `invalid -log-level "loud"`)
}

// validateIn writes prox.hcl into dir and runs prox validate on it.
func validateIn(t *testing.T, dir, hcl string) (int, string, string) {
	t.Helper()
	path := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(path, []byte(hcl), 0o644))
	ui := cli.NewMockUi()
	c := &ValidateCommand{Meta: newMeta(ui)}
	code := c.Run([]string{"-config", path, "-log-level", "warn", "-no-color"})
	return code, ui.OutputWriter.String(), ui.ErrorWriter.String()
}

// validate catches what up would refuse, and reports it where it is.
func TestValidateCatchesWhatUpWouldRefuse(t *testing.T) {
	t.Run("no command on a runner that needs one", func(t *testing.T) {
		code, _, errOut := validateIn(t, t.TempDir(), `
process "web" {
  dir = "."
}
`)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "Missing command")
		assert.Contains(t, errOut, "line 2")
		assert.Contains(t, errOut, `Process "web" has no command, and the exec runner needs one: add command = ["program", "arg"].`)
	})
	t.Run("missing plugin binary", func(t *testing.T) {
		code, _, errOut := validateIn(t, t.TempDir(), `
process "web" { command = ["true"] }
plugin "mine" {
  path = "./bin/prox-plugin-mine"
}
`)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "Plugin binary not found")
		assert.Contains(t, errOut, "line 4")
		assert.Contains(t, errOut, "bin/prox-plugin-mine, does not exist")
	})
	t.Run("missing plugin binary used by a runner and a sink", func(t *testing.T) {
		code, _, errOut := validateIn(t, t.TempDir(), `
process "web" {
  command = ["true"]
  runner  = "mine"
  sinks   = ["mine.all"]
}
sink "mine" "all" {}
plugin "mine" {
  path   = "./bin/prox-plugin-mine"
  sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
}
`)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "Plugin binary not found")
		assert.Equal(t, 1, strings.Count(errOut, "Error:"), "one mistake, one error, at the plugin's path: %s", errOut)
	})
	t.Run("unreadable env_file at its attribute", func(t *testing.T) {
		code, _, errOut := validateIn(t, t.TempDir(), `
process "web" {
  command  = ["true"]
  env_file = "missing.env"
}
`)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "Invalid env_file")
		assert.Contains(t, errOut, "line 4", "at the env_file attribute, not the block: %s", errOut)
		assert.Contains(t, errOut, `The env_file of process "web", missing.env, does not exist. A relative path is relative to the configuration's folder: create the file, or correct the path.`)
		// Without its env_file the process has no environment to look
		// its program up in: no warning that "true" is not on PATH.
		assert.NotContains(t, errOut, "Program not found")
	})
	t.Run("malformed env_file", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "web.env"), []byte("PORT=8000\n1ST=x\n"), 0o644))
		code, _, errOut := validateIn(t, dir, `
process "web" {
  command  = ["true"]
  env_file = "web.env"
}
`)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "line 4", "at the env_file attribute: %s", errOut)
		assert.Contains(t, errOut, `The env_file of process "web", web.env, has a malformed line 2: invalid variable name "1ST". Write one KEY=value per line (# starts a comment).`)
	})
	t.Run("depends_on never suggests the process itself", func(t *testing.T) {
		code, _, errOut := validateIn(t, t.TempDir(), `
process "web" {
  command    = ["true"]
  depends_on = ["wbe"]
}
process "queue" {
  command = ["true"]
}
`)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, `Process "web" depends on "wbe", but there is no process "wbe". The other process is "queue".`)
		assert.NotContains(t, errOut, "Did you mean")
	})
	t.Run("a variable in a sink block", func(t *testing.T) {
		code, _, errOut := validateIn(t, t.TempDir(), `
sink "webhook" "alerts" {
  url = "${ALERT_URL}"
}
process "web" {
  command = ["true"]
  sinks   = ["webhook.alerts"]
}
`)
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, "line 3")
		assert.Contains(t, errOut, `To use prox's own environment variable ALERT_URL, write "${env("ALERT_URL")}".`)
	})
	t.Run("missing dir and program are warnings", func(t *testing.T) {
		code, out, errOut := validateIn(t, t.TempDir(), `
process "web" {
  command = ["no-such-program-for-prox"]
}
process "built" {
  command = ["./bin/server"]
}
process "later" {
  command = ["true"]
  dir     = "./made-by-web"
}
`)
		assert.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "The configuration is valid")
		assert.Contains(t, errOut, "Warning: Program not found")
		assert.Contains(t, errOut, `"no-such-program-for-prox", is not on its PATH`)
		assert.Contains(t, errOut, "bin/server, is not an executable file")
		assert.Contains(t, errOut, "Warning: Working folder not found")
		assert.Contains(t, errOut, "made-by-web, does not exist")
	})
}

// validate creates no file and opens no connection: the file sink's log
// and its folder are not made, the alertmanager sink's spool neither, the
// syslog server, the webhook and the Alertmanager are not dialled, and
// the metrics address is not listened on (another program holds it); the
// container runner does not dial its engine either, and its process
// needs no command (the image has one).
func TestValidateChangesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	metricsLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer metricsLn.Close()
	dir := t.TempDir()
	code, out, errOut := validateIn(t, dir, fmt.Sprintf(`
metrics {
  address = "%s"
}
process "web" {
  command = ["true"]
  sinks   = ["file.all", "file.each", "syslog.central", "webhook.alerts", "alertmanager.oncall"]
}
sink "webhook" "alerts" {
  url = "http://%s/hook"
}
sink "alertmanager" "oncall" {
  urls = ["http://%s"]
}
runner "container" "engine" {
  host = "tcp://%s"
}
process "box" {
  runner = "container.engine"
  container {
    image = "busybox"
  }
}
sink "file" "all" {
  path = "logs/all.log"
}
sink "file" "each" {
  path = "per/{process}/out.log"
}
sink "syslog" "central" {
  address = "tcp://%s"
}
`, metricsLn.Addr(), ln.Addr(), ln.Addr(), ln.Addr(), ln.Addr()))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "The configuration is valid")
	assert.NotContains(t, errOut, "unreachable")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"prox.hcl"}, names, "validate made nothing beside the configuration")
	// Had a sink dialled, its connection would wait in the listener's
	// backlog: Accept would return it at once.
	require.NoError(t, ln.(*net.TCPListener).SetDeadline(time.Now().Add(200*time.Millisecond)))
	if c, err := ln.Accept(); err == nil {
		_ = c.Close()
		t.Fatal("validate connected to a sink's server or the container engine")
	}
}
