package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/prox-dev/prox/supervisor/control"
)

// Actions are the calls the UI makes on a process; *control.Client has
// them.
type Actions interface {
	Start(ctx context.Context, name string) (*control.Process, error)
	Stop(ctx context.Context, name string) (*control.Process, error)
	Restart(ctx context.Context, name string) (*control.Process, error)
	Signal(ctx context.Context, name, sig string) (*control.Process, error)
}

// actionTimeout bounds one action: a stop waits for the process's stop
// timeout.
const actionTimeout = 2 * time.Minute

// flashFor is how long an event or an action's outcome stays in the
// status line.
const flashFor = 6 * time.Second

// mode is what keys go to.
type mode int

const (
	modeNormal  mode = iota
	modeInput        // the prompt of the status line
	modeConfirm      // a yes/no question
	modeHelp         // the help screen
)

// inputKind is what the prompt asks for.
type inputKind int

const (
	inputNameFilter inputKind = iota
	inputSearch
	inputLogFilter
	inputSignal
)

// Messages of the model.
type (
	// processesMsg is a poll's answer, once a second: the processes and,
	// when at is set, their usage read then (u nil when prox serves no
	// /metrics). It also renders the uptimes and expires the status line.
	processesMsg struct {
		ps  []control.Process
		err error
		at  time.Time
		u   map[string]usage
	}
	// eventMsg is an event of the events stream.
	eventMsg control.Event
	// logsReadyMsg says the feed holds lines for the pane.
	logsReadyMsg struct{}
	// logBatchMsg is lines for the pane (tests, and what logsReadyMsg
	// takes from the feed).
	logBatchMsg struct {
		lines   []control.LogLine
		dropped uint64
	}
	// proxGoneMsg says prox stopped (or is stopping).
	proxGoneMsg struct{}
	// tickMsg expires the status line (tests; the poll does it too).
	tickMsg time.Time
	// actionDoneMsg is an action's outcome.
	actionDoneMsg struct {
		verb, name string
		err        error
	}
	// quitMsg ends the program after prox stopped.
	quitMsg struct{}
	// usageMsg is the processes' CPU time and memory read at a time
	// (nil when prox serves no /metrics); the poll sends them with
	// processesMsg, tests alone.
	usageMsg struct {
		at time.Time
		u  map[string]usage
	}
)

// confirmation is a pending yes/no question and what yes does.
type confirmation struct {
	question string
	yes      func(*Model) tea.Cmd
}

