package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reloadCommand runs `prox reload ARGS` on config: its stdout, its
// stderr and its exit code.
func reloadCommand(t *testing.T, config string, args ...string) (string, string, int) {
	t.Helper()
	return runProxCommand(t, config, append([]string{"reload"}, args...)...)
}

// pidsByName polls `prox ps -json` until every name in want runs and no
// other process is listed, and returns their PIDs.
func pidsByName(t *testing.T, config string, want ...string) map[string]int {
	t.Helper()
	var last []psProcess
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		procs, err := ps(t, config)
		if err == nil {
			last = procs
			pids := map[string]int{}
			for _, p := range procs {
				if p.State == "running" {
					pids[p.Name] = p.PID
				}
			}
			if len(pids) == len(want) && len(procs) == len(want) {
				ok := true
				for _, name := range want {
					ok = ok && pids[name] > 0
				}
				if ok {
					return pids
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("never exactly %v running; last ps: %+v", want, last)
	return nil
}

func writeConfig(t *testing.T, path, text string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
}

const reloadBefore = `
process "web" {
  command = ["sh", "-c", "echo web up; exec sleep 300"]
}
process "db" {
  command  = ["sh", "-c", "echo db up $DB_MODE; exec sleep 300"]
  env_file = "db.env"
}
process "old" {
  command = ["sh", "-c", "echo old up; exec sleep 300"]
}
`

// The same, but for the content of db.env, old removed and worker added
// (after db).
const reloadAfter = `
process "web" {
  command = ["sh", "-c", "echo web up; exec sleep 300"]
}
process "db" {
  command  = ["sh", "-c", "echo db up $DB_MODE; exec sleep 300"]
  env_file = "db.env"
}
process "worker" {
  command    = ["sh", "-c", "echo worker up; exec sleep 300"]
  depends_on = ["db"]
}
`

func TestReloadAppliesTheDifference(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	writeConfig(t, cfg, reloadBefore)
	writeConfig(t, filepath.Join(dir, "db.env"), "DB_MODE=first\n")
	r := startUp(t, cfg)
	r.waitOutput(t, "db +\\| db up first")
	before := pidsByName(t, cfg, "web", "db", "old")

	// Follow the events from before the reload.
	events := exec.Command(buildProx(t), "events", "-json", "-config", cfg)
	events.Env = append(os.Environ(), "PROX_SOCKET=")
	evOut, err := events.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, events.Start())
	t.Cleanup(func() { _ = events.Process.Kill(); _ = events.Wait() })
	evLines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(evOut)
		for sc.Scan() {
			evLines <- sc.Text()
		}
		close(evLines)
	}()

	writeConfig(t, cfg, reloadAfter)
	writeConfig(t, filepath.Join(dir, "db.env"), "DB_MODE=second\n")

	// A dry run prints the plan and changes nothing.
	out, stderr, code := reloadCommand(t, cfg, "-dry-run")
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `(?m)^add: +worker$`, out)
	assert.Regexp(t, `(?m)^restart: +db$`, out)
	assert.Regexp(t, `(?m)^remove: +old$`, out)
	assert.Regexp(t, `(?m)^unchanged: +web$`, out)
	assert.Contains(t, out, "Dry run: nothing was changed.")
	assert.Equal(t, before, pidsByName(t, cfg, "web", "db", "old"))

	out, stderr, code = reloadCommand(t, cfg)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "Applied.")
	after := pidsByName(t, cfg, "web", "db", "worker")
	assert.Equal(t, before["web"], after["web"], "an unchanged process keeps its run")
	assert.NotEqual(t, before["db"], after["db"], "a changed env_file restarts its process")
	r.waitOutput(t, "db +\\| db up second", "worker +\\| worker up")
	assert.Equal(t, 1, r.count("web | web up"), "web never started again")
	assert.Empty(t, processState(before["old"]), "old was stopped")

	// Every step is an event.
	var steps []string
	deadline := time.After(30 * time.Second)
	for !strings.HasPrefix(last(steps), "reload done") {
		select {
		case line, ok := <-evLines:
			require.True(t, ok, "the events stream ended; saw %v", steps)
			var ev struct {
				Type, Process, Action, Reason string
			}
			require.NoError(t, json.Unmarshal([]byte(line), &ev))
			if ev.Type != "reload" {
				continue
			}
			if ev.Process == "" {
				steps = append(steps, ev.Reason)
			} else {
				steps = append(steps, ev.Process+" "+ev.Action)
			}
		case <-deadline:
			t.Fatalf("no end of the reload in the events: %v", steps)
		}
	}
	assert.Equal(t, []string{
		"reload started: add 1 (worker), restart 1 (db), remove 1 (old), unchanged 1",
		"old remove", "db restart", "worker add", "reload done",
	}, steps)

	// Nothing changed: nothing happens.
	out, stderr, code = reloadCommand(t, cfg)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "nothing changed")
	assert.Equal(t, after, pidsByName(t, cfg, "web", "db", "worker"))
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

func TestReloadOfAnInvalidFileChangesNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	writeConfig(t, cfg, reloadBefore)
	writeConfig(t, filepath.Join(dir, "db.env"), "DB_MODE=first\n")
	startUp(t, cfg)
	before := pidsByName(t, cfg, "web", "db", "old")

	writeConfig(t, cfg, reloadAfter+`
process "broken" {
  command = "not a list"
  restart {
    policy = "sometimes"
  }
}
`)
	out, stderr, code := reloadCommand(t, cfg)
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Contains(t, stderr, "nothing was changed")
	assert.Contains(t, stderr, "prox.hcl line 15, in process \"broken\":\n  15:   command = \"not a list\"")
	assert.Contains(t, stderr, "prox.hcl line 17, in process \"broken\":\n  17:     policy = \"sometimes\"")
	assert.Equal(t, before, pidsByName(t, cfg, "web", "db", "old"))

	_, stderr, code = reloadCommand(t, cfg, "-dry-run")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "prox.hcl line 17")
}

func TestReloadThatRemovesADependencyIsRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	writeConfig(t, cfg, `
process "db" {
  command = ["sh", "-c", "exec sleep 300"]
}
process "web" {
  command    = ["sh", "-c", "exec sleep 300"]
  depends_on = ["db"]
}
`)
	startUp(t, cfg)
	before := pidsByName(t, cfg, "db", "web")
	writeConfig(t, cfg, `
process "web" {
  command    = ["sh", "-c", "exec sleep 300"]
  depends_on = ["db"]
}
`)
	_, stderr, code := reloadCommand(t, cfg)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `reload refused: process "db" cannot be removed: process "web" depends on it`)
	assert.Equal(t, before, pidsByName(t, cfg, "db", "web"))
}

func TestReloadDuringAStopIsRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	writeConfig(t, cfg, `
process "stubborn" {
  command = ["sh", "-c", "trap 'echo got TERM' TERM; echo ready; while true; do sleep 0.1; done"]
  stop {
    timeout = "30s"
  }
}
`)
	r := startUp(t, cfg)
	r.waitOutput(t, "ready")
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGINT))
	r.waitOutput(t, "got TERM")
	writeConfig(t, cfg, `
process "other" {
  command = ["sh", "-c", "exec sleep 300"]
}
`)
	_, stderr, code := reloadCommand(t, cfg)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "reload refused: the supervisor is stopping")
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGINT)) // kill at once
	r.wait(t)
	assert.NotContains(t, r.output(), "other")
}

// saveByRename replaces path as many editors save: a new file renamed
// over the old one.
func saveByRename(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".swp"
	require.NoError(t, os.WriteFile(tmp, []byte(text), 0o644))
	require.NoError(t, os.Rename(tmp, path))
}

// waitStderr polls prox's stderr until it contains text.
func (r *run) waitStderr(t *testing.T, text string) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(r.stderrString(), text) }, 30*time.Second, 20*time.Millisecond,
		"stderr never said %q:\n%s", text, r.stderrString())
}

