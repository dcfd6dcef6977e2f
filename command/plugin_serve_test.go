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
		code int
		err  string
	}{
		{"no arguments", nil, 2, "exactly two arguments"},
		{"one argument", []string{"runner"}, 2, "exactly two arguments"},
		{"unknown component", []string{"runner", "teleport"}, 1, `no built-in runner named "teleport"`},
		{"unknown kind", []string{"gizmo", "exec"}, 1, `no built-in gizmo named "exec"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ui := cli.NewMockUi()
			c := &PluginServeCommand{Meta: newMeta(ui)}
			assert.Equal(t, tc.code, c.Run(tc.args))
			assert.Contains(t, ui.ErrorWriter.String(), tc.err)
			assert.Empty(t, ui.OutputWriter.String(), "nothing on stdout: go-plugin's handshake uses it")
		})
	}
}
