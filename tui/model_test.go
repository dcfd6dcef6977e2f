package tui

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/prox-dev/prox/supervisor/control"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeActions records the actions the model runs.
type fakeActions struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakeActions) record(s string) (*control.Process, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return &control.Process{}, f.err
}

func (f *fakeActions) Start(_ context.Context, name string) (*control.Process, error) {
	return f.record("start " + name)
}

func (f *fakeActions) Stop(_ context.Context, name string) (*control.Process, error) {
	return f.record("stop " + name)
}

func (f *fakeActions) Restart(_ context.Context, name string) (*control.Process, error) {
	return f.record("restart " + name)
}

func (f *fakeActions) Signal(_ context.Context, name, sig string) (*control.Process, error) {
	return f.record("signal " + name + " " + sig)
}

func (f *fakeActions) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// plainRenderer renders no escape sequence at all: View is the text a
// person reads.
func plainRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return r
}

// colorRenderer renders as a 256-colour terminal.
func colorRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256)
	return r
}

func newTestModel(t *testing.T, cfg Config) *Model {
	t.Helper()
	if cfg.Renderer == nil {
		cfg.Renderer = plainRenderer()
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return t0 }
	}
	m := NewModel(cfg)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	return m
}

func started(ago time.Duration) *time.Time {
	t := t0.Add(-ago)
	return &t
}

func sampleProcesses() []control.Process {
	return []control.Process{
		{Name: "web", State: "running", PID: 101, Restarts: 2, StartedAt: started(90 * time.Second), Health: &control.Health{Status: "healthy"}},
		{Name: "db", State: "running", PID: 55, StartedAt: started(3 * time.Hour)},
		{Name: "worker", State: "crashed", Restarts: 5, LastExit: &control.Exit{Code: 3}},
		{Name: "cron", State: "stopped", LastExit: &control.Exit{Code: -1, Signal: "SIGTERM"}},
	}
}

func press(m *Model, keys ...string) []tea.Cmd {
	var cmds []tea.Cmd
	for _, k := range keys {
		var msg tea.KeyMsg
		switch k {
		case "enter":
			msg = tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			msg = tea.KeyMsg{Type: tea.KeyEsc}
		case "tab":
			msg = tea.KeyMsg{Type: tea.KeyTab}
		case "home":
			msg = tea.KeyMsg{Type: tea.KeyHome}
		case "pgup":
			msg = tea.KeyMsg{Type: tea.KeyPgUp}
		case "pgdown":
			msg = tea.KeyMsg{Type: tea.KeyPgDown}
		case "ctrl+c":
			msg = tea.KeyMsg{Type: tea.KeyCtrlC}
		case "space":
			msg = tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
		default:
			msg = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		}
		_, cmd := m.Update(msg)
		cmds = append(cmds, cmd)
	}
	return cmds
}

// typeText presses each rune of s.
func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

// tableNames returns the process names of the table's lines, top down.
func tableNames(view string) []string {
	var names []string
	re := regexp.MustCompile(`^[▸ ] +(\S+) +[●◐↻✗○] `)
	for _, l := range strings.Split(view, "\n") {
		if mm := re.FindStringSubmatch(l); mm != nil {
			names = append(names, mm[1])
		}
	}
	return names
}

// lineOf returns the view's line that shows the process name.
func lineOf(view, name string) string {
	re := regexp.MustCompile(`^[▸ ] +` + regexp.QuoteMeta(name) + ` `)
	for _, l := range strings.Split(view, "\n") {
		if re.MatchString(l) {
			return strings.TrimRight(l, " ")
		}
	}
	return ""
}

