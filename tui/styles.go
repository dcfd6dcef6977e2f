package tui

import "github.com/charmbracelet/lipgloss"

// styles holds every style the UI draws with. Without colour (NO_COLOR,
// -no-color) each is plain or uses only reverse video and bold, which no
// colour setting turns off: a state is always readable from its word and
// its symbol, a match from its reverse video.
type styles struct {
	header    lipgloss.Style
	title     lipgloss.Style
	selected  lipgloss.Style
	group     lipgloss.Style
	dim       lipgloss.Style
	stderr    lipgloss.Style
	match     lipgloss.Style
	status    lipgloss.Style
	statusErr lipgloss.Style
	states    map[string]lipgloss.Style
	health    map[string]lipgloss.Style
}

// newStyles returns the styles, coloured or not, rendered by r.
func newStyles(r *lipgloss.Renderer, color bool) styles {
	s := styles{
		header:    r.NewStyle().Bold(true),
		title:     r.NewStyle().Bold(true),
		selected:  r.NewStyle().Reverse(true),
		group:     r.NewStyle().Bold(true),
		dim:       r.NewStyle(),
		stderr:    r.NewStyle(),
		match:     r.NewStyle().Reverse(true),
		status:    r.NewStyle(),
		statusErr: r.NewStyle().Bold(true),
		states:    map[string]lipgloss.Style{},
		health:    map[string]lipgloss.Style{},
	}
	if !color {
		return s
	}
	fg := func(c string) lipgloss.Style { return r.NewStyle().Foreground(lipgloss.Color(c)) }
	s.dim = fg("8")
	s.stderr = fg("9")
	s.match = r.NewStyle().Background(lipgloss.Color("11")).Foreground(lipgloss.Color("0"))
	s.status = fg("14")
	s.statusErr = fg("9").Bold(true)
	s.title = r.NewStyle().Bold(true).Foreground(lipgloss.Color("12"))
	s.states = map[string]lipgloss.Style{
		"running":  fg("10"),
		"starting": fg("11"),
		"stopping": fg("11"),
		"backoff":  fg("3"),
		"crashed":  fg("9"),
		"failed":   fg("9").Bold(true),
		"stopped":  fg("8"),
	}
	s.health = map[string]lipgloss.Style{
		"healthy":   fg("10"),
		"unhealthy": fg("9"),
		"checking":  fg("11"),
		"unknown":   fg("8"),
	}
	return s
}

// stateSymbol is the mark before a state's word, so states differ at a
// glance without colour too.
func stateSymbol(state string) string {
	switch state {
	case "running":
		return "●"
	case "starting", "stopping":
		return "◐"
	case "backoff":
		return "↻"
	case "crashed", "failed":
		return "✗"
	default:
		return "○"
	}
}
