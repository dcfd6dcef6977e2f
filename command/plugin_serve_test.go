package command

import (
	"testing"

	"github.com/hashicorp/cli"
	"github.com/stretchr/testify/assert"
)

func TestPluginServeArguments(t *testing.T) {
	cases := []struct {
		name string
		args []string
		err  string
	}{
		{"no arguments", nil, "exactly two arguments"},
		{"one argument", []string{"runner"}, "exactly two arguments"},
		{"unknown component", []string{"runner", "teleport"}, `no built-in runner named "teleport"`},
		{"unknown kind", []string{"gizmo", "exec"}, `no built-in gizmo named "exec"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ui := cli.NewMockUi()
			c := &PluginServeCommand{Meta: newMeta(ui)}
			assert.Equal(t, 1, c.Run(tc.args))
			assert.Contains(t, ui.ErrorWriter.String(), tc.err)
			assert.Empty(t, ui.OutputWriter.String(), "nothing on stdout: go-plugin's handshake uses it")
		})
	}
}