func TestTableShowsEveryColumnReadableWithoutColour(t *testing.T) {
	m := newTestModel(t, Config{})
	m.Update(processesMsg{ps: sampleProcesses()})
	v := m.View()
	assert.Equal(t, []string{"web", "db", "worker", "cron"}, tableNames(v), v)
	assert.Regexp(t, `NAME +STATE +HEALTH +PID +CPU% +MEM +UPTIME +RESTARTS +LAST EXIT`, v)
	assert.Regexp(t, `^▸ web +● running +healthy +101 +– +– +1m30s +2 exit -?$|^▸ web +● running +healthy +101 +– +– +1m30s +2 -$`, lineOf(v, "web"))
	assert.Regexp(t, `db +● running +- +55 +– +– +3h00m +0 -$`, lineOf(v, "db"))
	assert.Regexp(t, `worker +✗ crashed +- +- +– +– +- +5 exit 3$`, lineOf(v, "worker"))
	assert.Regexp(t, `cron +○ stopped +- +- +– +– +- +0 SIGTERM$`, lineOf(v, "cron"))
	assert.NotContains(t, v, "\x1b", "the plain renderer draws no escape sequence")
}

func TestStatesAreColouredUnlessNoColor(t *testing.T) {
	sgrColour := regexp.MustCompile(`\x1b\[[0-9;]*(3[0-9]|38;5;[0-9]+|9[0-7])m`)
	colored := newTestModel(t, Config{Color: true, Renderer: colorRenderer()})
	colored.Update(processesMsg{ps: sampleProcesses()})
	assert.Regexp(t, sgrColour, colored.View(), "with colour, states are coloured")

	plain := newTestModel(t, Config{Color: false, Renderer: colorRenderer()})
	plain.Update(processesMsg{ps: sampleProcesses()})
	v := plain.View()
	assert.NotRegexp(t, sgrColour, v, "NO_COLOR: no colour, on a terminal that has them")
	assert.Contains(t, v, "✗ crashed", "a state is readable from its symbol and word")
}

func TestSortByColumnAndReverse(t *testing.T) {
	m := newTestModel(t, Config{})
	m.Update(processesMsg{ps: sampleProcesses()})
	press(m, "o") // name
	assert.Equal(t, []string{"cron", "db", "web", "worker"}, tableNames(m.View()))
	assert.Contains(t, m.View(), "sort: name ↑")
	press(m, "O")
	assert.Equal(t, []string{"worker", "web", "db", "cron"}, tableNames(m.View()))
	press(m, "O", "o") // state, ascending: trouble first
	assert.Equal(t, []string{"worker", "web", "db", "cron"}, tableNames(m.View()))
	press(m, "o", "o") // pid (health skipped)
	assert.Contains(t, m.View(), "sort: pid ↑")
	assert.Equal(t, []string{"worker", "cron", "db", "web"}, tableNames(m.View()))
	press(m, "o") // uptime
	assert.Equal(t, []string{"worker", "cron", "web", "db"}, tableNames(m.View()))
	press(m, "o") // restarts
	assert.Equal(t, []string{"db", "cron", "web", "worker"}, tableNames(m.View()))
	press(m, "o", "o") // back to configuration order
	assert.Equal(t, []string{"web", "db", "worker", "cron"}, tableNames(m.View()))
}

func TestFilterByName(t *testing.T) {
	m := newTestModel(t, Config{})
	m.Update(processesMsg{ps: sampleProcesses()})
	press(m, "f")
	typeText(m, "OR") // case-insensitive, as it is typed
	assert.Equal(t, []string{"worker"}, tableNames(m.View()))
	press(m, "enter")
	v := m.View()
	assert.Equal(t, []string{"worker"}, tableNames(v))
	assert.Contains(t, v, `filter "OR": 1 shown`)
	assert.Equal(t, "worker", m.selected, "the selection follows the filter")
	press(m, "esc")
	assert.Len(t, tableNames(m.View()), 4)
	press(m, "f")
	typeText(m, "nothing")
	assert.Contains(t, m.View(), "no process matches")
}

