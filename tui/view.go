package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/prox-dev/prox/supervisor/control"
)

// addLogs takes lines for the pane.
func (m *Model) addLogs(lines []control.LogLine, dropped uint64) {
	m.dropped += dropped
	if m.paused {
		m.newSince += len(lines)
	}
	// Only the lines the ring can keep are drawn one day.
	if len(lines) > m.logs.cap {
		m.logs.next += uint64(len(lines) - m.logs.cap)
		lines = lines[len(lines)-m.logs.cap:]
	}
	for i := range lines {
		lines[i].Line = sanitize(lines[i].Line)
	}
	m.logs.add(lines)
}

// shown reports whether the i-th kept line passes the log filter.
func (m *Model) shown(i int) bool {
	return m.logFilter == nil || m.logFilter.match(m.logs.at(i).text)
}

// bottom returns the index of the pane's bottom line: the newest shown
// line when following, the anchor (or the nearest shown line before it)
// when paused; -1 when none is shown.
func (m *Model) bottom() int {
	i := m.logs.len() - 1
	if m.paused {
		i = min(m.logs.indexOf(m.anchor), m.logs.len()-1)
	}
	for ; i >= 0 && !m.shown(i); i-- {
	}
	return i
}

// pause stops the pane where it is.
func (m *Model) pause() {
	if m.paused {
		return
	}
	m.paused, m.newSince = true, 0
	if n := m.logs.len(); n > 0 {
		m.anchor = m.logs.at(n - 1).seq
	}
}

// resume follows the newest lines again.
func (m *Model) resume() {
	m.paused, m.newSince = false, 0
}

// scroll moves the pane by delta shown lines (negative: back), pausing
// it; reaching the newest line resumes following.
func (m *Model) scroll(delta int) {
	if m.logs.len() == 0 {
		return
	}
	if !m.paused && delta >= 0 {
		return
	}
	m.pause()
	i := m.bottom()
	if i < 0 {
		return
	}
	for step := delta; step != 0; {
		j := i
		if step < 0 {
			for j--; j >= 0 && !m.shown(j); j-- {
			}
			if j < 0 {
				break
			}
			step++
		} else {
			for j++; j < m.logs.len() && !m.shown(j); j++ {
			}
			if j >= m.logs.len() {
				m.resume()
				return
			}
			step--
		}
		i = j
	}
	// Back no further than a screenful above the oldest line.
	if first := m.firstShown(); first >= 0 {
		i = max(i, m.nthShownFrom(first, m.logHeight()-1))
	}
	m.anchor = m.logs.at(i).seq
}

// firstShown is the index of the oldest shown line, -1 if none.
func (m *Model) firstShown() int {
	for i := 0; i < m.logs.len(); i++ {
		if m.shown(i) {
			return i
		}
	}
	return -1
}

// nthShownFrom returns the index n shown lines after from (or the last).
func (m *Model) nthShownFrom(from, n int) int {
	i := from
	for j := from + 1; j < m.logs.len() && n > 0; j++ {
		if m.shown(j) {
			i, n = j, n-1
		}
	}
	return i
}

// jump moves to the next match of the search: dir -1 older, 1 newer.
func (m *Model) jump(dir int) {
	if m.search == nil {
		m.flash("no search: press / to search", true)
		return
	}
	from := m.logs.next
	if i := m.bottom(); i >= 0 && (m.paused || dir > 0) {
		from = m.logs.at(i).seq
	}
	m.jumpFrom(from, dir)
}

// jumpFrom moves the pane's bottom to the first shown line matching the
// search after (dir 1) or before (dir -1) the line numbered seq.
func (m *Model) jumpFrom(seq uint64, dir int) {
	n := m.logs.len()
	i := m.logs.indexOf(seq)
	if seq >= m.logs.next {
		i = n
	}
	for i += dir; i >= 0 && i < n; i += dir {
		if m.shown(i) && m.search.match(m.logs.at(i).text) {
			m.pause()
			m.anchor = m.logs.at(i).seq
			return
		}
	}
	if dir < 0 {
		m.flash(fmt.Sprintf("no older match for %s", m.search.describe()), true)
	} else {
		m.flash(fmt.Sprintf("no newer match for %s", m.search.describe()), true)
	}
}