func TestUpWatchReloadsAfterAnEdit(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	writeConfig(t, cfg, `
process "web" {
  command = ["sh", "-c", "echo web up; exec sleep 300"]
}
`)
	// prox up -config CFG -watch
	r := startUpVia(t, []string{"sh", "-c", `exec "$0" "$@" -watch`}, cfg)
	r.waitStderr(t, "watching the configuration")
	web := pidsByName(t, cfg, "web")["web"]

	// An editor's save: a new file renamed over prox.hcl.
	writeConfig(t, filepath.Join(dir, "worker.env"), "MODE=one\n")
	saveByRename(t, cfg, `
process "web" {
  command = ["sh", "-c", "echo web up; exec sleep 300"]
}
process "worker" {
  command  = ["sh", "-c", "echo worker $MODE; exec sleep 300"]
  env_file = "worker.env"
}
`)
	r.waitOutput(t, `worker +\| worker one`)
	pids := pidsByName(t, cfg, "web", "worker")
	assert.Equal(t, web, pids["web"])

	// The env_file's content changes: worker restarts, web stays.
	writeConfig(t, filepath.Join(dir, "worker.env"), "MODE=two\n")
	r.waitOutput(t, `worker +\| worker two`)
	after := pidsByName(t, cfg, "web", "worker")
	assert.Equal(t, web, after["web"])
	assert.NotEqual(t, pids["worker"], after["worker"])

	// Errors: logged, nothing changes.
	saveByRename(t, cfg, `
process "web" {
  command = ["sh", "-c", "echo web up; exec sleep 300"]
}
process "worker" {
  command = ["sh", "-c", "echo worker; exec sleep 300"
}
`)
	r.waitStderr(t, "the configuration has errors; nothing was changed")
	assert.Contains(t, r.stderrString(), "prox.hcl line 7, in process \"worker\"")
	assert.Equal(t, after, pidsByName(t, cfg, "web", "worker"))
	assert.Equal(t, 1, r.count("web | web up"))
}

// A changed sink block relaunches the sink's plugin: what the processes
// wrote before the reload is in the file, once, and what they write after
// it goes through the new plugin, with the new settings.
func TestReloadRelaunchesAChangedSink(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	out := filepath.Join(dir, "out.log")
	const before = `
sink "file" "all" {
  path = %q
}
process "counter" {
  command = ["sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo \"first $i\"; i=$((i+1)); done; exec sleep 300"]
  sinks   = ["file.all"]
}
process "other" {
  command = ["sh", "-c", "exec sleep 300"]
}
`
	writeConfig(t, cfg, fmt.Sprintf(before, out))
	r := startUp(t, cfg)
	// (Polled: waitOutput's channel holds 1000 lines.)
	require.Eventually(t, func() bool { return r.count("counter | first 2999") == 1 }, 30*time.Second, 20*time.Millisecond)
	pids := pidsByName(t, cfg, "counter", "other")

	const after = `
sink "file" "all" {
  path           = %q
  process_prefix = false
}
process "counter" {
  command = ["sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo \"first $i\"; i=$((i+1)); done; exec sleep 300"]
  sinks   = ["file.all"]
}
process "other" {
  command = ["sh", "-c", "exec sleep 300"]
}
`
	writeConfig(t, cfg, fmt.Sprintf(after, out))
	stdout, stderr, code := reloadCommand(t, cfg)
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `(?m)^sink relaunch: +file\.all$`, stdout)
	assert.Regexp(t, `(?m)^restart: +counter$`, stdout, "a process restarts with its sink's block")
	now := pidsByName(t, cfg, "counter", "other")
	assert.Equal(t, pids["other"], now["other"])
	assert.NotEqual(t, pids["counter"], now["counter"])

	var want []string
	for i := range 3000 {
		want = append(want, fmt.Sprintf("counter | first %d", i))
	}
	for i := range 3000 {
		want = append(want, fmt.Sprintf("first %d", i))
	}
	var got []string
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(out)
		if err != nil {
			return false
		}
		got = nil
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if !strings.Contains(l, "--- prox: ") { // the events
				got = append(got, l)
			}
		}
		return len(got) >= len(want)
	}, 30*time.Second, 20*time.Millisecond, "the file never had every line")
	assert.Equal(t, want, got)
	// The sink got the reload's step too.
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Contains(t, string(b), "--- prox: process counter reload: its configuration changed: restarting\n")
}

