package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// freePorts returns the first of n consecutive free loopback ports.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		base := freePort(t)
		ok := true
		for i := 1; i < n && ok; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				continue
			}
			_ = l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}

// A process with replicas = 3 runs three instances, each with its own PID,
// PROX_REPLICA, port (from replica) and health check; a dependent waits for
// all of them; ps groups them, logs and the terminal prefix each; restart
// -rolling takes them one at a time, each once the previous one is healthy.
func TestUpReplicas(t *testing.T) {
	dir := t.TempDir()
	server := filepath.Join(dir, "httpready")
	out, err := exec.Command("go", "build", "-o", server, "./testdata/httpready").CombinedOutput()
	require.NoError(t, err, string(out))
	port := freePorts(t, 3)
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
process "web" {
  replicas = 3
  command  = ["sh", "-c", "echo replica $PROX_REPLICA pid $$ port $PORT; exec %s -addr 127.0.0.1:$PORT -delay 200ms"]
  env      = { PORT = %d + replica }
  health {
    interval = "50ms"
    http { url = "http://127.0.0.1:${%d + replica}/health" }
  }
}

process "proxy" {
  command = ["sh", "-c", "echo proxy up; exec sleep 300"]
  depends_on "web" { condition = "healthy" }
}
`, server, port, port)), 0o644))

	r := startUp(t, cfg)
	r.waitOutput(t, `^web\.0 +\| replica 0 pid \d+ port `+strconv.Itoa(port)+`$`,
		`^web\.1 +\| replica 1 pid \d+ port `+strconv.Itoa(port+1)+`$`,
		`^web\.2 +\| replica 2 pid \d+ port `+strconv.Itoa(port+2)+`$`,
		`^proxy +\| proxy up$`)

	// Three processes, each its own PID (the shell's, which exec'd the
	// server: ps says the same).
	type psRow struct {
		Name, Group, State string
		PID                int
		Health             *struct{ Status string }
	}
	var ps []psRow
	require.NoError(t, json.Unmarshal([]byte(proxCommand(t, cfg, "ps", "-json")), &ps))
	require.Len(t, ps, 4)
	pids := map[int]bool{}
	for i, p := range ps[:3] {
		assert.Equal(t, fmt.Sprintf("web.%d", i), p.Name)
		assert.Equal(t, "web", p.Group)
		assert.Equal(t, "running", p.State)
		pids[p.PID] = true
		assert.Equal(t, 1, r.count(fmt.Sprintf("web.%d | replica %d pid %d port %d", i, i, p.PID, port+i)), r.output())
	}
	assert.Len(t, pids, 3, "three PIDs")
	assert.Equal(t, "proxy", ps[3].Group)

	// The dependent started once every instance was healthy.
	require.Eventually(t, func() bool { return logIndex(r.stderrString(), "started:", "process=proxy") >= 0 }, 30*time.Second, 10*time.Millisecond)
	logs := r.stderrString()
	proxyStarted := logIndex(logs, "started:", "process=proxy")
	for i := range 3 {
		healthy := logIndex(logs, "health:", fmt.Sprintf("process=web.%d", i), "status=healthy")
		require.GreaterOrEqual(t, healthy, 0, logs)
		assert.Greater(t, proxyStarted, healthy, "proxy waited for web.%d:\n%s", i, logs)
	}

	table := lines(proxCommand(t, cfg, "ps"))
	require.Len(t, table, 6, strings.Join(table, "\n"))
	assert.Regexp(t, `^web\s+3/3 running\s`, table[1])
	for i := range 3 {
		assert.Regexp(t, fmt.Sprintf(`^  web\.%d\s+running\s+healthy\s+%d\s`, i, ps[i].PID), table[2+i])
	}
	assert.Regexp(t, `^proxy\s+running\s`, table[5])

	logLines := lines(proxCommand(t, cfg, "logs", "web"))
	for i := range 3 {
		assert.Contains(t, logLines, fmt.Sprintf("web.%d | replica %d pid %d port %d", i, i, ps[i].PID, port+i))
	}
	assert.NotContains(t, strings.Join(logLines, "\n"), "proxy up")
	assert.Equal(t, []string{fmt.Sprintf("web.1 | replica 1 pid %d port %d", ps[1].PID, port+1)},
		filterPrefix(lines(proxCommand(t, cfg, "logs", "web.1")), "web.1 | replica"))

	// restart -rolling: follow the events, and once the stream is
	// subscribed (it printed the current state of the 4 processes), roll.
	events := followEvents(t, cfg, 4)
	rolled := proxCommand(t, cfg, "restart", "-rolling", "web")
	assert.Len(t, lines(rolled), 3, rolled)
	var seen []string
	for len(seen) == 0 || seen[len(seen)-1] != "web.2 healthy" {
		ev := events.next(t, r)
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
	}, seen, "each instance stopped only once the one before it was healthy again")
	var after []psRow
	require.NoError(t, json.Unmarshal([]byte(proxCommand(t, cfg, "ps", "-json", "web")), &after))
	require.Len(t, after, 3)
	for i, p := range after {
		assert.NotEqual(t, ps[i].PID, p.PID, "web.%d has a new PID", i)
	}

	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, r.wait(t))
	requireNoneLeft(t, r.marker)
}

// filterPrefix keeps the lines that start with prefix.
func filterPrefix(ls []string, prefix string) []string {
	var out []string
	for _, l := range ls {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// lines splits out into its non-empty lines.
func lines(out string) []string {
	var res []string
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) != "" {
			res = append(res, l)
		}
	}
	return res
}

// eventJSON is a line of prox events -json.
type eventJSON struct{ Type, Process, From, To, Health string }

// eventFollower is a running prox events -json.
type eventFollower struct{ stream chan eventJSON }

// followEvents runs prox events -json on config and returns once it has
// printed the current state of the processes: it is then subscribed.
func followEvents(t *testing.T, config string, processes int) *eventFollower {
	t.Helper()
	cmd := exec.Command(buildProx(t), "events", "-json", "-config", config)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	f := &eventFollower{stream: make(chan eventJSON, 1000)}
	go func() {
		defer close(f.stream)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev eventJSON
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				f.stream <- ev
			}
		}
	}()
	for range processes {
		ev, ok := <-f.stream
		require.True(t, ok, "prox events ended")
		require.Equal(t, "current", ev.Type)
	}
	return f
}

// next returns the next event.
func (f *eventFollower) next(t *testing.T, r *run) eventJSON {
	t.Helper()
	select {
	case ev, ok := <-f.stream:
		require.True(t, ok, "the events stream ended\nstderr:\n%s", r.stderrString())
		return ev
	case <-time.After(30 * time.Second):
		t.Fatalf("no event\nstderr:\n%s", r.stderrString())
		return eventJSON{}
	}
}

// startUpIn runs prox with args in dir (where a Procfile is found), as
// startUp does.
func startUpIn(t *testing.T, dir string, args ...string) *run {
	t.Helper()
	cmd := exec.Command(buildProx(t), args...)
	cmd.Dir = dir
	return startRun(t, cmd, "PROX_SOCKET=")
}

// A Procfile run takes foreman's formation: prox up -m web=2,clock=0 runs
// two web instances (PORT 5000 and 5001, as foreman), one worker and no
// clock; a bad -m is refused.
func TestUpProcfileFormation(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Procfile"), []byte(
		"web: echo web $PROX_REPLICA port $PORT; exec sleep 300\nworker: echo worker port $PORT; exec sleep 300\nclock: echo tick; exec sleep 300\n"), 0o644))

	r := startUpIn(t, dir, "up", "-m", "web=2,clock=0")
	r.waitOutput(t, `^web\.0 +\| web 0 port 5000$`, `^web\.1 +\| web 1 port 5001$`, `^worker +\| worker port 5100$`)
	cfg := filepath.Join(dir, "prox.hcl") // the socket is found beside it
	var ps []struct{ Name, Group string }
	require.NoError(t, json.Unmarshal([]byte(proxCommand(t, cfg, "ps", "-json")), &ps))
	assert.Equal(t, []struct{ Name, Group string }{{"web.0", "web"}, {"web.1", "web"}, {"worker", "worker"}}, ps)
	assert.NotContains(t, r.output(), "tick", "clock=0 runs no clock")
	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, r.wait(t))
	requireNoneLeft(t, r.marker)

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"up", "-m", "web=abc"}, 2, `invalid value "web=abc" for flag -m: the count of "web" must be a whole number from 0 to 1000, not "abc"`},
		{[]string{"up", "-m", "web"}, 2, `"web" is not NAME=COUNT`},
		{[]string{"up", "-m", "wbe=2"}, 1, `names "wbe", but Procfile declares no such process. Did you mean "web"?`},
		{[]string{"up", "-m", "all=0"}, 1, "runs no process of Procfile"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := startUpIn(t, dir, tt.args...)
			assert.Equal(t, tt.code, r.wait(t))
			assert.Contains(t, r.stderrString(), tt.want)
			assert.Empty(t, markedProcesses(r.marker), "nothing started")
		})
	}

	// A formation with a prox.hcl is refused: replicas is how it says it.
	hcl := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(hcl, "prox.hcl"), []byte("process \"web\" { command = [\"sleep\", \"300\"] }\n"), 0o644))
	r = startUpIn(t, hcl, "up", "-m", "web=2")
	assert.Equal(t, 1, r.wait(t))
	assert.Contains(t, r.stderrString(), "-m web=2 applies to a Procfile run")
}

// replicas = 0 and a negative count are errors at their line, reported by
// prox validate and prox up alike.
func TestReplicasBadCounts(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte("process \"web\" {\n  command  = [\"true\"]\n  replicas = 0\n}\n\nprocess \"db\" {\n  command  = [\"true\"]\n  replicas = -3\n}\n"), 0o644))
	for _, cmd := range []string{"validate", "up"} {
		t.Run(cmd, func(t *testing.T) {
			c := exec.Command(buildProx(t), cmd, "-config", cfg)
			c.Env = append(os.Environ(), "NO_COLOR=1", "PROX_SOCKET=")
			out, err := c.CombinedOutput()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, string(out))
			assert.Equal(t, 1, ee.ExitCode())
			assert.Regexp(t, regexp.MustCompile(`(?s)Error: Invalid replicas.*on .*prox\.hcl line 3, in process "web".*at least 1, not 0.*Error: Invalid replicas.*line 8, in process "db".*at least 1, not -3`), string(out))
		})
	}
}
