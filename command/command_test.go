package command

import (
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/cli"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		{[]string{"dwon"}, `Did you mean "prox down"?`},
		{[]string{"topp"}, `Did you mean "prox top"?`},
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
	// No command, a flag before the command that prox itself does not
	// take, an unknown subcommand: usage errors too, each saying what to
	// type, with no page of help on stdout.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Usage: prox COMMAND [options] [args]\nThe commands are: attach, down,"},
		{[]string{"-x"}, `prox: unknown flag "-x" before the command: prox itself takes only -help and -version`},
		{[]string{"-config", "x.hcl", "up"}, `prox: unknown flag "-config" before the command: prox itself takes only -help and -version; a command's flags go after it, as in "prox up -config FILE".`},
		{[]string{"plugins", "lokc"}, `prox: unknown command "plugins lokc". Did you mean "prox plugins lock"?` + "\nThe commands of prox plugins are: lock."},
	} {
		var out, errb strings.Builder
		assert.Equal(t, 2, RunWith(tc.args, &out, &errb), "%q", tc.args)
		assert.Empty(t, out.String(), "%q", tc.args)
		assert.Contains(t, errb.String(), tc.want, "%q", tc.args)
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

func TestRunCompletesAsBashAsksIt(t *testing.T) {
	// bash's complete -C runs "prox prox WORD PREV" with COMP_LINE set:
	// the first argument is the command's name, no command of prox, and
	// must not be reported as an unknown one.
	line := "prox resta"
	t.Setenv("COMP_LINE", line)
	t.Setenv("COMP_POINT", strconv.Itoa(len(line)))
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = w // the completion library prints there
	var out, errb strings.Builder
	code := RunWith([]string{"prox", "resta", "prox"}, &out, &errb)
	os.Stdout = stdout
	require.NoError(t, w.Close())
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, 0, code, errb.String())
	assert.Empty(t, errb.String())
	assert.Equal(t, "restart\n", string(got))
}
