package command

import (
	"context"
	"strconv"
	"testing"

	"github.com/prox-dev/prox/supervisor/control"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignal(t *testing.T) {
	rp := startProx(t, `
process "trap" {
  command = ["sh", "-c", "trap 'echo got HUP' HUP; trap 'echo got USR1' USR1; echo ready; while :; do sleep 0.01; done"]
}
process "done" { command = ["true"] }
process "keep" { command = ["sleep", "600"] } # prox up returns once nothing runs
`, "trap", "keep")
	rp.waitLogs(t, "trap", 1)
	p := rp.waitState(t, "trap", "running")

	code, out, errOut := rp.run(t, "signal", "trap", "HUP")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "Sent SIGHUP to trap (PID "+strconv.Itoa(p.PID)+").\n", out)
	waitLine(t, rp, "trap", "got HUP")

	code, _, errOut = rp.run(t, "signal", "trap", "sigusr1")
	require.Equal(t, 0, code, errOut)
	waitLine(t, rp, "trap", "got USR1")
	assert.Equal(t, p.PID, rp.waitState(t, "trap", "running").PID, "the process handled the signals")

	rp.waitState(t, "done", "stopped")
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"trap"}, 2, "signal needs exactly two arguments: NAME SIGNAL"},
		{[]string{"trap", "SIGNOPE"}, 2, `unknown signal "SIGNOPE"`},
		{[]string{"nope", "HUP"}, 1, `unknown process "nope"`},
		{[]string{"done", "TERM"}, 1, `process "done" is not running`},
	} {
		code, _, errOut := rp.run(t, "signal", tc.args...)
		assert.Equal(t, tc.code, code, "%v", tc.args)
		assert.Contains(t, errOut, tc.err)
	}

	// A number, and a signal that ends the process: its restart policy
	// (never) applies, as to any exit.
	code, out, errOut = rp.run(t, "signal", "trap", "9")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Sent 9 to trap")
	crashed := rp.waitState(t, "trap", "crashed")
	assert.Equal(t, "SIGKILL", crashed.LastExit.Signal)
}

// waitLine waits until process has written line.
func waitLine(t *testing.T, rp *runningProx, process, line string) {
	t.Helper()
	require.Eventually(t, func() bool {
		l, err := rp.client.Logs(context.Background(), control.LogQuery{Processes: []string{process}, Contains: line})
		return err == nil && len(l) > 0
	}, ctlWait, ctlTick, "%s never wrote %q", process, line)
}
