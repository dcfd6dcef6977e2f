package command

import (
	"strings"
	"testing"

	"github.com/hashicorp/cli"
	"github.com/stretchr/testify/assert"
)

// newMeta returns a Meta whose streams are a MockUi's buffers.
func newMeta(ui *cli.MockUi) Meta {
	return Meta{Ui: ui, Stdout: ui.OutputWriter, Stderr: ui.ErrorWriter}
}

func TestCommandsHelpAndSynopsis(t *testing.T) {
	ui := cli.NewMockUi()
	for name, factory := range Commands(newMeta(ui)) {
		t.Run(name, func(t *testing.T) {
			cmd, err := factory()
			assert.NoError(t, err)
			assert.True(t, strings.HasPrefix(cmd.Help(), "Usage: prox "+name+" [options]"), "help of %s: %q", name, cmd.Help())
			syn := cmd.Synopsis()
			assert.NotEmpty(t, syn)
			assert.True(t, strings.HasSuffix(syn, "."), "synopsis is one sentence: %q", syn)
			assert.Equal(t, 1, strings.Count(syn, ". ")+1, "synopsis is one sentence: %q", syn)
		})
	}
}

func TestRunUnknownCommand(t *testing.T) {
	var out, errb strings.Builder
	code := RunWith([]string{"frobnicate"}, &out, &errb)
	assert.Equal(t, 127, code)
	assert.Contains(t, out.String()+errb.String(), "up")
}

func TestRunHidesPluginServe(t *testing.T) {
	var out, errb strings.Builder
	RunWith([]string{"-help"}, &out, &errb)
	help := out.String() + errb.String()
	assert.Contains(t, help, "validate")
	assert.NotContains(t, help, "plugin-serve")
}
