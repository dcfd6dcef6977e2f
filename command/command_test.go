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
	for _, tc := range []struct {
		args    []string
		suggest string
	}{
		{[]string{"frobnicate"}, ""},
		{[]string{"stat"}, `Did you mean "prox start"?`},
		{[]string{"valdiate", "-config", "x.hcl"}, `Did you mean "prox validate"?`},
		{[]string{"pss"}, `Did you mean "prox ps"?`},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			var out, errb strings.Builder
			code := RunWith(tc.args, &out, &errb)
			assert.Equal(t, 2, code, "an unknown command is a usage error")
			assert.Empty(t, out.String(), "no page of help on stdout")
			msg := errb.String()
			assert.Contains(t, msg, `prox: unknown command "`+tc.args[0]+`".`)
			assert.Contains(t, msg, "The commands are: attach, down, events, graph, init, logs, plugins, ps, reload, restart, scale, signal, sinks, start, stop, top, up, validate, version.")
			if tc.suggest != "" {
				assert.Contains(t, msg, tc.suggest)
			} else {
				assert.NotContains(t, msg, "Did you mean")
			}
		})
	}
	// Known commands, help and version are not usage errors.
	var out, errb strings.Builder
	assert.Equal(t, 0, RunWith([]string{"version"}, &out, &errb))
	assert.Equal(t, 0, RunWith([]string{"-version"}, &out, &errb))
}

func TestRunHidesPluginServe(t *testing.T) {
	var out, errb strings.Builder
	RunWith([]string{"-help"}, &out, &errb)
	help := out.String() + errb.String()
	assert.Contains(t, help, "validate")
	assert.NotContains(t, help, "plugin-serve")
}

func TestReloadRefusesAnEnvFile(t *testing.T) {
	// The running prox reads its own env file again; reload cannot change
	// it, so the flag is refused rather than ignored.
	var out, errb strings.Builder
	code := RunWith([]string{"reload", "-socket", t.TempDir() + "/none.sock", "-env-file", "staging.env"}, &out, &errb)
	assert.Equal(t, 2, code, "a usage error, before any connection (none listens there: that would exit 1)")
	assert.Contains(t, errb.String(), "reload reads no -env-file: the running prox reads its configuration again with the env file it was started with")
	assert.Contains(t, errb.String(), `"prox up -env-file FILE"`)
}