func TestReplicasAreGroupedUnderTheirGroup(t *testing.T) {
	ps := []control.Process{
		{Name: "web.0", Group: "web", State: "running", PID: 10},
		{Name: "db", Group: "db", State: "running", PID: 5},
		{Name: "web.1", Group: "web", State: "crashed"},
		{Name: "web.2", Group: "web", State: "running", PID: 12},
	}
	m := newTestModel(t, Config{})
	m.Update(processesMsg{ps: ps})
	v := m.View()
	assert.Equal(t, []string{"web.0", "web.1", "web.2", "db"}, tableNames(v), v)
	assert.Contains(t, v, "▾ web  3 replicas: 2 running, 1 crashed")
	assert.NotContains(t, v, "▾ db", "a process of one instance is not a group")
	// Sorting sorts within the group; the group stays together.
	press(m, "o", "o") // state
	assert.Equal(t, []string{"web.1", "web.0", "web.2", "db"}, tableNames(m.View()))
	// The group's line is not selectable: down from web.2 is db.
	press(m, "o", "o", "o", "o", "o", "o") // config order again
	press(m, "j", "j", "j")
	assert.Equal(t, "db", m.selected)
	// A filter on the group's name keeps its instances.
	press(m, "f")
	typeText(m, "web")
	assert.Equal(t, []string{"web.0", "web.1", "web.2"}, tableNames(m.View()))
}

func TestEightyByTwentyFourAndCompactBelowSixty(t *testing.T) {
	m := newTestModel(t, Config{})
	var ps []control.Process
	for i := range 30 {
		ps = append(ps, control.Process{Name: fmt.Sprintf("process-with-a-long-name-%02d", i), State: "running", PID: 1000 + i, StartedAt: started(time.Minute)})
	}
	m.Update(processesMsg{ps: ps})
	var lines []control.LogLine
	for i := range 100 {
		lines = append(lines, control.LogLine{Process: ps[0].Name, Stream: "stdout", Line: strings.Repeat("x", 200) + fmt.Sprint(i)})
	}
	m.Update(logBatchMsg{lines: lines})
	for _, size := range [][2]int{{80, 24}, {59, 24}, {40, 10}, {20, 6}, {120, 50}, {10, 3}, {60, 7}} {
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		for _, wrap := range []bool{false, true} {
			m.wrap = wrap
			v := m.View()
			rows := strings.Split(v, "\n")
			assert.LessOrEqual(t, len(rows), size[1], "%dx%d: no more lines than the terminal has", size[0], size[1])
			for _, r := range rows {
				assert.LessOrEqual(t, lipgloss.Width(r), size[0], "%dx%d: %q is wider than the terminal", size[0], size[1], r)
			}
			if size[0] >= 20 && size[1] >= 6 {
				assert.Len(t, rows, size[1], "%dx%d: the screen is filled", size[0], size[1])
			}
			if size[0] >= 30 && size[0] < compactWidth && size[1] >= 6 {
				assert.Contains(t, v, "RST", "%dx%d: compact table", size[0], size[1])
				assert.NotContains(t, v, "LAST EXIT")
			}
		}
	}
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	assert.Contains(t, m.View(), "LAST EXIT")
	// The selection stays visible as it moves down a long table.
	for range 29 {
		press(m, "j")
	}
	assert.Equal(t, ps[29].Name, m.selected)
	assert.Regexp(t, `▸ process-wi… +● running +- +1029 `, m.View())
}

