package command

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/posener/complete"
	"github.com/prox-dev/prox/supervisor/control"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replicated runs two instances of web and one db.
const replicated = `
process "web" {
  replicas = 2
  command  = ["sh", "-c", "echo web $PROX_REPLICA up; exec sleep 600"]
}
process "db" { command = ["sleep", "600"] }
`

// prox ps lists the instances of a process with replicas under a row of
// their process; ps NAME of that process is all its instances; -json
// carries the group.
func TestPsGroupsInstances(t *testing.T) {
	rp := startProx(t, replicated, "web.0", "web.1", "db")
	w0, w1 := rp.waitState(t, "web.0", "running"), rp.waitState(t, "web.1", "running")
	db := rp.waitState(t, "db", "running")

	code, out, errOut := rp.run(t, "ps")
	require.Equal(t, 0, code, errOut)
	rows := lines(out)
	require.Len(t, rows, 5, out)
	assert.Regexp(t, `^web\s+2/2 running\s+-\s+-\s+exec\s+-\s+-\s+-\s+-$`, rows[1])
	assert.Regexp(t, `^  web\.0\s+running\s+-\s+`+strconv.Itoa(w0.PID)+`\s+exec\s`, rows[2])
	assert.Regexp(t, `^  web\.1\s+running\s+-\s+`+strconv.Itoa(w1.PID)+`\s+exec\s`, rows[3])
	assert.Regexp(t, `^db\s+running\s+-\s+`+strconv.Itoa(db.PID)+`\s+exec\s`, rows[4])
	assert.NotEqual(t, w0.PID, w1.PID)

	// The process's name selects its instances; an instance's its own.
	code, out, errOut = rp.run(t, "ps", "web")
	require.Equal(t, 0, code, errOut)
	assert.Len(t, lines(out), 4, out)
	code, out, errOut = rp.run(t, "ps", "web.1")
	require.Equal(t, 0, code, errOut)
	require.Len(t, lines(out), 2, out)
	assert.Regexp(t, `^web\.1\s+running`, lines(out)[1])
	code, _, errOut = rp.run(t, "ps", "web.2")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `unknown process "web.2"`)

	code, out, errOut = rp.run(t, "ps", "-json")
	require.Equal(t, 0, code, errOut)
	var got []control.Process
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Len(t, got, 3)
	assert.Equal(t, [][2]string{{"web.0", "web"}, {"web.1", "web"}, {"db", "db"}},
		[][2]string{{got[0].Name, got[0].Group}, {got[1].Name, got[1].Group}, {got[2].Name, got[2].Group}})

	// A signal to the process goes to each instance.
	code, out, errOut = rp.run(t, "signal", "web", "CONT")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []string{
		fmt.Sprintf("Sent SIGCONT to web.0 (PID %d).", w0.PID),
		fmt.Sprintf("Sent SIGCONT to web.1 (PID %d).", w1.PID),
	}, lines(out))

	// Completion offers the process's name, then its instances'.
	names := (&PsCommand{}).AutocompleteArgs().Predict(complete.Args{All: []string{"-socket", rp.socket}})
	assert.Equal(t, []string{"web", "web.0", "web.1", "db"}, names)
	assert.ElementsMatch(t, []string{"-rolling"}, completeLine(t, "prox restart -roll"))
}

// prox logs NAME of a process with replicas prints every instance's
// lines, each with its own prefix; logs NAME.INDEX one instance's.
func TestLogsOfInstances(t *testing.T) {
	rp := startProx(t, replicated, "web.0", "web.1", "db")
	require.Eventually(t, func() bool {
		_, out, _ := rp.run(t, "logs", "web")
		return strings.Contains(out, "web 0 up") && strings.Contains(out, "web 1 up")
	}, ctlWait, ctlTick)
	code, out, errOut := rp.run(t, "logs", "web")
	require.Equal(t, 0, code, errOut)
	assert.ElementsMatch(t, []string{"web.0 | web 0 up", "web.1 | web 1 up"}, lines(out))

	code, out, errOut = rp.run(t, "logs", "web.1")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []string{"web.1 | web 1 up"}, lines(out))

	code, _, errOut = rp.run(t, "logs", "web.7")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `"web.7"`)
}

