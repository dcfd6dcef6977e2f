package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The detached mode's end-to-end tests: prox up -d, prox attach, prox
// down, each run as a user would, in a folder of its own.

// detachedConfig has a process that ticks and one that ignores SIGTERM.
const detachedConfig = `
process "web" {
  command = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done"]
}
process "stubborn" {
  command = ["sh", "-c", "trap '' TERM; echo stubborn started; while :; do sleep 0.1; done"]
  stop { timeout = "1s" }
}
`

// project is a folder with a prox.hcl, and the marker every process prox
// starts there carries in its environment.
type project struct {
	bin, dir, config, marker string
}

// newProject writes src as prox.hcl in a folder of its own. Whatever
// prox leaves running there is stopped when the test ends, also when it
// fails: prox down first, then SIGKILL to anything with the marker.
func newProject(t *testing.T, src string) *project {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	dir := t.TempDir()
	p := &project{bin: buildProx(t), dir: dir, config: filepath.Join(dir, "prox.hcl"), marker: "PROX_E2E_MARKER=" + hex.EncodeToString(b)}
	require.NoError(t, os.WriteFile(p.config, []byte(src), 0o644))
	t.Cleanup(func() {
		if len(markedProcesses(p.marker)) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = p.command(ctx, "down").Run()
		killMarked(p.marker)
	})
	return p
}

// command returns `prox ARGS... -config CONFIG` in the project, with the
// marker in its environment.
func (p *project) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, p.bin, append(args, "-config", p.config)...)
	cmd.Env = append(os.Environ(), p.marker, "NO_COLOR=1", "PROX_SOCKET=")
	return cmd
}

// prox runs `prox ARGS...` in the project and returns its exit code,
// stdout and stderr.
func (p *project) prox(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := p.command(ctx, args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		require.NoError(t, err)
	}
	require.NoError(t, ctx.Err(), "prox %v did not return: %s", args, errOut.String())
	return code, out.String(), errOut.String()
}

// path returns the path of name in the project's .prox folder.
func (p *project) path(name string) string { return filepath.Join(p.dir, ".prox", name) }

// pid returns the PID of the running prox, from its PID file.
func (p *project) pid(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(p.path("prox.pid"))
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	return pid
}

// log returns the detached prox's log file.
func (p *project) log(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(p.path("prox.log"))
	require.NoError(t, err)
	return string(b)
}

// waitLog polls the log file until it matches re.
func (p *project) waitLog(t *testing.T, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(p.path("prox.log"))
		return err == nil && rx.Match(b)
	}, 30*time.Second, 20*time.Millisecond, "the log never matched %s:\n%s", re, func() string { b, _ := os.ReadFile(p.path("prox.log")); return string(b) }())
}

// psPIDs returns each process's state and PID from prox ps -json.
func (p *project) psPIDs(t *testing.T) map[string]string {
	t.Helper()
	procs, err := ps(t, p.config)
	require.NoError(t, err)
	out := map[string]string{}
	for _, pr := range procs {
		out[pr.Name] = pr.State + " " + strconv.Itoa(pr.PID)
	}
	return out
}

// statField returns field n (1-based, as in proc(5)) of /proc/PID/stat.
func statField(t *testing.T, pid, n int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	require.NoError(t, err)
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	return fields[n-3]
}