func TestActionsOnTheSelectedProcess(t *testing.T) {
	acts := &fakeActions{}
	m := newTestModel(t, Config{Actions: acts})
	m.Update(processesMsg{ps: sampleProcesses()})
	run := func(cmds []tea.Cmd) {
		for _, c := range cmds {
			if c != nil {
				m.Update(c())
			}
		}
	}
	run(press(m, "j", "r")) // db
	assert.Equal(t, []string{"restart db"}, acts.got())
	assert.Contains(t, m.View(), "restart db: done")
	run(press(m, "s"))
	assert.Equal(t, "start db", acts.got()[1])

	// Stop asks first; anything but y cancels.
	run(press(m, "x"))
	assert.Contains(t, m.View(), "stop db? (y/n)")
	run(press(m, "n"))
	assert.Len(t, acts.got(), 2, "no stop without a yes")
	assert.Contains(t, m.View(), "cancelled")
	run(press(m, "x", "y"))
	assert.Equal(t, "stop db", acts.got()[2])

	// Signal asks which, then confirms.
	run(press(m, "K"))
	assert.Contains(t, m.View(), "signal to send to db: TERM")
	run(press(m, "ctrl+c")) // the prompt: ctrl+c cancels it, it does not quit
	run(press(m, "K"))
	m.input.SetValue("")
	typeText(m, "HUP")
	run(press(m, "enter"))
	assert.Contains(t, m.View(), "send HUP to db? (y/n)")
	run(press(m, "y"))
	assert.Equal(t, "signal db HUP", acts.got()[3])
	assert.Contains(t, m.View(), "signal HUP db: done")

	// A failed action says why.
	acts.err = fmt.Errorf("process %q is already running", "db")
	run(press(m, "s"))
	assert.Contains(t, m.View(), `start db: process "db" is already running`)
}

func TestEventsFlashInTheStatusLine(t *testing.T) {
	now := t0
	m := newTestModel(t, Config{Now: func() time.Time { return now }})
	m.Update(processesMsg{ps: sampleProcesses()})
	m.Update(eventMsg{Type: "state", Process: "web", From: "running", To: "crashed", Restarts: 3, Exit: &control.EventExit{Code: 2}})
	v := m.View()
	assert.Contains(t, v, "web crashed: exited with code 2")
	assert.Regexp(t, `web +✗ crashed .* 3 `, lineOf(v, "web"), "the event updates the table at once")
	m.Update(eventMsg{Type: "health", Process: "db", Health: "unhealthy", Reason: "connection refused"})
	assert.Contains(t, m.View(), "db: health check failed: connection refused")
	m.Update(eventMsg{Type: "state", Process: "worker", From: "backoff", To: "failed", Reason: "restarted 5 times in 10s"})
	assert.Contains(t, m.View(), "worker failed: restarted 5 times in 10s")
	// The flash goes after a while.
	now = now.Add(flashFor + time.Second)
	m.Update(tickMsg(now))
	assert.NotContains(t, m.View(), "worker failed")
	assert.Contains(t, m.View(), "? help · q quit")
}

func TestHelpListsEveryKey(t *testing.T) {
	m := newTestModel(t, Config{})
	m.Update(processesMsg{ps: sampleProcesses()})
	press(m, "?")
	v := m.View()
	for _, b := range keys.all() {
		assert.Contains(t, v, b.Help().Key+" ")
		assert.Contains(t, v, b.Help().Desc)
	}
	assert.LessOrEqual(t, len(strings.Split(v, "\n")), 24, "the help fits 80x24")
	press(m, "q") // any key closes the help, and does nothing else
	assert.False(t, m.quit)
	assert.NotContains(t, m.View(), "any key closes")
}

func TestQuitStopsNothingInTopAndAsksInUp(t *testing.T) {
	top := newTestModel(t, Config{})
	cmds := press(top, "q")
	require.NotNil(t, cmds[0])
	assert.IsType(t, tea.QuitMsg{}, cmds[0]())

	var interrupts int
	up := newTestModel(t, Config{Interrupt: func() { interrupts++ }})
	cmds = press(up, "ctrl+c")
	assert.Nil(t, cmds[0], "up -tui does not quit at once")
	assert.Contains(t, up.View(), "stop every process and quit prox? (y/n)")
	press(up, "n")
	assert.Zero(t, interrupts)
	press(up, "q", "y")
	assert.Equal(t, 1, interrupts, "yes stops every process, as Ctrl-C does")
	assert.Contains(t, up.View(), "stopping every process")
	press(up, "ctrl+c")
	assert.Equal(t, 2, interrupts, "a second ctrl+c kills, as a second Ctrl-C does")
}

