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
