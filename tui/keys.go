package tui

import "github.com/charmbracelet/bubbles/key"

// keyMap is every key of the UI; the help screen (?) lists them all, in
// this order.
type keyMap struct {
	Up, Down, Top, Bottom                   key.Binding
	Start, Stop, Restart, Signal            key.Binding
	Sort, Reverse, FilterProcs              key.Binding
	AllLogs, Search, FilterLogs, Next, Prev key.Binding
	Pause, ScrollUp, ScrollDown, Clear      key.Binding
	Wrap, Help, Quit                        key.Binding
}

// keys is the key map.
var keys = keyMap{
	Up:          key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑ k", "select the process above")),
	Down:        key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓ j", "select the process below")),
	Top:         key.NewBinding(key.WithKeys("home"), key.WithHelp("home", "scroll the log pane to its oldest line (pauses)")),
	Bottom:      key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("end G", "follow the log pane's newest lines again")),
	Start:       key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "start the selected process")),
	Stop:        key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "stop the selected process (asks first)")),
	Restart:     key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "restart the selected process")),
	Signal:      key.NewBinding(key.WithKeys("K"), key.WithHelp("K", "send a signal to the selected process (asks which, then confirms)")),
	Sort:        key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "sort the table by the next column")),
	Reverse:     key.NewBinding(key.WithKeys("O"), key.WithHelp("O", "reverse the sort order")),
	FilterProcs: key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "filter the processes by name (esc clears)")),
	AllLogs:     key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "log pane: all processes' output, or the selected one's")),
	Search:      key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search the log pane (tab in the prompt: text or regex)")),
	FilterLogs:  key.NewBinding(key.WithKeys("\\"), key.WithHelp("\\", "show only the log lines that match (tab: text or regex)")),
	Next:        key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next match (older)")),
	Prev:        key.NewBinding(key.WithKeys("N"), key.WithHelp("N", "previous match (newer)")),
	Pause:       key.NewBinding(key.WithKeys("p", " "), key.WithHelp("p space", "pause or resume the log pane")),
	ScrollUp:    key.NewBinding(key.WithKeys("pgup", "ctrl+u", "shift+up"), key.WithHelp("pgup ctrl+u", "scroll the log pane back (pauses)")),
	ScrollDown:  key.NewBinding(key.WithKeys("pgdown", "ctrl+d", "shift+down"), key.WithHelp("pgdn ctrl+d", "scroll the log pane forward")),
	Clear:       key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear the search, the log filter and the name filter")),
	Wrap:        key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "wrap long log lines, or cut them")),
	Help:        key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "this help (any key closes it)")),
	Quit:        key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q ctrl+c", "quit")),
}

// all lists the bindings in help order.
func (k keyMap) all() []key.Binding {
	return []key.Binding{
		k.Up, k.Down, k.Start, k.Stop, k.Restart, k.Signal,
		k.Sort, k.Reverse, k.FilterProcs,
		k.AllLogs, k.Search, k.FilterLogs, k.Next, k.Prev,
		k.Pause, k.ScrollUp, k.ScrollDown, k.Top, k.Bottom, k.Wrap,
		k.Clear, k.Help, k.Quit,
	}
}