func TestProxStoppingEndsTheUI(t *testing.T) {
	m := newTestModel(t, Config{})
	m.Update(processesMsg{ps: sampleProcesses()})
	_, cmd := m.Update(processesMsg{err: fmt.Errorf("%w: nothing listens on x", control.ErrNoServer)})
	assert.Contains(t, m.View(), "prox has stopped: the UI exits")
	assert.True(t, m.ProxStopped())
	require.NotNil(t, cmd)
	msg := cmd()
	_, cmd = m.Update(msg)
	require.NotNil(t, cmd)
	assert.IsType(t, tea.QuitMsg{}, cmd())
}

func logLines(process string, texts ...string) []control.LogLine {
	out := make([]control.LogLine, len(texts))
	for i, s := range texts {
		out[i] = control.LogLine{Process: process, Stream: "stdout", Line: s}
	}
	return out
}

// pane returns the log pane's lines of the view: between its title and
// the status line.
func pane(v string) []string {
	rows := strings.Split(v, "\n")
	for i, r := range rows {
		if strings.HasPrefix(stripANSI(r), "── logs:") {
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

func TestLogPaneFollowsTheSelectedProcessOrAll(t *testing.T) {
	var follows []string
	m := newTestModel(t, Config{Follow: func(p string) { follows = append(follows, p) }})
	m.Update(processesMsg{ps: sampleProcesses()})
	assert.Equal(t, []string{"web"}, follows, "the first process is selected and followed")
	m.Update(logBatchMsg{lines: logLines("web", "one", "two")})
	assert.Equal(t, []string{"one", "two"}, pane(m.View()))
	press(m, "j")
	assert.Equal(t, []string{"web", "db"}, follows)
	assert.Contains(t, m.View(), "── logs: db · following")
	assert.Empty(t, m.logs.len(), "the pane starts over for another process")
	press(m, "a")
	assert.Equal(t, []string{"web", "db", ""}, follows)
	m.Update(logBatchMsg{lines: append(logLines("web", "w1"), control.LogLine{Process: "worker", Stream: "stderr", Line: "oops"})})
	assert.Equal(t, []string{"web    | w1", "worker ! oops"}, pane(m.View()), "all processes: names, stderr marked")
	press(m, "j") // the selection moves; the pane stays on all
	assert.Equal(t, []string{"web", "db", ""}, follows)
	press(m, "a")
	assert.Equal(t, []string{"web", "db", "", "worker"}, follows)
}

func TestStderrHasItsOwnColour(t *testing.T) {
	m := newTestModel(t, Config{Color: true, Renderer: colorRenderer()})
	m.Update(processesMsg{ps: sampleProcesses()})
	m.Update(logBatchMsg{lines: []control.LogLine{{Process: "web", Stream: "stdout", Line: "fine"}, {Process: "web", Stream: "stderr", Line: "bad"}}})
	v := m.View()
	assert.Regexp(t, `\x1b\[[0-9;]*91m[^\n]*bad`, v, "stderr in red")
	assert.NotRegexp(t, `\x1b\[[0-9;]*91m[^\n]*fine`, v)
	plain := newTestModel(t, Config{})
	plain.Update(processesMsg{ps: sampleProcesses()})
	plain.Update(logBatchMsg{lines: []control.LogLine{{Process: "web", Stream: "stdout", Line: "fine"}, {Process: "web", Stream: "stderr", Line: "bad"}}})
	assert.Equal(t, []string{"fine", "! bad"}, pane(plain.View()), "without colour, stderr is marked")
}

func numbered(n int) []control.LogLine {
	lines := make([]control.LogLine, n)
	for i := range lines {
		lines[i] = control.LogLine{Process: "web", Stream: "stdout", Line: fmt.Sprintf("line %03d", i+1)}
		if i%10 == 9 {
			lines[i].Line += " ERROR"
		}
	}
	return lines
}

func TestLogFilterShowsOnlyMatchingLines(t *testing.T) {
	m := newTestModel(t, Config{})
	m.Update(processesMsg{ps: sampleProcesses()})
	m.Update(logBatchMsg{lines: numbered(50)})
	press(m, "\\")
	typeText(m, "ERROR")
	press(m, "enter")
	assert.Equal(t, []string{"line 010 ERROR", "line 020 ERROR", "line 030 ERROR", "line 040 ERROR", "line 050 ERROR"}, pane(m.View()))
	assert.Contains(t, m.View(), `only "ERROR"`)
	// A regex.
	press(m, "\\")
	m.input.SetValue("")
	press(m, "tab")
	typeText(m, `line 0[12]0`)
	press(m, "enter")
	assert.Equal(t, []string{"line 010 ERROR", "line 020 ERROR"}, pane(m.View()))
	// New lines are filtered too.
	m.Update(logBatchMsg{lines: logLines("web", "line 010 again", "nope")})
	assert.Equal(t, []string{"line 010 ERROR", "line 020 ERROR", "line 010 again"}, pane(m.View()))
	press(m, "esc")
	assert.Len(t, pane(m.View()), m.logHeight())
}

func TestInvalidRegexShowsTheErrorInTheStatusLine(t *testing.T) {
	m := newTestModel(t, Config{})
	m.Update(processesMsg{ps: sampleProcesses()})
	m.Update(logBatchMsg{lines: numbered(5)})
	for _, k := range []string{"/", "\\"} {
		press(m, k)
		m.input.SetValue("")
		if !m.inputRegex {
			press(m, "tab")
		}
		typeText(m, "a(b")
		press(m, "enter")
		v := m.View()
		rows := strings.Split(v, "\n")
		assert.Contains(t, rows[len(rows)-1], "invalid regex \"a(b\": error parsing regexp: missing closing )")
		assert.Len(t, pane(v), 5, "the pane is unchanged")
	}
}

func TestSearchHighlightsAndJumps(t *testing.T) {
	m := newTestModel(t, Config{Color: true, Renderer: colorRenderer()})
	m.Update(processesMsg{ps: sampleProcesses()})
	m.Update(logBatchMsg{lines: numbered(100)})
	press(m, "/")
	typeText(m, "ERROR")
	press(m, "enter")
	v := m.View()
	assert.Regexp(t, `line 100 \x1b\[[0-9;]*m*(\x1b\[[0-9;]*m)*ERROR`, v)
	assert.Regexp(t, `\x1b\[[0-9;]*(103|43|48;5;11)[0-9;]*mERROR`, v, "matches are highlighted")
	last := func() string { p := pane(m.View()); return stripANSI(p[len(p)-1]) }
	assert.Equal(t, "line 100 ERROR", last(), "the newest match")
	press(m, "n")
	assert.Equal(t, "line 090 ERROR", last())
	press(m, "n", "n")
	assert.Equal(t, "line 070 ERROR", last())
	press(m, "N")
	assert.Equal(t, "line 080 ERROR", last())
	assert.Contains(t, m.View(), "paused")
	// Lines that come now do not move the pane.
	m.Update(logBatchMsg{lines: logLines("web", "new 1", "new 2")})
	assert.Equal(t, "line 080 ERROR", last())
	assert.Contains(t, m.View(), "paused (+2 new)")
	press(m, "G")
	assert.Equal(t, "new 2", last())
	// No match left: the status line says so.
	press(m, "/")
	m.input.SetValue("")
	typeText(m, "zzz")
	press(m, "enter")
	assert.Contains(t, m.View(), `no older match for "zzz"`)
}

var ansiSeq = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func stripANSI(s string) string { return ansiSeq.ReplaceAllString(s, "") }

func TestPauseAndScrollBack(t *testing.T) {
	m := newTestModel(t, Config{})
	m.Update(processesMsg{ps: sampleProcesses()})
	m.Update(logBatchMsg{lines: numbered(100)})
	h := m.logHeight()
	last := func() string { p := pane(m.View()); return p[len(p)-1] }
	assert.Equal(t, "line 100 ERROR", last())
	press(m, "p")
	m.Update(logBatchMsg{lines: logLines("web", "later")})
	assert.Equal(t, "line 100 ERROR", last(), "paused: new lines wait")
	press(m, "pgup")
	assert.Equal(t, fmt.Sprintf("line %03d", 100-(h-1)), last())
	press(m, "home")
	assert.Equal(t, "line 001", pane(m.View())[0], "the oldest line at the top")
	assert.Len(t, pane(m.View()), h)
	press(m, "pgdown")
	assert.Equal(t, fmt.Sprintf("line %03d", h), pane(m.View())[0], "a page forward")
	press(m, "space")
	assert.Equal(t, "later", last(), "resumed")
}

func TestWrapToggles(t *testing.T) {
	m := newTestModel(t, Config{})
	m.Update(processesMsg{ps: sampleProcesses()})
	long := strings.Repeat("abcdefghij", 20) // 200 columns
	m.Update(logBatchMsg{lines: logLines("web", long, "short")})
	p := pane(m.View())
	require.Len(t, p, 2)
	assert.Equal(t, 80, lipgloss.Width("  "+p[0]), "cut at the terminal's width")
	assert.True(t, strings.HasSuffix(p[0], "…"), "cut")
	press(m, "w")
	p = pane(m.View())
	assert.Len(t, p, 4, "200 columns wrap to 3 rows of 80")
	assert.Equal(t, long, strings.Join([]string{strings.TrimPrefix(p[0], "  "), p[1], p[2]}, ""))
	assert.Contains(t, m.View(), "· wrap")
}

func TestProcessOutputCannotDrawOnTheScreen(t *testing.T) {
	m := newTestModel(t, Config{})
	m.Update(processesMsg{ps: sampleProcesses()})
	m.Update(logBatchMsg{lines: logLines("web", "a\x1b[2J\x1b[31mred\x1b[0m\tb\rc")})
	assert.Equal(t, []string{"ared bc"}, pane(m.View()))
}

func TestRingKeepsTheNewestLines(t *testing.T) {
	r := newLogRing(5)
	r.add(numbered(3))
	r.add(numbered(4))
	require.Equal(t, 5, r.len())
	assert.Equal(t, "line 003", r.at(0).text)
	assert.Equal(t, uint64(3), r.at(0).seq)
	assert.Equal(t, "line 004", r.at(4).text)
	r.add(numbered(12))
	assert.Equal(t, "line 008", r.at(0).text)
	assert.Equal(t, uint64(15), r.at(0).seq, "19 lines came, the newest 5 are kept")
	assert.Equal(t, 0, r.indexOf(1), "an evicted line: the oldest kept")
	assert.Equal(t, 2, r.indexOf(r.at(2).seq))
}

func TestHasControl(t *testing.T) {
	for s, want := range map[string]bool{"plain text": false, "tab\there": true, "esc\x1b[0m": true, "del\x7f": true, "c1\u0085": true, "é ü ✓ 日本": false, "": false} {
		assert.Equal(t, want, hasControl(s), "%q", s)
	}
}

// Keys typed faster than the terminal is read come as one message: each
// rune is a key of its own.
func TestKeysThatComeTogether(t *testing.T) {
	m := newTestModel(t, Config{})
	m.Update(processesMsg{ps: sampleProcesses()})
	m.Update(logBatchMsg{lines: logLines("web", "good 1", "bad 1", "good 2")})
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(`\bad`)})
	press(m, "enter")
	assert.Equal(t, []string{"bad 1"}, pane(m.View()), "\\ opened the prompt, bad went into it")
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jj")})
	assert.Equal(t, "worker", m.selected)
}
