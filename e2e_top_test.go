package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The UI tests run prox top (and prox up -tui) in a tmux session, read
// its screen with capture-pane as a person reads it, and type keys into
// it with send-keys.

// tmuxSession is one tmux server (a socket of its own, in the test's
// folder) with one session.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

// requireTmux skips the test where tmux is not installed, and fails it
// under CI=true (scripts/test.sh installs it from scripts/test-packages.txt).
func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err == nil {
		return
	}
	msg := "tmux is not installed (Debian package tmux, listed in scripts/test-packages.txt): the terminal UI test needs it"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: not skipping)")
	}
	t.Skip(msg)
}

// newTmux starts shellCommand in a detached width x height session, with
// env added to its environment.
func newTmux(t *testing.T, width, height int, env []string, shellCommand string) *tmuxSession {
	t.Helper()
	requireTmux(t)
	// A server of its own, on a socket in the test's folder, which goes
	// with it.
	s := &tmuxSession{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock"), name: "top"}
	args := []string{"new-session", "-d", "-s", s.name, "-x", strconv.Itoa(width), "-y", strconv.Itoa(height)}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	s.tmux(append(args, shellCommand)...)
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", s.socket}, args...)...).CombinedOutput()
	require.NoError(s.t, err, "tmux %v: %s", args, out)
	return string(out)
}

// screen returns what the session shows.
func (s *tmuxSession) screen() string { return s.tmux("capture-pane", "-p", "-t", s.name) }

// keys sends tmux key names (q, Enter, Escape).
func (s *tmuxSession) keys(keys ...string) {
	s.tmux(append([]string{"send-keys", "-t", s.name}, keys...)...)
}

// typeText sends text literally.
func (s *tmuxSession) typeText(text string) { s.tmux("send-keys", "-t", s.name, "-l", text) }

// waitScreen polls the screen until ok accepts it, and returns it.
func (s *tmuxSession) waitScreen(what string, ok func(string) bool) string {
	s.t.Helper()
	var last string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		last = s.screen()
		if ok(last) {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("the screen never showed %s; it shows:\n%s", what, last)
	return ""
}

// topRow matches a process's row of the table at 100 columns: name,
// state (symbol and word), health, PID, CPU, MEM, uptime, restarts.
func topRow(name string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^[▸ ] ` + regexp.QuoteMeta(name) + ` +(\S+) (\S+) +(\S+) +(\S+) +(\S+) +(\S+) +(\S+) +(\d+) `)
}

// logPane returns the log pane's non-empty lines.
func logPane(screen string) []string {
	rows := strings.Split(strings.TrimRight(screen, "\n"), "\n")
	for i, r := range rows {
		if strings.HasPrefix(r, "── logs:") {
			var out []string
			for _, l := range rows[i+1 : len(rows)-1] {
				if l = strings.TrimSpace(l); l != "" {
					out = append(out, l)
				}
			}
			return out
		}
	}
	return nil
}

const topConfig = `
process "alpha" {
  command = ["sh", "-c", "i=0; while true; do i=$((i+1)); echo alpha line $i; sleep 0.2; done"]
}
process "beta" {
  command = ["sh", "-c", "i=0; while true; do i=$((i+1)); echo beta good $i; echo beta bad $i >&2; sleep 0.2; done"]
}
process "gamma" {
  replicas = 2
  command  = ["sleep", "3600"]
}
`

func writeTopConfig(t *testing.T) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(topConfig), 0o644))
	return cfg
}

// TestTopInTmux uses prox top as a person would: the processes and their
// states are shown, r restarts the selected one and its restart count
// rises, a log filter leaves only the matching lines, q quits and stops
// nothing, and when prox stops the UI says so and exits 0.
func TestTopInTmux(t *testing.T) {
	requireTmux(t)
	cfg := writeTopConfig(t)
	r := startUp(t, cfg)
	r.waitOutput(t, `^alpha +\| alpha line`, `^beta +\| beta good`)
	bin := buildProx(t)
	top := fmt.Sprintf("'%s' top -config '%s'; echo EXIT=$?; sleep 600", bin, cfg)

	s := newTmux(t, 100, 30, []string{"NO_COLOR=1"}, top)
	screen := s.waitScreen("both processes running", func(sc string) bool {
		a, b := topRow("alpha").FindStringSubmatch(sc), topRow("beta").FindStringSubmatch(sc)
		return a != nil && b != nil && a[2] == "running" && b[2] == "running"
	})
	assert.Contains(t, screen, "● running", "the state's symbol")
	assert.Regexp(t, `NAME +STATE +HEALTH +PID +CPU% +MEM +UPTIME +RESTARTS +LAST EXIT`, screen)
	assert.Contains(t, screen, "▸ alpha", "the first process is selected")
	assert.Regexp(t, `(?m)^  ▾ gamma  2 replicas: 2 running\n[▸ ]   gamma\.0 +● running .*\n[▸ ]   gamma\.1 +● running `, screen, "the instances of gamma, grouped")
	// CPU and memory of the exec runner's processes, from prox's /metrics.
	figures := regexp.MustCompile(`^\d+(\.\d)?$`)
	mem := regexp.MustCompile(`^\d+(\.\d)?[BKMG]$`)
	screen = s.waitScreen("alpha's CPU and memory", func(sc string) bool {
		m := topRow("alpha").FindStringSubmatch(sc)
		return m != nil && figures.MatchString(m[5]) && mem.MatchString(m[6])
	})
	before := topRow("alpha").FindStringSubmatch(screen)
	require.Equal(t, "0", before[8])
	oldPID := before[4]

	// Restart the selected process: its restart count rises, its PID changes.
	s.keys("r")
	screen = s.waitScreen("alpha restarted once, with a new PID", func(sc string) bool {
		m := topRow("alpha").FindStringSubmatch(sc)
		return m != nil && m[8] == "1" && m[2] == "running" && m[4] != oldPID
	})
	assert.Equal(t, "0", topRow("beta").FindStringSubmatch(screen)[8], "only the selected process restarted")

	// Every process's output, then only the lines that match "bad".
	s.keys("a")
	s.waitScreen("both processes' output", func(sc string) bool {
		p := strings.Join(logPane(sc), "\n")
		return strings.Contains(sc, "── logs: all processes") && regexp.MustCompile(`(?m)^alpha +\| alpha line`).MatchString(p) && regexp.MustCompile(`(?m)^beta +! beta bad`).MatchString(p)
	})
	s.typeText(`\`)
	s.typeText("bad")
	s.keys("Enter")
	screen = s.waitScreen("only the matching lines", func(sc string) bool {
		return strings.Contains(sc, `only "bad"`) && len(logPane(sc)) >= 5
	})
	for _, l := range logPane(screen) {
		assert.Regexp(t, `^beta +! beta bad \d+$`, l, "the filtered pane shows only matching lines (stderr marked !)")
	}
	// Lines that come later are filtered too: wait for a newer one.
	newest := func(sc string) int {
		p := logPane(sc)
		n, _ := strconv.Atoi(p[len(p)-1][strings.LastIndexByte(p[len(p)-1], ' ')+1:])
		return n
	}
	seen := newest(screen)
	screen = s.waitScreen("a newer matching line", func(sc string) bool { return len(logPane(sc)) > 0 && newest(sc) > seen })
	for _, l := range logPane(screen) {
		assert.Regexp(t, `^beta +! beta bad \d+$`, l)
	}

	// q quits and stops nothing.
	s.keys("q")
	s.waitScreen("prox top exit 0", func(sc string) bool { return strings.Contains(sc, "EXIT=0") })
	out, err := exec.Command(bin, "ps", "-config", cfg).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Regexp(t, `(?m)^alpha +running`, string(out))
	assert.Regexp(t, `(?m)^beta +running`, string(out))

	// prox stops while the UI is open: it says so and exits 0.
	s2 := newTmux(t, 80, 24, nil, top)
	s2.waitScreen("the table", func(sc string) bool { return topRow("alpha").MatchString(sc) || strings.Contains(sc, "▸ alpha") })
	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	screen = s2.waitScreen("prox top's exit", func(sc string) bool { return strings.Contains(sc, "EXIT=") })
	assert.Contains(t, screen, "prox has stopped.")
	assert.Contains(t, screen, "EXIT=0")
	assert.Equal(t, 0, r.wait(t))
}

// TestUpTUIQuitStopsEverything: prox up -tui shows the UI in the same
// terminal; quitting asks, and yes stops every process as Ctrl-C does.
func TestUpTUIQuitStopsEverything(t *testing.T) {
	requireTmux(t)
	cfg := writeTopConfig(t)
	bin := buildProx(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	marker := "PROX_E2E_MARKER=" + hex.EncodeToString(b)
	t.Cleanup(func() { killMarked(marker) })
	// Only prox and what it starts carry the marker, not the shell around.
	s := newTmux(t, 100, 30, []string{"NO_COLOR=1"}, fmt.Sprintf("env %s '%s' up -tui -config '%s'; echo EXIT=$?; sleep 600", marker, bin, cfg))
	s.waitScreen("both processes running", func(sc string) bool {
		a, b := topRow("alpha").FindStringSubmatch(sc), topRow("beta").FindStringSubmatch(sc)
		return a != nil && b != nil && a[2] == "running" && b[2] == "running"
	})
	s.waitScreen("alpha's output", func(sc string) bool { return strings.Contains(strings.Join(logPane(sc), "\n"), "alpha line") })
	running := func() string { return strings.Join(describePIDs(markedProcesses(marker)), "\n") }
	require.Contains(t, running(), "alpha line", "alpha runs")

	s.keys("q")
	s.waitScreen("the question", func(sc string) bool { return strings.Contains(sc, "stop every process and quit prox? (y/n)") })
	s.keys("n")
	s.waitScreen("cancelled", func(sc string) bool { return strings.Contains(sc, "cancelled") })
	assert.Contains(t, running(), "beta good", "no means no")
	s.keys("q")
	s.waitScreen("the question", func(sc string) bool { return strings.Contains(sc, "stop every process and quit prox? (y/n)") })
	s.keys("y")
	screen := s.waitScreen("prox's exit", func(sc string) bool { return strings.Contains(sc, "EXIT=") })
	assert.Contains(t, screen, "EXIT=0")
	assert.Contains(t, screen, "shutting down", "prox's own log lines, held while the UI was open, are printed")
	requireNoneLeft(t, marker)
}

// TestTopWithoutProx says what prox ps says.
func TestTopWithoutProx(t *testing.T) {
	bin := buildProx(t)
	cfg := filepath.Join(t.TempDir(), "prox.hcl")
	ps := exec.Command(bin, "ps", "-config", cfg)
	psOut, psErr := ps.CombinedOutput()
	top := exec.Command(bin, "top", "-config", cfg)
	topOut, topErr := top.CombinedOutput()
	require.Error(t, psErr)
	require.Error(t, topErr)
	assert.Equal(t, 1, top.ProcessState.ExitCode())
	assert.Equal(t, string(psOut), string(topOut))
	assert.Contains(t, string(topOut), "prox is not running here")
}

// buildPlain builds a package without the race detector (the benchmarks
// measure prox as users run it) into dir.
func buildPlain(b *testing.B, dir, pkg, name string) string {
	b.Helper()
	out := filepath.Join(dir, name)
	if msg, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out
}

// cpuTicks returns the user plus system CPU time of a process, in clock
// ticks (1/100 s).
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// benchTop is a prox up (built without the race detector) running
// four processes, and prox top in a tmux session at 80x24 showing every
// process's output.
type benchTop struct {
	b      *testing.B
	bin    string
	config string
	socket string
	pid    int // prox top's
}

func (t *benchTop) tmux(args ...string) string {
	out, err := exec.Command("tmux", append([]string{"-S", t.socket}, args...)...).CombinedOutput()
	require.NoError(t.b, err, "tmux %v: %s", args, out)
	return string(out)
}

func (t *benchTop) screen() string { return t.tmux("capture-pane", "-p", "-t", "top") }

// startBenchTop starts prox up with four processes running argv ({load}
// is the proxload binary, {n} the process's number) and prox top on it.
func startBenchTop(b *testing.B, restart bool, argv ...string) *benchTop {
	if _, err := exec.LookPath("tmux"); err != nil {
		b.Skip("tmux is not installed")
	}
	dir := b.TempDir()
	t := &benchTop{b: b, bin: buildPlain(b, dir, ".", "prox"), socket: filepath.Join(dir, "tmux.sock")}
	load := buildPlain(b, dir, "./bench/cmd/proxload", "proxload")
	var cfg strings.Builder
	cfg.WriteString("sink \"file\" \"bench\" {\n  path = \"/dev/null\"\n  max_size = \"0\"\n}\n")
	for i := 1; i <= 4; i++ {
		fmt.Fprintf(&cfg, "process \"w%d\" {\n  command = [", i)
		for j, a := range argv {
			if j > 0 {
				cfg.WriteString(", ")
			}
			fmt.Fprintf(&cfg, "%q", strings.NewReplacer("{load}", load, "{n}", strconv.Itoa(i)).Replace(a))
		}
		cfg.WriteString("]\n  sinks = [\"file.bench\"]\n")
		if restart {
			cfg.WriteString("  restart {\n    policy = \"always\"\n    backoff = \"0s\"\n    max_restarts = 1000000\n  }\n")
		}
		cfg.WriteString("}\n")
	}
	t.config = filepath.Join(dir, "prox.hcl")
	require.NoError(b, os.WriteFile(t.config, []byte(cfg.String()), 0o644))
	up := exec.Command(t.bin, "up", "-quiet", "-config", t.config)
	up.Env = append(os.Environ(), "NO_COLOR=1")
	require.NoError(b, up.Start())
	b.Cleanup(func() {
		_ = exec.Command("tmux", "-S", t.socket, "kill-server").Run()
		_ = up.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = up.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = up.Process.Kill()
		}
	})
	require.Eventually(b, func() bool { return exec.Command(t.bin, "ps", "-config", t.config).Run() == nil }, 30*time.Second, 50*time.Millisecond)
	t.tmux("new-session", "-d", "-s", "top", "-x", "80", "-y", "24", "-e", "NO_COLOR=1", fmt.Sprintf("'%s' top -config '%s'; sleep 600", t.bin, t.config))
	require.Eventually(b, func() bool { return strings.Contains(t.screen(), "▸ w1 ") }, 30*time.Second, 50*time.Millisecond)
	t.tmux("send-keys", "-t", "top", "a") // every process's output
	shell, err := strconv.Atoi(strings.TrimSpace(t.tmux("list-panes", "-t", "top", "-F", "#{pane_pid}")))
	require.NoError(b, err)
	for _, p := range childPIDs(shell) {
		t.pid = p
	}
	require.NotZero(b, t.pid)
	return t
}

// restarts returns the processes' restarts so far.
func (t *benchTop) restarts() int {
	out, err := exec.Command(t.bin, "ps", "-json", "-config", t.config).Output()
	require.NoError(t.b, err)
	return sumRestarts(string(out))
}

var restartsField = regexp.MustCompile(`"restarts": (\d+)`)

func sumRestarts(js string) int {
	n := 0
	for _, m := range restartsField.FindAllStringSubmatch(js, -1) {
		v, _ := strconv.Atoi(m[1])
		n += v
	}
	return n
}

// keys presses j and k in turn, b.N times, each time waiting until the
// screen shows the selection moved (read with capture-pane every 2 ms,
// so an upper bound: tmux's own work is in it), and reports the median,
// 99th percentile and worst time, and prox top's CPU meanwhile.
func (t *benchTop) keys() {
	b := t.b
	sel := []string{"▸ w1 ", "▸ w2 "}
	cpu0, start := cpuTicks(t.pid), time.Now()
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		key, want := "j", sel[1]
		if i%2 == 1 {
			key, want = "k", sel[0]
		}
		sent := time.Now()
		t.tmux("send-keys", "-t", "top", key)
		for !strings.Contains(t.screen(), want) {
			if time.Since(sent) > 10*time.Second {
				b.Fatalf("the key %s was not answered in 10 s:\n%s", key, t.screen())
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, time.Since(sent))
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	elapsed := time.Since(start).Seconds()
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(float64(cpuTicks(t.pid)-cpu0)/100/elapsed*100, "top-cpu-%")
}

// BenchmarkTopKey measures how fast prox top answers a key: with four
// idle processes (the baseline: tmux, capture-pane and a loaded machine
// are in it), and while four processes write S1's lines (500,000 lines
// of 100 bytes each, as fast as they can, through prox into the file
// sink; each starts again when done, so the flood lasts as long as the
// keys), reporting the lines prox read per second meanwhile.
//
//	go test -run '^$' -bench BenchmarkTopKey -benchtime 100x .
func BenchmarkTopKey(b *testing.B) {
	b.Run("idle", func(b *testing.B) {
		t := startBenchTop(b, false, "{load}", "idle")
		t.keys()
	})
	b.Run("s1", func(b *testing.B) {
		t := startBenchTop(b, true, "{load}", "lines", "-tag", "w{n}", "-n", "500000", "-size", "100")
		time.Sleep(300 * time.Millisecond) // the flood is on
		r0, start := t.restarts(), time.Now()
		t.keys()
		b.ReportMetric(float64(t.restarts()-r0)*500000/time.Since(start).Seconds(), "lines/s")
	})
}

// BenchmarkTopIdleCPU measures prox top's CPU on an idle prox (four idle
// processes), over b.N times 100 ms, as a percentage of one core.
//
//	go test -run '^$' -bench BenchmarkTopIdleCPU -benchtime 600x .
func BenchmarkTopIdleCPU(b *testing.B) {
	t := startBenchTop(b, false, "{load}", "idle")
	time.Sleep(time.Second) // the start is over
	cpu0, start := cpuTicks(t.pid), time.Now()
	b.ResetTimer()
	for b.Loop() {
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTicks(t.pid)-cpu0)/100/time.Since(start).Seconds()*100, "top-cpu-%")
}

// childPIDs lists the children of pid.
func childPIDs(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err == nil && parentPID(p) == pid {
			out = append(out, p)
		}
	}
	return out
}

// TestUpTUITerminated: SIGTERM to prox up -tui stops every process
// gracefully, once, as without the UI: a process that takes a second to
// stop gets it, not a second signal's kill.
func TestUpTUITerminated(t *testing.T) {
	requireTmux(t)
	cfg := filepath.Join(t.TempDir(), "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(`
process "alpha" {
  command = ["sh", "-c", "trap 'sleep 1; echo alpha done; exit 0' TERM; while true; do sleep 0.1; done"]
}
process "beta" {
  command = ["sh", "-c", "while true; do echo beta; sleep 0.2; done"]
}
`), 0o644))
	bin := buildProx(t)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	marker := "PROX_E2E_MARKER=" + hex.EncodeToString(b)
	t.Cleanup(func() { killMarked(marker) })
	s := newTmux(t, 100, 30, []string{"NO_COLOR=1"}, fmt.Sprintf("env %s '%s' up -tui -config '%s'; echo EXIT=$?; sleep 600", marker, bin, cfg))
	s.waitScreen("both processes running", func(sc string) bool {
		a, b := topRow("alpha").FindStringSubmatch(sc), topRow("beta").FindStringSubmatch(sc)
		return a != nil && b != nil && a[2] == "running" && b[2] == "running"
	})
	shell, err := strconv.Atoi(strings.TrimSpace(s.tmux("list-panes", "-t", s.name, "-F", "#{pane_pid}")))
	require.NoError(t, err)
	prox := childPIDs(shell)
	require.Len(t, prox, 1)
	require.NoError(t, syscall.Kill(prox[0], syscall.SIGTERM))
	screen := s.waitScreen("prox's exit", func(sc string) bool { return strings.Contains(sc, "EXIT=") })
	assert.Contains(t, screen, "EXIT=0")
	assert.Contains(t, screen, "shutting down: signal=terminated")
	assert.NotContains(t, screen, "second signal", "one signal, one graceful stop")
	assert.Regexp(t, `exited: process=alpha state=stopped code=0`, screen, "alpha had its second to stop")
	requireNoneLeft(t, marker)
}
