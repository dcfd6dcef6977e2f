// Package tui is `prox top`: a terminal UI over the control API of a
// running prox (package supervisor/control's client), on the Charm stack
// (bubbletea, bubbles, lipgloss). It shows the process table (state,
// health, PID, uptime, restarts, last exit; sorted, filtered, replicas
// grouped), acts on the selected process (start, stop, restart, signal),
// flashes crashes and failed health checks, and follows the output of one
// process or all in a log pane with search, filter, pause, scroll back
// and wrap.
//
// The model (Model) is plain data driven by messages, tested through
// Update and View; Run wires it to the control API: a goroutine follows
// the events, one polls the processes once a second, and the log feed
// reads a follow stream and hands its lines to the model at most once a
// frame (30 a second), so a flood of output costs one update and one
// render a frame however many lines it holds.
package tui