// Config is what the model is made with.
type Config struct {
	// Actions runs the process actions; nil disables them.
	Actions Actions
	// Color colours states, stderr and matches; without it only bold and
	// reverse video are used (NO_COLOR).
	Color bool
	// Renderer renders the styles; nil: lipgloss's default.
	Renderer *lipgloss.Renderer
	// Interrupt, when set (prox up -tui), is what quitting does after the
	// user confirms it: stop every process, as Ctrl-C does. A second call
	// kills what is left.
	Interrupt func()
	// Follow is told which process's output the log pane wants ("" for
	// every process's); nil in tests.
	Follow func(process string)
	// Take returns the lines the feed holds for the pane and how many it
	// dropped (on logsReadyMsg); nil in tests.
	Take func() ([]control.LogLine, uint64)
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Model is the state of the UI. It is driven by its messages only, so
// tests call Update and View directly.
type Model struct {
	cfg    Config
	st     styles
	width  int
	height int

	procs      []proc
	loaded     bool
	samples    map[string]usageSample // the last usage read, by process
	cpuPct     map[string]float64     // from the last two
	sortCol    column
	sortDesc   bool
	nameFilter string
	selected   string
	tableTop   int

	logs       *logRing
	logAll     bool
	logTarget  string
	following  bool // the pane was pointed at logTarget
	paused     bool
	anchor     uint64 // seq of the bottom line while paused
	newSince   int    // lines that came while paused
	wrap       bool
	search     *matcher
	logFilter  *matcher
	dropped    uint64
	inputRegex bool

	mode       mode
	input      textinput.Model
	inputFor   inputKind
	signalFor  string
	confirm    *confirmation
	status     string
	statusErr  bool
	statusTill time.Time

	stopping bool // Interrupt was called
	gone     bool
	quit     bool
}

// NewModel returns the model, 80x24 until the terminal says its size.
func NewModel(cfg Config) *Model {
	if cfg.Renderer == nil {
		cfg.Renderer = lipgloss.DefaultRenderer()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	in := textinput.New()
	in.Cursor.SetMode(cursor.CursorStatic)
	in.CharLimit = 256
	return &Model{
		cfg: cfg, st: newStyles(cfg.Renderer, cfg.Color),
		width: 80, height: 24,
		logs:  newLogRing(maxLogLines),
		input: in,
	}
}

// ProxStopped reports whether the UI ended because prox stopped.
func (m *Model) ProxStopped() bool { return m.gone }

// Init implements tea.Model.
// The once-a-second poll renders the uptimes: no timer of its own, so an
// idle UI renders once a second.
func (m *Model) Init() tea.Cmd { return nil }

// expire clears the status line once its time is up.
func (m *Model) expire() {
	if !m.statusTill.IsZero() && m.cfg.Now().After(m.statusTill) {
		m.status, m.statusTill = "", time.Time{}
	}
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	return m, cmd
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyMsg:
		return m.key(msg)
	case processesMsg:
		m.expire()
		if msg.err != nil {
			if errors.Is(msg.err, control.ErrNoServer) {
				return m.proxGone()
			}
			m.flash("cannot list the processes: "+msg.err.Error(), true)
			return nil
		}
		m.setProcesses(msg.ps)
		if !msg.at.IsZero() {
			m.setUsage(msg.at, msg.u)
		}
	case eventMsg:
		m.event(control.Event(msg))
	case usageMsg:
		m.setUsage(msg.at, msg.u)
	case logsReadyMsg:
		if m.cfg.Take != nil {
			lines, dropped := m.cfg.Take()
			m.addLogs(lines, dropped)
		}
	case logBatchMsg:
		m.addLogs(msg.lines, msg.dropped)
	case tickMsg:
		m.expire()
	case actionDoneMsg:
		if msg.err != nil {
			m.flash(fmt.Sprintf("%s %s: %v", msg.verb, msg.name, msg.err), true)
		} else {
			m.flash(fmt.Sprintf("%s %s: done", msg.verb, msg.name), false)
		}
	case proxGoneMsg:
		return m.proxGone()
	case quitMsg:
		m.quit = true
		return tea.Quit
	default:
		if m.mode == modeInput {
			var cmd tea.Cmd
			m.input, cmd = m.input.Update(msg)
			return cmd
		}
	}
	return nil
}

// proxGone says prox stopped and quits shortly after, so the message is
// seen.
func (m *Model) proxGone() tea.Cmd {
	if m.gone {
		return nil
	}
	m.gone = true
	m.mode = modeNormal
	m.flash("prox has stopped: the UI exits", true)
	return tea.Tick(700*time.Millisecond, func(time.Time) tea.Msg { return quitMsg{} })
}

// flash shows text in the status line for a while.
func (m *Model) flash(text string, isErr bool) {
	m.status, m.statusErr, m.statusTill = oneLine(text), isErr, m.cfg.Now().Add(flashFor)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// setProcesses takes a poll's answer.
func (m *Model) setProcesses(ps []control.Process) {
	m.procs = m.procs[:0]
	for i, p := range ps {
		pr := proc{Process: p, order: i}
		if p.Group != "" && p.Group != p.Name {
			pr.Group = p.Group // an instance of a process with replicas
		}
		m.procs = append(m.procs, pr)
	}
	m.loaded = true
	m.applyUsage()
	m.keepSelection()
}

// setUsage takes a usage reading: a process's CPU percentage is its CPU
// time's growth since the previous reading.
func (m *Model) setUsage(at time.Time, u map[string]usage) {
	samples, pct := map[string]usageSample{}, map[string]float64{}
	for name, cur := range u {
		s := usageSample{at: at, u: cur}
		if p, ok := cpuPercent(m.samples[name], s); ok {
			pct[name] = p
		}
		samples[name] = s
	}
	m.samples, m.cpuPct = samples, pct
	m.applyUsage()
}

// applyUsage puts the last usage into the table's processes.
func (m *Model) applyUsage() {
	for i := range m.procs {
		p := &m.procs[i]
		p.hasCPU, p.hasMem = false, false
		if p.State != "running" {
			continue
		}
		if pct, ok := m.cpuPct[p.Name]; ok {
			p.cpu, p.hasCPU = pct, true
		}
		if s, ok := m.samples[p.Name]; ok && s.u.hasMem {
			p.mem, p.hasMem = s.u.memBytes, true
		}
	}
}

// event takes an event: it updates the process it names and flashes a
// crash, a failure or a failed health check.
func (m *Model) event(ev control.Event) {
	if ev.Type == "sink" {
		if ev.To == "failing" {
			m.flash(fmt.Sprintf("sink %s is failing: %s", ev.Sink, ev.Reason), true)
		}
		return
	}
	for i := range m.procs {
		p := &m.procs[i]
		if p.Name != ev.Process {
			continue
		}
		p.Restarts = ev.Restarts
		switch ev.Type {
		case "health":
			if p.Health != nil {
				p.Health.Status = ev.Health
			}
		default:
			if ev.To != "" {
				p.State = ev.To
			}
		}
	}
	switch {
	case ev.Type == "health" && ev.Health == control.HealthUnhealthy:
		m.flash(fmt.Sprintf("%s: health check failed%s", ev.Process, suffix(ev.Reason)), true)
	case ev.To == "crashed":
		m.flash(fmt.Sprintf("%s crashed%s", ev.Process, suffix(exitReason(ev))), true)
	case ev.To == "failed":
		m.flash(fmt.Sprintf("%s failed%s", ev.Process, suffix(firstNonEmpty(ev.Reason, exitReason(ev)))), true)
	}
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// exitReason says how the run of an event ended.
func exitReason(ev control.Event) string {
	switch {
	case ev.Exit == nil:
		return ev.Reason
	case ev.Exit.Error != "":
		return ev.Exit.Error
	case ev.Exit.Signal != "":
		return "killed by " + ev.Exit.Signal
	default:
		return fmt.Sprintf("exited with code %d", ev.Exit.Code)
	}
}

// rows returns the table's lines as they are shown.
func (m *Model) rows() []row {
	return tableRows(m.procs, m.nameFilter, m.sortCol, m.sortDesc, m.cfg.Now())
}

// keepSelection keeps the selected process if it is still shown, or
// selects the first one shown; the log pane follows it.
func (m *Model) keepSelection() {
	rows := m.rows()
	first := ""
	for _, r := range rows {
		if r.p == nil {
			continue
		}
		if r.p.Name == m.selected {
			m.followSelected()
			return
		}
		if first == "" {
			first = r.p.Name
		}
	}
	m.selected = first
	m.followSelected()
}

// followSelected points the log pane at the selected process (or all).
func (m *Model) followSelected() {
	target := m.selected
	if m.logAll {
		target = ""
	}
	if m.following && target == m.logTarget {
		return
	}
	m.logTarget, m.following = target, true
	m.logs.reset()
	m.paused, m.newSince, m.dropped = false, 0, 0
	if m.cfg.Follow != nil {
		m.cfg.Follow(target)
	}
}

// moveSelection selects the process delta rows away.
func (m *Model) moveSelection(delta int) {
	rows := m.rows()
	var names []string
	cur := -1
	for _, r := range rows {
		if r.p != nil {
			if r.p.Name == m.selected {
				cur = len(names)
			}
			names = append(names, r.p.Name)
		}
	}
	if len(names) == 0 {
		return
	}
	next := min(max(cur+delta, 0), len(names)-1)
	m.selected = names[next]
	m.followSelected()
}

// selectedProc returns the selected process, nil when none.
func (m *Model) selectedProc() *proc {
	for i := range m.procs {
		if m.procs[i].Name == m.selected {
			return &m.procs[i]
		}
	}
	return nil
}

// key handles a key press. Keys typed faster than the terminal is read
// come as one message of many runes ("\\bad"): each is a key of its own,
// since the first may open the prompt the others go to.
func (m *Model) key(k tea.KeyMsg) tea.Cmd {
	if k.Type == tea.KeyRunes && len(k.Runes) > 1 && !k.Paste {
		cmds := make([]tea.Cmd, 0, len(k.Runes))
		for _, r := range k.Runes {
			cmds = append(cmds, m.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: k.Alt}))
		}
		return tea.Batch(cmds...)
	}
	switch m.mode {
	case modeHelp:
		m.mode = modeNormal
		return nil
	case modeConfirm:
		c := m.confirm
		m.mode, m.confirm = modeNormal, nil
		if k.String() == "y" || k.String() == "Y" {
			return c.yes(m)
		}
		m.flash("cancelled", false)
		return nil
	case modeInput:
		return m.inputKey(k)
	}
	if m.stopping && key.Matches(k, keys.Quit) {
		m.cfg.Interrupt()
		m.flash("killing every process", true)
		return nil
	}
	switch {
	case key.Matches(k, keys.Quit):
		if m.cfg.Interrupt == nil {
			m.quit = true
			return tea.Quit
		}
		m.ask("stop every process and quit prox? (y/n)", func(m *Model) tea.Cmd {
			m.stopping = true
			m.cfg.Interrupt()
			m.flash("stopping every process (ctrl+c again: kill them at once)", false)
			return nil
		})
	case key.Matches(k, keys.Help):
		m.mode = modeHelp
	case key.Matches(k, keys.Up):
		m.moveSelection(-1)
	case key.Matches(k, keys.Down):
		m.moveSelection(1)
	case key.Matches(k, keys.Sort):
		m.sortCol = (m.sortCol + 1) % numSortColumns
	case key.Matches(k, keys.Reverse):
		m.sortDesc = !m.sortDesc
	case key.Matches(k, keys.FilterProcs):
		m.prompt(inputNameFilter, m.nameFilter)
	case key.Matches(k, keys.Start):
		return m.act("start")
	case key.Matches(k, keys.Restart):
		return m.act("restart")
	case key.Matches(k, keys.Stop):
		if p := m.selectedProc(); p != nil && m.cfg.Actions != nil {
			name := p.Name
			m.ask(fmt.Sprintf("stop %s? (y/n)", name), func(m *Model) tea.Cmd { return m.run("stop", name, "") })
		}
	case key.Matches(k, keys.Signal):
		if p := m.selectedProc(); p != nil && m.cfg.Actions != nil {
			m.signalFor = p.Name
			m.prompt(inputSignal, "TERM")
		}
	case key.Matches(k, keys.AllLogs):
		m.logAll = !m.logAll
		m.followSelected()
	case key.Matches(k, keys.Search):
		m.prompt(inputSearch, "")
	case key.Matches(k, keys.FilterLogs):
		text := ""
		if m.logFilter != nil {
			text = m.logFilter.text
		}
		m.prompt(inputLogFilter, text)
	case key.Matches(k, keys.Next):
		m.jump(-1)
	case key.Matches(k, keys.Prev):
		m.jump(1)
	case key.Matches(k, keys.Pause):
		if m.paused {
			m.resume()
		} else {
			m.pause()
		}
	case key.Matches(k, keys.ScrollUp):
		m.scroll(-max(m.logHeight()-1, 1))
	case key.Matches(k, keys.ScrollDown):
		m.scroll(max(m.logHeight()-1, 1))
	case key.Matches(k, keys.Top):
		if m.logs.len() > 0 {
			m.pause()
			m.anchor = m.logs.at(0).seq
			m.scroll(0)
		}
	case key.Matches(k, keys.Bottom):
		m.resume()
	case key.Matches(k, keys.Wrap):
		m.wrap = !m.wrap
	case key.Matches(k, keys.Clear):
		m.search, m.logFilter, m.nameFilter = nil, nil, ""
		m.keepSelection()
	}
	return nil
}

// ask puts a yes/no question in the status line.
func (m *Model) ask(q string, yes func(*Model) tea.Cmd) {
	m.mode, m.confirm = modeConfirm, &confirmation{question: q, yes: yes}
}

// prompt opens the status line's prompt.
func (m *Model) prompt(kind inputKind, value string) {
	m.mode, m.inputFor = modeInput, kind
	m.input.SetValue(value)
	m.input.CursorEnd()
	m.input.Focus()
	m.setPromptText()
}

func (m *Model) setPromptText() {
	mode := "text"
	if m.inputRegex {
		mode = "regex"
	}
	switch m.inputFor {
	case inputNameFilter:
		m.input.Prompt = "filter processes by name: "
	case inputSearch:
		m.input.Prompt = "search (" + mode + ", tab toggles): "
	case inputLogFilter:
		m.input.Prompt = "show log lines matching (" + mode + ", tab toggles): "
	case inputSignal:
		m.input.Prompt = "signal to send to " + m.signalFor + ": "
	}
}

// inputKey handles a key while the prompt is open.
func (m *Model) inputKey(k tea.KeyMsg) tea.Cmd {
	switch k.Type {
	case tea.KeyEsc, tea.KeyCtrlC:
		m.mode = modeNormal
		m.input.Blur()
		if m.inputFor == inputNameFilter {
			m.nameFilter = ""
			m.keepSelection()
		}
		return nil
	case tea.KeyTab:
		if m.inputFor == inputSearch || m.inputFor == inputLogFilter {
			m.inputRegex = !m.inputRegex
			m.setPromptText()
		}
		return nil
	case tea.KeyEnter:
		m.mode = modeNormal
		m.input.Blur()
		return m.submit(strings.TrimSpace(m.input.Value()))
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	if m.inputFor == inputNameFilter {
		m.nameFilter = m.input.Value() // as it is typed
		m.keepSelection()
	}
	return cmd
}

// submit applies the prompt's value.
func (m *Model) submit(v string) tea.Cmd {
	switch m.inputFor {
	case inputNameFilter:
		m.nameFilter = v
		m.keepSelection()
	case inputSearch, inputLogFilter:
		mt, err := newMatcher(v, m.inputRegex)
		if err != nil {
			m.flash(err.Error(), true)
			return nil
		}
		if m.inputFor == inputLogFilter {
			m.logFilter = mt
			m.scroll(0)
			return nil
		}
		m.search = mt
		if mt != nil {
			m.resume()
			m.jumpFrom(m.logs.next, -1)
		}
	case inputSignal:
		if v == "" {
			return nil
		}
		name, sig := m.signalFor, v
		m.ask(fmt.Sprintf("send %s to %s? (y/n)", sig, name), func(m *Model) tea.Cmd { return m.run("signal", name, sig) })
	}
	return nil
}

// act runs an action that needs no confirmation on the selected process.
func (m *Model) act(verb string) tea.Cmd {
	p := m.selectedProc()
	if p == nil || m.cfg.Actions == nil {
		return nil
	}
	return m.run(verb, p.Name, "")
}

// run returns the command that runs an action.
func (m *Model) run(verb, name, sig string) tea.Cmd {
	m.flash(fmt.Sprintf("%s %s…", verb, name), false)
	a := m.cfg.Actions
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		defer cancel()
		var err error
		switch verb {
		case "start":
			_, err = a.Start(ctx, name)
		case "stop":
			_, err = a.Stop(ctx, name)
		case "restart":
			_, err = a.Restart(ctx, name)
		case "signal":
			_, err = a.Signal(ctx, name, sig)
			verb = "signal " + sig
		}
		return actionDoneMsg{verb: verb, name: name, err: err}
	}
}