// runnerPlugins lists the live runner plugin processes of a run.
func (r *run) runnerPlugins() []int {
	var out []int
	for _, pid := range markedProcesses(r.marker) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), "plugin-serve\x00runner\x00") {
			out = append(out, pid)
		}
	}
	return out
}

// A process that moves to another runner restarts on a plugin of that
// runner; the plugin nothing uses any more is shut down; a process left
// on its runner keeps its run; the whole stop leaves nothing behind.
func TestReloadLaunchesAndShutsDownRunnerPlugins(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	writeConfig(t, cfg, `
runner "exec" "a" {}
process "moves" {
  command = ["sh", "-c", "exec sleep 300"]
}
process "stays" {
  command = ["sh", "-c", "exec sleep 300"]
  runner  = "exec.a"
}
`)
	r := startUp(t, cfg)
	pids := pidsByName(t, cfg, "moves", "stays")
	plugins := r.runnerPlugins()
	require.Len(t, plugins, 2, describePIDs(plugins))

	writeConfig(t, cfg, `
runner "exec" "a" {}
runner "exec" "b" {}
process "moves" {
  command = ["sh", "-c", "exec sleep 300"]
  runner  = "exec.b"
}
process "stays" {
  command = ["sh", "-c", "exec sleep 300"]
  runner  = "exec.a"
}
`)
	out, stderr, code := reloadCommand(t, cfg)
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `(?m)^runner launch: +exec\.b$`, out)
	assert.Regexp(t, `(?m)^runner shut down: +exec$`, out)
	after := pidsByName(t, cfg, "moves", "stays")
	assert.Equal(t, pids["stays"], after["stays"])
	assert.NotEqual(t, pids["moves"], after["moves"])
	require.Eventually(t, func() bool { return len(r.runnerPlugins()) == 2 }, 10*time.Second, 20*time.Millisecond,
		"the exec plugin nothing uses is shut down: %v", describePIDs(r.runnerPlugins()))
	now := r.runnerPlugins()
	assert.Len(t, intersect(plugins, now), 1, "exec.a's plugin is the same")

	require.NoError(t, r.cmd.Process.Signal(syscall.SIGINT))
	assert.Equal(t, 0, r.wait(t))
	requireNoneLeft(t, r.marker)
}

func intersect(a, b []int) []int {
	var out []int
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// scaleCommand runs `prox scale ARGS` on config.
func scaleCommand(t *testing.T, config string, args ...string) (string, string, int) {
	t.Helper()
	return runProxCommand(t, config, append([]string{"scale"}, args...)...)
}

func TestScaleChangesTheCountAtRuntime(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	writeConfig(t, cfg, `
process "web" {
  replicas = 2
  command  = ["sh", "-c", "echo web $PROX_REPLICA up; exec sleep 300"]
}
process "other" {
  command = ["sh", "-c", "exec sleep 300"]
}
`)
	r := startUp(t, cfg)
	before := pidsByName(t, cfg, "web.0", "web.1", "other")

	out, stderr, code := scaleCommand(t, cfg, "-dry-run", "web=3")
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `(?m)^add: +web\.2$`, out)
	assert.Contains(t, out, "Dry run: nothing was changed.")
	assert.Equal(t, before, pidsByName(t, cfg, "web.0", "web.1", "other"))

	out, stderr, code = scaleCommand(t, cfg, "web=3")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "Applied.")
	up := pidsByName(t, cfg, "web.0", "web.1", "web.2", "other")
	r.waitOutput(t, `web\.2 +\| web 2 up`)
	for _, name := range []string{"web.0", "web.1", "other"} {
		assert.Equal(t, before[name], up[name], name)
	}

	out, stderr, code = scaleCommand(t, cfg, "web=2")
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `(?m)^remove: +web\.2$`, out)
	assert.Equal(t, before, pidsByName(t, cfg, "web.0", "web.1", "other"))

	// Bad input changes nothing.
	for _, c := range []struct {
		arg, says string
		code      int
	}{
		{"web=abc", `scale web=abc: "abc" is not a count: N is a whole number from 1 to 1000`, 2},
		{"web=0", "scale web=0: a count is from 1 to 1000 (prox stop web stops every instance)", 2},
		{"web=-1", "scale web=-1: a count is from 1 to 1000", 2},
		{"web", `scale: "web" is not NAME=N (e.g. web=3)`, 2},
		{"nope=2", `There is no process "nope"`, 1},
	} {
		_, stderr, code := scaleCommand(t, cfg, c.arg)
		assert.Equal(t, c.code, code, c.arg)
		assert.Contains(t, stderr, c.says, c.arg)
	}
	assert.Equal(t, before, pidsByName(t, cfg, "web.0", "web.1", "other"))

	// A reload of the file brings its count back.
	_, stderr, code = scaleCommand(t, cfg, "web=3")
	require.Equal(t, 0, code, stderr)
	pidsByName(t, cfg, "web.0", "web.1", "web.2", "other")
	_, stderr, code = reloadCommand(t, cfg)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, before, pidsByName(t, cfg, "web.0", "web.1", "other"))
}