// layout returns the heights of the table and of the log pane.
func (m *Model) layout(nrows int) (table, logs int) {
	avail := m.height - 4 // title, table header, log title, status line
	table = min(max(nrows, 1), max(avail/2, 1))
	logs = max(avail-table, 0)
	return table, logs
}

// logHeight is the log pane's height.
func (m *Model) logHeight() int {
	_, h := m.layout(len(m.rows()))
	return max(h, 1)
}

// View implements tea.Model.
func (m *Model) View() string {
	if m.quit {
		return ""
	}
	if m.width < 20 || m.height < 6 {
		return ansi.Truncate("prox top: the terminal is too small", max(m.width, 1), "…")
	}
	if m.mode == modeHelp {
		return m.helpView()
	}
	rows := m.rows()
	tableH, logH := m.layout(len(rows))
	out := make([]string, 0, m.height)
	out = append(out, m.titleLine(rows))
	out = append(out, m.tableLines(rows, tableH)...)
	out = append(out, m.logTitle())
	out = append(out, m.logLines(logH)...)
	out = append(out, m.statusLine())
	for i, l := range out {
		out[i] = ansi.Truncate(l, m.width, "")
	}
	return strings.Join(out, "\n")
}

// titleLine is the first line: what is shown and how it is sorted.
func (m *Model) titleLine(rows []row) string {
	n := 0
	for _, r := range rows {
		if r.p != nil {
			n++
		}
	}
	t := fmt.Sprintf("prox top · %d processes", len(m.procs))
	if m.nameFilter != "" {
		t += fmt.Sprintf(" · filter %q: %d shown", m.nameFilter, n)
	}
	order := "↑"
	if m.sortDesc {
		order = "↓"
	}
	t += fmt.Sprintf(" · sort: %s %s", sortNames[m.sortCol], order)
	if m.stopping {
		t += " · stopping"
	}
	return m.st.title.Render(t) + m.st.dim.Render(" · ? help")
}

// tableLines renders the table's header and its visible rows.
func (m *Model) tableLines(rows []row, height int) []string {
	cols := columns(m.width, nameWidth(m.procs, m.width))
	now := m.cfg.Now()
	var head []string
	for _, c := range cols {
		title := c.title
		if c.sort == m.sortCol {
			if m.sortDesc {
				title += "↓"
			} else {
				title += "↑"
			}
		}
		head = append(head, pad(title, c.width, c.right))
	}
	lines := []string{m.st.header.Render("  " + strings.Join(head, " "))}
	if len(rows) == 0 {
		msg := "loading…"
		if m.loaded {
			msg = "no process matches"
			if len(m.procs) == 0 {
				msg = "no processes"
			}
		}
		return append(lines, "  "+m.st.dim.Render(msg))
	}
	sel := 0
	for i, r := range rows {
		if r.p != nil && r.p.Name == m.selected {
			sel = i
		}
	}
	if sel < m.tableTop {
		m.tableTop = sel
	}
	if sel >= m.tableTop+height {
		m.tableTop = sel - height + 1
	}
	m.tableTop = max(min(m.tableTop, len(rows)-height), 0)
	for _, r := range rows[m.tableTop:min(m.tableTop+height, len(rows))] {
		if r.p == nil {
			lines = append(lines, m.st.group.Render("  ▾ "+r.group)+"  "+m.st.dim.Render(groupSummary(r.members)))
			continue
		}
		selected := r.p.Name == m.selected
		cells := make([]string, 0, len(cols)+1)
		mark := "  "
		if selected {
			mark = "▸ "
		}
		cells = append(cells, mark)
		for _, c := range cols {
			text := pad(c.cell(*r.p, now), c.width, c.right)
			if !selected {
				switch c.sort {
				case colState:
					if s, ok := m.st.states[r.p.State]; ok {
						text = s.Render(text)
					}
				case colHealth:
					if s, ok := m.st.health[healthText(r.p.Process)]; ok {
						text = s.Render(text)
					}
				}
			}
			cells = append(cells, text)
		}
		line := cells[0] + strings.Join(cells[1:], " ")
		if selected {
			line = m.st.selected.Render(line)
		}
		lines = append(lines, line)
	}
	return lines
}

