package command

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// threeSleepers is a configuration of three long-running processes.
const threeSleepers = `
process "a" { command = ["sleep", "600"] }
process "b" { command = ["sleep", "600"] }
process "c" { command = ["sleep", "600"] }
`

// TestProcessControl runs one prox up for start, stop and restart, and
// for shell completion.
func TestProcessControl(t *testing.T) {
	rp := startProx(t, threeSleepers, "a", "b", "c")
	t.Run("restart changes the PID and the restart count", func(t *testing.T) { testRestartChangesPIDAndRestartCount(t, rp) })
	t.Run("stop of one process leaves the others", func(t *testing.T) { testStopOneProcessLeavesTheOthers(t, rp) })
	t.Run("several processes, and all", func(t *testing.T) { testActionsOnSeveralAndAll(t, rp) })
	t.Run("errors", func(t *testing.T) { testActionErrors(t, rp) })
	t.Run("shell completion", func(t *testing.T) { testShellCompletion(t, rp) })
}

func testRestartChangesPIDAndRestartCount(t *testing.T, rp *runningProx) {
	before := rp.waitState(t, "a", "running")
	code, out, errOut := rp.run(t, "restart", "a")
	require.Equal(t, 0, code, errOut)
	after := rp.waitState(t, "a", "running")
	assert.NotEqual(t, before.PID, after.PID, "a new process")
	assert.Equal(t, before.Restarts+1, after.Restarts)
	assert.Equal(t, "a: running (PID "+strconv.Itoa(after.PID)+")\n", out)

	code, out, _ = rp.run(t, "ps", "a")
	require.Equal(t, 0, code)
	assert.Regexp(t, `a\s+running\s+-\s+`+strconv.Itoa(after.PID)+`\s+exec\s+\S+\s+1\s+SIGTERM`, out)
}

func testStopOneProcessLeavesTheOthers(t *testing.T, rp *runningProx) {
	b := rp.waitState(t, "b", "running")
	c := rp.waitState(t, "c", "running")

	code, out, errOut := rp.run(t, "stop", "a")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "a: stopped\n", out)
	a := rp.waitState(t, "a", "stopped")
	assert.Equal(t, "SIGTERM", a.LastExit.Signal)
	for _, want := range []struct {
		name string
		pid  int
	}{{"b", b.PID}, {"c", c.PID}} {
		p, err := rp.client.Process(context.Background(), want.name)
		require.NoError(t, err)
		assert.Equal(t, "running", p.State, want.name)
		assert.Equal(t, want.pid, p.PID, "%s was not touched", want.name)
		assert.Zero(t, p.Restarts)
	}

	code, out, errOut = rp.run(t, "start", "a")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^a: running \(PID \d+\)\n$`, out)
}

func testActionsOnSeveralAndAll(t *testing.T, rp *runningProx) {
	code, out, errOut := rp.run(t, "restart", "c", "a")
	require.Equal(t, 0, code, errOut)
	rows := lines(out)
	require.Len(t, rows, 2)
	assert.True(t, strings.HasPrefix(rows[0], "c: running"), "in the order given: %q", out)
	assert.True(t, strings.HasPrefix(rows[1], "a: running"), "in the order given: %q", out)

	code, out, errOut = rp.run(t, "restart", "-all")
	require.Equal(t, 0, code, errOut)
	assert.Len(t, lines(out), 3)
	for _, name := range []string{"a", "b", "c"} {
		p := rp.waitState(t, name, "running")
		assert.GreaterOrEqual(t, p.Restarts, 1, name)
	}
}

func testActionErrors(t *testing.T, rp *runningProx) {
	for _, tc := range []struct {
		cmd  string
		args []string
		code int
		err  string
	}{
		{"start", nil, 2, "start needs process names, or -all"},
		{"stop", []string{"-all", "a"}, 2, "give process names or -all, not both"},
		{"restart", []string{"-now"}, 2, "flag provided but not defined: -now"},
		{"stop", []string{"nope"}, 1, `unknown process "nope"`},
		{"restart", []string{"a", "nope"}, 1, `unknown process "nope"`},
	} {
		t.Run(tc.cmd+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := rp.run(t, tc.cmd, tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Contains(t, errOut, tc.err)
		})
	}
}

// completeLine runs the CLI's shell completion for line (as bash would ask for
// it) and returns the candidates it prints.
func completeLine(t *testing.T, line string) []string {
	t.Helper()
	t.Setenv("COMP_LINE", line)
	t.Setenv("COMP_POINT", strconv.Itoa(len(line)))
	// The completion library prints to os.Stdout.
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = stdout }()
	// The CLI as RunWith builds it, without RunWith's cleanup of every
	// plugin client of the process: that would end the prox under test.
	ui := cli.NewMockUi()
	c := &cli.CLI{
		Name: "prox", Commands: Commands(newMeta(ui)), HiddenCommands: []string{"plugin-serve"},
		Autocomplete: true, HelpWriter: io.Discard, ErrorWriter: ui.ErrorWriter,
	}
	code, err := c.Run()
	require.NoError(t, err)
	os.Stdout = stdout
	require.NoError(t, w.Close())
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, 0, code, ui.ErrorWriter.String())
	return lines(string(out))
}

func testShellCompletion(t *testing.T, rp *runningProx) {
	assert.ElementsMatch(t, []string{"restart"}, completeLine(t, "prox resta"))
	assert.Subset(t, completeLine(t, "prox s"), []string{"start", "stop", "signal"})
	assert.ElementsMatch(t, []string{"a", "b", "c"}, completeLine(t, "prox restart -config "+rp.config+" "))
	assert.ElementsMatch(t, []string{"-all"}, completeLine(t, "prox stop -al"))
	assert.ElementsMatch(t, []string{"SIGHUP"}, completeLine(t, "prox signal -config "+rp.config+" a SIGH"))

	// Every control command completes flags and takes process names.
	for _, name := range []string{"ps", "logs", "start", "stop", "restart", "signal", "events", "plugins"} {
		cmd, err := Commands(newMeta(cli.NewMockUi()))[name]()
		require.NoError(t, err)
		ac, ok := cmd.(cli.CommandAutocomplete)
		require.True(t, ok, "%s completes", name)
		assert.Contains(t, ac.AutocompleteFlags(), "-config", name)
	}
	// Process names come from the running prox.
	ps := (&PsCommand{}).AutocompleteArgs().Predict(complete.Args{All: []string{"-socket", rp.socket}})
	assert.Equal(t, []string{"a", "b", "c"}, ps)
}