// A new replicas in the file is instances added or removed by a reload.
func TestReloadAppliesANewReplicas(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	const text = `
process "web" {
  replicas = %d
  command  = ["sh", "-c", "exec sleep 300"]
}
`
	writeConfig(t, cfg, fmt.Sprintf(text, 3))
	startUp(t, cfg)
	before := pidsByName(t, cfg, "web.0", "web.1", "web.2")
	writeConfig(t, cfg, fmt.Sprintf(text, 2))
	out, stderr, code := reloadCommand(t, cfg)
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `(?m)^remove: +web\.2$`, out)
	after := pidsByName(t, cfg, "web.0", "web.1")
	assert.Equal(t, before["web.0"], after["web.0"])
	assert.Equal(t, before["web.1"], after["web.1"])
}

// SIGHUP to a prox in the background reloads its configuration.
func TestUpDetachedReloadsOnSIGHUP(t *testing.T) {
	p := newProject(t, `
process "web" {
  command = ["sh", "-c", "exec sleep 300"]
}
`)
	code, out, errOut := p.prox(t, "up", "-d")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	pid := p.pid(t)
	web := pidsByName(t, p.config, "web")["web"]

	writeConfig(t, p.config, `
process "web" {
  command = ["sh", "-c", "exec sleep 300"]
}
process "worker" {
  command = ["sh", "-c", "echo worker up; exec sleep 300"]
}
`)
	require.NoError(t, syscall.Kill(pid, syscall.SIGHUP))
	p.waitLog(t, `configuration reloaded: plan="add 1 \(worker\), restart 0, remove 0, unchanged 1"`)
	after := pidsByName(t, p.config, "web", "worker")
	assert.Equal(t, web, after["web"])

	// Errors: logged, nothing changes, prox keeps running.
	writeConfig(t, p.config, `process "web" {`)
	require.NoError(t, syscall.Kill(pid, syscall.SIGHUP))
	p.waitLog(t, `the configuration is not reloaded; prox keeps running as it was`)
	assert.Equal(t, after, pidsByName(t, p.config, "web", "worker"))
	assert.Contains(t, p.log(t), "prox.hcl line 1")

	code, _, errOut = p.prox(t, "down")
	require.Equal(t, 0, code, errOut)
	requireNoneLeft(t, p.marker)
}

// prox up -d -watch: the prox in the background watches.
func TestUpDetachedWatches(t *testing.T) {
	p := newProject(t, `
process "web" {
  command = ["sh", "-c", "exec sleep 300"]
}
`)
	code, out, errOut := p.prox(t, "up", "-d", "-watch")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	p.waitLog(t, "watching the configuration")
	web := pidsByName(t, p.config, "web")["web"]
	saveByRename(t, p.config, `
process "web" {
  command = ["sh", "-c", "exec sleep 300"]
}
process "worker" {
  command = ["sh", "-c", "exec sleep 300"]
}
`)
	after := pidsByName(t, p.config, "web", "worker")
	assert.Equal(t, web, after["web"])
	code, _, errOut = p.prox(t, "down")
	require.Equal(t, 0, code, errOut)
}
