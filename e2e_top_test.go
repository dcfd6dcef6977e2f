package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
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

// The UI tests run prox top (and prox up -tui) in a tmux session, read
// its screen with capture-pane as a person reads it, and type keys into
// it with send-keys.

// tmuxSession is one tmux server (a socket of its own) with one session.
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
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	s := &tmuxSession{t: t, socket: "prox-e2e-" + hex.EncodeToString(b), name: "top"}
	args := []string{"new-session", "-d", "-s", s.name, "-x", strconv.Itoa(width), "-y", strconv.Itoa(height)}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	s.tmux(append(args, shellCommand)...)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
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
	r.waitOutput(t, `^alpha \| alpha line`, `^beta  \| beta good`)
	bin := buildProx(t)
	top := fmt.Sprintf("'%s' top -config '%s'; echo EXIT=$?; sleep 600", bin, cfg)

	s := newTmux(t, 100, 30, []string{"NO_COLOR=1"}, top)
	screen := s.waitScreen("both processes running", func(sc string) bool {
		a, b := topRow("alpha").FindStringSubmatch(sc), topRow("beta").FindStringSubmatch(sc)
		return a != nil && b != nil && a[2] == "running" && b[2] == "running"
	})
	assert.Contains(t, screen, "● running", "the state's symbol")
	assert.Regexp(t, `NAME +STATE +HEALTH +PID +CPU +MEM +UPTIME +RESTARTS +LAST EXIT`, screen)
	assert.Contains(t, screen, "▸ alpha", "the first process is selected")
	before := topRow("alpha").FindStringSubmatch(screen)
	require.Equal(t, "0", before[8])
	oldPID := before[4]

	// Restart the selected process: its restart count rises, its PID changes.
	s.keys("r")
	screen = s.waitScreen("alpha restarted once", func(sc string) bool {
		m := topRow("alpha").FindStringSubmatch(sc)
		return m != nil && m[8] == "1" && m[2] == "running"
	})
	assert.NotEqual(t, oldPID, topRow("alpha").FindStringSubmatch(screen)[4])
	assert.Equal(t, "0", topRow("beta").FindStringSubmatch(screen)[8], "only the selected process restarted")

	// Every process's output, then only the lines that match "bad".
	s.keys("a")
	screen = s.waitScreen("both processes' output", func(sc string) bool {
		p := strings.Join(logPane(sc), "\n")
		return strings.Contains(sc, "── logs: all processes") && strings.Contains(p, "alpha | alpha line") && strings.Contains(p, "beta  ! beta bad")
	})
	s.typeText(`\`)
	s.typeText("bad")
	s.keys("Enter")
	screen = s.waitScreen("only the matching lines", func(sc string) bool {
		return strings.Contains(sc, `only "bad"`) && len(logPane(sc)) >= 5
	})
	for _, l := range logPane(screen) {
		assert.Regexp(t, `^beta  ! beta bad \d+$`, l, "the filtered pane shows only matching lines (stderr marked !)")
	}
	// Lines that come later are filtered too.
	time.Sleep(500 * time.Millisecond) // let more lines arrive: what is checked is that none slips through
	for _, l := range logPane(s.screen()) {
		assert.Regexp(t, `^beta  ! beta bad \d+$`, l)
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