// logTitle is the log pane's title line.
func (m *Model) logTitle() string {
	what := "all processes"
	if m.logTarget != "" {
		what = m.logTarget
	}
	parts := []string{"logs: " + what}
	if m.paused {
		p := "paused"
		if m.newSince > 0 {
			p += fmt.Sprintf(" (+%d new)", m.newSince)
		}
		parts = append(parts, p)
	} else {
		parts = append(parts, "following")
	}
	if m.search != nil {
		parts = append(parts, "search "+m.search.describe())
	}
	if m.logFilter != nil {
		parts = append(parts, "only "+m.logFilter.describe())
	}
	if m.wrap {
		parts = append(parts, "wrap")
	}
	if m.dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d lines skipped", m.dropped))
	}
	t := "── " + strings.Join(parts, " · ") + " "
	if w := lipgloss.Width(t); w < m.width {
		t += strings.Repeat("─", m.width-w)
	}
	return m.st.title.Render(t)
}

// logLines renders the pane's height lines, the bottom one at bottom().
func (m *Model) logLines(height int) []string {
	if height <= 0 {
		return nil
	}
	prefixW := 0
	if m.logTarget == "" {
		for _, p := range m.procs {
			prefixW = max(prefixW, lipgloss.Width(p.Name))
		}
		prefixW = min(prefixW, 16)
	}
	var rendered []string // bottom first
	for i := m.bottom(); i >= 0 && len(rendered) < height; i-- {
		if !m.shown(i) {
			continue
		}
		l := m.logs.at(i)
		line := m.renderLog(l, prefixW)
		if !m.wrap {
			rendered = append(rendered, ansi.Truncate(line, m.width, "…"))
			continue
		}
		parts := strings.Split(ansi.Hardwrap(line, m.width, true), "\n")
		for j := len(parts) - 1; j >= 0 && len(rendered) < height; j-- {
			rendered = append(rendered, parts[j])
		}
	}
	out := make([]string, height)
	for i, l := range rendered {
		out[len(rendered)-1-i] = l
	}
	if len(rendered) == 0 && height > 0 {
		msg := "no output yet"
		if m.logFilter != nil && m.logs.len() > 0 {
			msg = "no line matches " + m.logFilter.describe()
		}
		out[0] = m.st.dim.Render(msg)
	}
	return out
}

// renderLog renders one line: the process's name in the all-processes
// pane, stderr in its own colour (or marked "!" without colour), the
// search's matches highlighted.
func (m *Model) renderLog(l *logLine, prefixW int) string {
	var b strings.Builder
	if prefixW > 0 {
		sep := " | "
		if l.stderr {
			sep = " ! "
		}
		b.WriteString(m.st.dim.Render(pad(l.process, prefixW, false) + sep))
	} else if !m.cfg.Color {
		if l.stderr {
			b.WriteString("! ")
		} else {
			b.WriteString("  ")
		}
	}
	base := m.st.dim.UnsetForeground()
	if l.stderr {
		base = m.st.stderr
	}
	text := l.text
	if m.search == nil {
		b.WriteString(base.Render(text))
		return b.String()
	}
	last := 0
	for _, s := range m.search.spans(text) {
		b.WriteString(base.Render(text[last:s[0]]))
		b.WriteString(m.st.match.Render(text[s[0]:s[1]]))
		last = s[1]
	}
	b.WriteString(base.Render(text[last:]))
	return b.String()
}

// statusLine is the bottom line: a question, the prompt, a flash, or the
// main keys.
func (m *Model) statusLine() string {
	switch {
	case m.mode == modeConfirm:
		return m.st.statusErr.Render(m.confirm.question)
	case m.mode == modeInput:
		return m.input.View()
	case m.status != "":
		if m.statusErr {
			return m.st.statusErr.Render(m.status)
		}
		return m.st.status.Render(m.status)
	}
	return m.st.dim.Render("? help · q quit · s start · x stop · r restart · K signal · a all logs · / search · \\ filter · p pause")
}

// helpView lists every key.
func (m *Model) helpView() string {
	out := []string{m.st.title.Render("prox top: keys (any key closes this help)")}
	for _, b := range keys.all() {
		h := b.Help()
		out = append(out, "  "+pad(h.Key, 12, false)+" "+h.Desc)
	}
	for i, l := range out {
		out[i] = ansi.Truncate(l, m.width, "…")
	}
	if len(out) > m.height {
		out = out[:m.height]
	}
	return strings.Join(out, "\n")
}