func TestUpDetachedAttachDown(t *testing.T) {
	p := newProject(t, detachedConfig)

	code, out, errOut := p.prox(t, "up", "-d")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	pid := p.pid(t)
	assert.Contains(t, out, "prox is running in the background (PID "+strconv.Itoa(pid)+"); its log is ")
	// It returned with every process up: the ps table says so.
	assert.Regexp(t, `(?m)^NAME\s+STATE\s+HEALTH\s+PID`, out)
	assert.Regexp(t, `(?m)^web\s+running\s`, out)
	assert.Regexp(t, `(?m)^stubborn\s+running\s`, out)
	// In the background: a session of its own, no terminal, stdin from
	// /dev/null.
	assert.Equal(t, strconv.Itoa(pid), statField(t, pid, 6), "its own session")
	assert.Equal(t, "0", statField(t, pid, 7), "no controlling terminal")
	stdin, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/0")
	require.NoError(t, err)
	assert.Equal(t, "/dev/null", stdin)
	running := p.psPIDs(t)
	require.Regexp(t, `^running \d+$`, running["web"])
	require.Regexp(t, `^running \d+$`, running["stubborn"])

	// Its own log and the processes' output are in the log file.
	p.waitLog(t, `(?m)^web      \| tick \d+$`)
	assert.Contains(t, p.log(t), "[INFO]  prox: running in the background")
	assert.Contains(t, p.log(t), "stubborn | stubborn started")

	t.Run("a second up is refused", func(t *testing.T) {
		for _, args := range [][]string{{"up"}, {"up", "-d"}} {
			code, _, errOut := p.prox(t, args...)
			assert.Equal(t, 1, code, "%v", args)
			assert.Contains(t, errOut, "another prox is already running on "+p.path("prox.sock")+" (PID "+strconv.Itoa(pid)+")", "%v", args)
		}
		assert.Equal(t, running, p.psPIDs(t), "nothing changed")
	})

	t.Run("attach follows, Ctrl-C detaches", func(t *testing.T) {
		cmd := p.command(context.Background(), "attach")
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var errOut strings.Builder
		cmd.Stderr = &errOut
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		sc := bufio.NewScanner(stdout)
		tick := regexp.MustCompile(`^web      \| tick \d+$`)
		seen := false
		for !seen && sc.Scan() {
			seen = tick.MatchString(sc.Text())
		}
		require.True(t, seen, "attach printed no tick of web, prefixed as prox up does: %s", errOut.String())
		require.NoError(t, cmd.Process.Signal(os.Interrupt))
		require.NoError(t, cmd.Wait(), "attach exits 0 on Ctrl-C: %s", errOut.String())
		assert.Equal(t, running, p.psPIDs(t), "detaching stopped nothing")
	})

	t.Run("SIGHUP does not stop it", func(t *testing.T) {
		require.NoError(t, syscall.Kill(pid, syscall.SIGHUP))
		// Agent.Reload is called (a reload of the same file changes
		// nothing).
		p.waitLog(t, `SIGHUP: reloading the configuration`)
		// Still supervising: new ticks come after the hangup.
		log := p.log(t)
		last := regexp.MustCompile(`(?m)^web      \| tick (\d+)$`).FindAllStringSubmatch(log, -1)
		require.NotEmpty(t, last)
		n, _ := strconv.Atoi(last[len(last)-1][1])
		p.waitLog(t, `(?m)^web      \| tick `+strconv.Itoa(n+2)+`$`)
		assert.Equal(t, running, p.psPIDs(t), "same processes, same PIDs")
		assert.NotContains(t, p.log(t), "shutting down")
	})

	code, out, errOut = p.prox(t, "down")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "prox (PID "+strconv.Itoa(pid)+") has stopped. How each process ended:")
	assert.Regexp(t, `(?m)^web\s+stopped\s+SIGTERM\s+-$`, out)
	assert.Regexp(t, `(?m)^stubborn\s+stopped\s+SIGKILL\s+killed after the stop timeout \(1s\)$`, out)
	// down returned once prox had exited: no wait needed here.
	if st := processState(pid); st != "" && st != "Z" {
		t.Errorf("prox (PID %d) is still alive after prox down: state %s", pid, st)
	}
	requireNoneLeft(t, p.marker)
	assert.NoFileExists(t, p.path("prox.sock"))
	assert.Contains(t, p.log(t), `shutting down: reason="shutdown requested through the control API"`)

	code, _, errOut = p.prox(t, "down")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "prox is not running here: nothing listens on "+p.path("prox.sock")+", so there is nothing to stop.")
}

func TestUpDetachedInvalidConfigStartsNothing(t *testing.T) {
	p := newProject(t, `
process "web" { command = ["sleep", "60"] }
process "web" { command = ["sleep", "61"] }
`)
	code, out, errOut := p.prox(t, "up", "-d")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "Duplicate process")
	assert.Contains(t, errOut, "on "+p.config+" line 3")
	requireNoneLeft(t, p.marker)
	assert.NoFileExists(t, p.path("prox.sock"))
	assert.NoFileExists(t, p.path("prox.log"))
}

