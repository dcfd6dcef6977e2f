package command

import (
	"testing"

	"github.com/hashicorp/cli"
	"github.com/stretchr/testify/assert"
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
				// Found when the sink opens its file.
				`Invalid sink attribute "path"`,
				"on testdata/bad_sink_values.hcl line 18, in sink \"file\" \"blocked\":",
				"/proc/no-such-dir",
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