// rollingWeb runs three instances whose health check passes a moment
// after they start.
const rollingWeb = `
process "web" {
  replicas = 3
  command  = ["sh", "-c", "echo web $PROX_REPLICA starting; sleep 0.2; echo web $PROX_REPLICA ready; exec sleep 600"]
  health {
    log { match = "ready" }
    interval = "50ms"
  }
}
`

// prox restart NAME restarts every instance; with -rolling one at a
// time, each once the previous one is healthy: the events show that no
// instance is stopped before the one before it is healthy again.
func TestRestartInstances(t *testing.T) {
	rp := startProx(t, rollingWeb, "web.0", "web.1", "web.2")
	names := []string{"web.0", "web.1", "web.2"}
	pids := map[string]int{}
	for _, n := range names {
		require.Eventually(t, func() bool {
			p, err := rp.client.Process(context.Background(), n)
			return err == nil && p.Health != nil && p.Health.Status == control.HealthHealthy
		}, ctlWait, ctlTick, "%s never became healthy", n)
		p, err := rp.client.Process(context.Background(), n)
		require.NoError(t, err)
		pids[n] = p.PID
	}

	t.Run("all at once", func(t *testing.T) {
		code, out, errOut := rp.run(t, "restart", "web")
		require.Equal(t, 0, code, errOut)
		rows := lines(out)
		require.Len(t, rows, 3, out)
		for i, n := range names {
			assert.Regexp(t, `^`+regexp.QuoteMeta(n)+`: running \(PID \d+\)$`, rows[i])
			p, err := rp.client.Process(context.Background(), n)
			require.NoError(t, err)
			assert.NotEqual(t, pids[n], p.PID, "%s was restarted", n)
			assert.Equal(t, 1, p.Restarts)
		}
	})

	t.Run("rolling", func(t *testing.T) {
		for _, n := range names {
			require.Eventually(t, func() bool {
				p, err := rp.client.Process(context.Background(), n)
				return err == nil && p.Health != nil && p.Health.Status == control.HealthHealthy
			}, ctlWait, ctlTick)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		events, err := rp.client.FollowEvents(ctx)
		require.NoError(t, err)
		defer events.Close()

		code, out, errOut := rp.run(t, "restart", "-rolling", "web")
		require.Equal(t, 0, code, errOut)
		require.Len(t, lines(out), 3, out)

		// Every instance went down and came back healthy, in order: the
		// stop of each comes after the previous one is healthy again.
		var seen []string // "web.0 stopping", "web.0 healthy", ...
		for len(seen) == 0 || seen[len(seen)-1] != "web.2 healthy" {
			ev, err := events.Next()
			require.NoError(t, err)
			switch {
			case ev.Type == "state" && ev.To == "stopping":
				seen = append(seen, ev.Process+" stopping")
			case ev.Type == "health" && ev.Health == "healthy":
				seen = append(seen, ev.Process+" healthy")
			}
		}
		assert.Equal(t, []string{
			"web.0 stopping", "web.0 healthy",
			"web.1 stopping", "web.1 healthy",
			"web.2 stopping", "web.2 healthy",
		}, seen)
		for _, n := range names {
			p, err := rp.client.Process(context.Background(), n)
			require.NoError(t, err)
			assert.Equal(t, 2, p.Restarts, n)
		}
	})

	t.Run("bad use", func(t *testing.T) {
		code, _, errOut := rp.run(t, "restart", "-rolling", "-all")
		assert.Equal(t, 2, code)
		assert.Contains(t, errOut, "-rolling")
		code, _, errOut = rp.run(t, "stop", "-rolling", "web")
		assert.Equal(t, 2, code, "stop has no -rolling")
		assert.Contains(t, errOut, "-rolling")
		code, _, errOut = rp.run(t, "restart", "-rolling", "nope")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, `"nope"`)
	})
}

// prox graph shows a process with replicas once, with its count.
func TestGraphShowsReplicas(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte("process \"web\" {\n  replicas = 3\n}\nprocess \"proxy\" {\n  depends_on = [\"web\"]\n}\n"), 0o644))
	code, out, errOut := runCommand(t, "graph", "-config", cfg)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []string{"web ×3", "└── proxy (after web started)"}, lines(out))
	code, out, errOut = runCommand(t, "graph", "-config", cfg, "-format", "dot")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `"web" [label="web ×3"];`)
	assert.Contains(t, out, `"web" -> "proxy" [label="started"];`)
}