// A process that fails to start is named with why, and the background
// prox stops what it started before prox up -d returns: nothing is left.
func TestUpDetachedFailedStartLeavesNothing(t *testing.T) {
	p := newProject(t, `
process "web" { command = ["sleep", "60"] }
process "bad" {
  command = ["sh", "-c", "echo oops; exit 7"]
  restart { policy = "on-failure" }
}
`)
	code, out, errOut := p.prox(t, "up", "-d")
	assert.Equal(t, 1, code, "stdout:\n%s", out)
	assert.Contains(t, errOut, "prox up -d: bad failed to start: exited with code 7; stopping what was started")
	assert.Contains(t, errOut, "The background prox has stopped; nothing it started is left running.")
	requireNoneLeft(t, p.marker)
	assert.NoFileExists(t, p.path("prox.sock"))
	assert.Contains(t, p.log(t), "bad | oops")
	assert.Contains(t, p.log(t), "exited: process=web state=stopped")
}

// Ctrl-C while prox up -d waits gives the start up: nothing is left.
func TestUpDetachedInterruptedWhileWaiting(t *testing.T) {
	p := newProject(t, `
process "slow" {
  command = ["sh", "-c", "echo waiting; exec sleep 60"]
  health {
    log { match = "never printed" }
  }
}
`)
	cmd := p.command(context.Background(), "up", "-d")
	var errOut strings.Builder
	cmd.Stderr = &errOut
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// Once the process runs, the start is under way.
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(p.path("prox.log"))
		return err == nil && strings.Contains(string(b), "slow | waiting")
	}, 30*time.Second, 20*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, errOut.String())
	assert.Equal(t, 1, ee.ExitCode())
	assert.Contains(t, errOut.String(), "prox stopped before every process was up")
	requireNoneLeft(t, p.marker)
}

// prox down stops a prox in a terminal too, as Ctrl-C would.
func TestDownStopsAProxInATerminal(t *testing.T) {
	p := newProject(t, detachedConfig)
	r := startUpEnv(t, p.config, p.marker)
	r.waitOutput(t, `^web      \| tick 2$`, `^stubborn \| stubborn started$`)

	code, out, errOut := p.prox(t, "down")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Regexp(t, `(?m)^web\s+stopped\s+SIGTERM\s+-$`, out)
	assert.Regexp(t, `(?m)^stubborn\s+stopped\s+SIGKILL\s+killed after the stop timeout \(1s\)$`, out)
	assert.Equal(t, 0, r.wait(t), "a requested stop is a clean exit; stderr:\n%s", r.stderrString())
	assert.Contains(t, r.stderrString(), `shutting down: reason="shutdown requested through the control API"`)
	requireNoneLeft(t, p.marker)
}

func TestDownWhenNothingRuns(t *testing.T) {
	p := newProject(t, detachedConfig)
	code, out, errOut := p.prox(t, "down")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Equal(t, "prox is not running here: nothing listens on "+p.path("prox.sock")+", so there is nothing to stop.\n", errOut)
}

// prox down of a prox in the background says what a failing sink could
// not deliver, with the counts prox logs, as Ctrl-C in a terminal shows
// them: the background prox's log is where nobody looks.
func TestDownSaysWhatASinkCouldNotDeliver(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("/dev/full is needed for a sink whose writes fail: %v", err)
		}
		t.Skipf("no /dev/full, needed for a sink whose writes fail: %v", err)
	}
	p := newProject(t, `
sink "file" "full" {
  path          = "/dev/full"
  drain_timeout = "1s"
}
process "writer" {
  command = ["sh", "-c", "i=0; while [ $i -lt 500 ]; do echo \"line $i\"; i=$((i+1)); done; exec sleep 600"]
  sinks   = ["file.full"]
}
`)
	code, out, errOut := p.prox(t, "up", "-d")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	var sinks []sinkJSON
	require.Eventually(t, func() bool {
		out, err := tryProxCommand(t, p.config, "sinks", "-json")
		sinks = nil
		return err == nil && json.Unmarshal([]byte(out), &sinks) == nil && len(sinks) == 1 &&
			sinks[0].State == "failing" && sinks[0].Queued == 500
	}, 30*time.Second, 50*time.Millisecond, "the sink never failed with every line waiting: %+v\n%s", sinks, p.log(t))

	code, out, errOut = p.prox(t, "down")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Regexp(t, `(?m)^writer\s+stopped\s+SIGTERM\s+-$`, out)
	want := regexp.MustCompile(`(?m)^sink file\.full: 500 lines and (\d+) events? not delivered: write: failed to write log file: write /dev/full: no space left on device$`)
	m := want.FindStringSubmatch(errOut)
	require.NotNil(t, m, "stderr:\n%s", errOut)
	assert.Contains(t, p.log(t), "[ERROR] prox: "+m[0], "the same line as prox's own")
	requireNoneLeft(t, p.marker)
}
