package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/prox-dev/prox/supervisor/control"
)

// proc is one process as the table shows it.
type proc struct {
	control.Process
	// Group names the process block (with replicas) the process is an
	// instance of; "" for a process of its own. The instances of a
	// block are shown together under a line of their own.
	Group string
	// order is the process's place in the configuration.
	order int
	// cpu (percent of one core over the last second) and mem (bytes),
	// when prox's /metrics have them.
	cpu, mem       float64
	hasCPU, hasMem bool
}

// column is a sortable column of the table.
type column int

const (
	colConfig column = iota // configuration order (no column of its own)
	colName
	colState
	colHealth
	colPID
	colUptime
	colRestarts
	colExit
	numSortColumns
)

// sortNames names the sort orders in the title line.
var sortNames = [...]string{"config", "name", "state", "health", "pid", "uptime", "restarts", "last exit"}

// stateRank orders states for sorting: the ones that need attention
// first.
var stateRank = map[string]int{"failed": 0, "crashed": 1, "backoff": 2, "starting": 3, "stopping": 4, "running": 5, "stopped": 6}

// compareBy compares two processes by a column.
func compareBy(c column, a, b proc, now time.Time) int {
	switch c {
	case colName:
		return strings.Compare(a.Name, b.Name)
	case colState:
		return cmp.Compare(stateRank[a.State], stateRank[b.State])
	case colHealth:
		return strings.Compare(healthText(a.Process), healthText(b.Process))
	case colPID:
		return cmp.Compare(a.PID, b.PID)
	case colUptime:
		return cmp.Compare(uptime(a.Process, now), uptime(b.Process, now))
	case colRestarts:
		return cmp.Compare(a.Restarts, b.Restarts)
	case colExit:
		return strings.Compare(a.LastExit.Text(), b.LastExit.Text())
	}
	return 0
}

// row is one line of the table: a group's line (group set, p nil) or a
// process.
type row struct {
	group   string
	members []proc // a group line's processes
	p       *proc
}

// tableRows returns the table's lines: the processes whose name contains
// filter (case-insensitive), sorted by col (desc reverses; ties in
// configuration order), each replica group under a line of its own at
// the place of its first member.
func tableRows(ps []proc, filter string, col column, desc bool, now time.Time) []row {
	filter = strings.ToLower(filter)
	var kept []proc
	for _, p := range ps {
		if filter == "" || strings.Contains(strings.ToLower(p.Name), filter) || (p.Group != "" && strings.Contains(strings.ToLower(p.Group), filter)) {
			kept = append(kept, p)
		}
	}
	slices.SortStableFunc(kept, func(a, b proc) int {
		c := compareBy(col, a, b, now)
		if desc {
			c = -c
		}
		if c == 0 {
			c = cmp.Compare(a.order, b.order)
		}
		return c
	})
	var rows []row
	seen := map[string]int{} // group -> index of its line in rows
	for i := range kept {
		p := &kept[i]
		if p.Group == "" {
			rows = append(rows, row{p: p})
			continue
		}
		if _, ok := seen[p.Group]; ok {
			continue
		}
		seen[p.Group] = len(rows)
		g := row{group: p.Group}
		for j := i; j < len(kept); j++ {
			if kept[j].Group == p.Group {
				g.members = append(g.members, kept[j])
			}
		}
		rows = append(rows, g)
		for j := range g.members {
			rows = append(rows, row{p: &g.members[j]})
		}
	}
	return rows
}

// groupSummary says how a group's processes are: "3 replicas: 2 running,
// 1 crashed".
func groupSummary(members []proc) string {
	counts := map[string]int{}
	var states []string
	for _, m := range members {
		if counts[m.State] == 0 {
			states = append(states, m.State)
		}
		counts[m.State]++
	}
	slices.SortFunc(states, func(a, b string) int { return cmp.Compare(stateRank[b], stateRank[a]) })
	parts := make([]string, len(states))
	for i, s := range states {
		parts[i] = fmt.Sprintf("%d %s", counts[s], s)
	}
	return fmt.Sprintf("%d replicas: %s", len(members), strings.Join(parts, ", "))
}

