package supervisor

import (
	"fmt"
	"slices"
)

// State is a process's lifecycle state.
type State string

// The states of a process.
const (
	// StateStopped: not running; the initial state, and the state after a
	// stop asked for by a user or an exit with a success code.
	StateStopped State = "stopped"
	// StateStarting: the runner is starting the process.
	StateStarting State = "starting"
	// StateRunning: the process runs.
	StateRunning State = "running"
	// StateStopping: the stop signal was sent; waiting for the exit.
	StateStopping State = "stopping"
	// StateCrashed: the process exited unexpectedly (not a success code, a
	// signal, or its runner died), or it was stopped because its liveness
	// check failed. A stop that was asked for never ends here, even when
	// it needed SIGKILL: that is StateStopped, with the reason.
	StateCrashed State = "crashed"
	// StateBackoff: waiting to restart; ProcessInfo.NextRestart says when.
	StateBackoff State = "backoff"
	// StateFailed: could not be started, or the restart limit was reached;
	// stays until a manual start.
	StateFailed State = "failed"
)

// transitions is the whole state diagram: from -> allowed next states.
// Every state change goes through canTransition; anything else is a bug.
var transitions = map[State][]State{
	StateStopped:  {StateStarting, StateBackoff, StateFailed},
	StateStarting: {StateRunning, StateFailed, StateBackoff, StateStopped},
	StateRunning:  {StateStopping, StateCrashed, StateStopped},
	StateStopping: {StateStopped, StateCrashed},
	StateCrashed:  {StateStarting, StateBackoff, StateFailed},
	StateBackoff:  {StateStarting, StateStopped},
	StateFailed:   {StateStarting},
}

// canTransition reports whether from -> to is in the diagram.
func canTransition(from, to State) bool {
	return slices.Contains(transitions[from], to)
}

// active reports whether a process in state s is, or is about to be,
// alive.
func (s State) active() bool {
	return s == StateStarting || s == StateRunning || s == StateStopping
}

// ErrTransition reports a transition outside the diagram.
type ErrTransition struct {
	Process  string
	From, To State
}

func (e *ErrTransition) Error() string {
	return fmt.Sprintf("process %q: invalid state transition %s -> %s", e.Process, e.From, e.To)
}