// uptime is the current run's age at now; 0 when not running.
func uptime(p control.Process, now time.Time) time.Duration {
	if p.StartedAt == nil {
		return 0
	}
	return now.Sub(*p.StartedAt)
}

// healthText is the HEALTH cell: "-" for a process without a check.
func healthText(p control.Process) string {
	if p.Health == nil {
		return "-"
	}
	return p.Health.Status
}

// noStats is what the CPU% and MEM cells show without figures: a process
// not running, one whose runner has no Stats and that is not on prox's
// machine, or (CPU%) before its second sample.
const noStats = "–"

// tableColumn is a column's heading, width and cell.
type tableColumn struct {
	title string
	width int
	right bool
	sort  column
	cell  func(p proc, now time.Time) string
}

// columns returns the columns that fit width: the full table from 60
// columns on, a compact one (name, state, restarts) below.
func columns(width, nameWidth int) []tableColumn {
	name := tableColumn{title: "NAME", width: nameWidth, sort: colName, cell: func(p proc, _ time.Time) string {
		if p.Group != "" {
			return "  " + p.Name
		}
		return p.Name
	}}
	state := tableColumn{title: "STATE", width: 10, sort: colState, cell: func(p proc, _ time.Time) string {
		return stateSymbol(p.State) + " " + p.State
	}}
	restarts := tableColumn{title: "RESTARTS", width: 8, right: true, sort: colRestarts, cell: func(p proc, _ time.Time) string {
		return fmt.Sprint(p.Restarts)
	}}
	if width < compactWidth {
		restarts.title, restarts.width = "RST", 3
		return []tableColumn{name, state, restarts}
	}
	return []tableColumn{
		name, state,
		{title: "HEALTH", width: 9, sort: colHealth, cell: func(p proc, _ time.Time) string { return healthText(p.Process) }},
		{title: "PID", width: 7, right: true, sort: colPID, cell: func(p proc, _ time.Time) string {
			if p.PID <= 0 {
				return "-"
			}
			return fmt.Sprint(p.PID)
		}},
		{title: "CPU%", width: 5, right: true, sort: -1, cell: func(p proc, _ time.Time) string {
			if !p.hasCPU {
				return noStats
			}
			return percentText(p.cpu)
		}},
		{title: "MEM", width: 5, right: true, sort: -1, cell: func(p proc, _ time.Time) string {
			if !p.hasMem {
				return noStats
			}
			return bytesText(p.mem)
		}},
		{title: "UPTIME", width: 6, right: true, sort: colUptime, cell: func(p proc, now time.Time) string {
			if p.StartedAt == nil {
				return "-"
			}
			return control.DurationText(uptime(p.Process, now))
		}},
		restarts,
		{title: "LAST EXIT", width: 9, sort: colExit, cell: func(p proc, _ time.Time) string { return p.LastExit.Text() }},
	}
}

// selectWidth is the width of the selection mark before each row.
const selectWidth = 2

// compactWidth is the terminal width below which the table is compact.
const compactWidth = 60

// fixedWidth is the width of every column but NAME, with the gaps.
func fixedWidth(cols []tableColumn) int {
	w := 0
	for _, c := range cols[1:] {
		w += c.width + 1
	}
	return w
}

// nameWidth is the NAME column's width: the longest name (and group
// indent), within what width leaves.
func nameWidth(ps []proc, width int) int {
	w := 4
	for _, p := range ps {
		n := lipgloss.Width(p.Name)
		if p.Group != "" {
			n += 2
			w = max(w, lipgloss.Width(p.Group)+2)
		}
		w = max(w, n)
	}
	avail := width - selectWidth - fixedWidth(columns(width, 0))
	return max(min(w, avail, 32), 4)
}

// pad fits s into width cells: cut with "…" or padded with spaces.
func pad(s string, width int, right bool) string {
	w := lipgloss.Width(s)
	if w > width {
		if width <= 0 {
			return ""
		}
		r := []rune(s)
		for lipgloss.Width(string(r)) > width-1 && len(r) > 0 {
			r = r[:len(r)-1]
		}
		return string(r) + "…"
	}
	if right {
		return strings.Repeat(" ", width-w) + s
	}
	return s + strings.Repeat(" ", width-w)
}
