package supervisor

import (
	"fmt"
	"slices"

	"github.com/prox-dev/prox/sdk"
)

// State is a process's lifecycle state. Its values are the SDK's process
// states (sdk.ProcessState), which the sinks receive.
type State string

// The states of a process.
const (
	// StateStopped: not running; the initial state, and the state after a
	// stop asked for by a user or an exit with a success code.
	StateStopped = State(sdk.StateStopped)
	// StateStarting: the runner is starting the process.
	StateStarting = State(sdk.StateStarting)
	// StateRunning: the process runs.
	StateRunning = State(sdk.StateRunning)
	// StateStopping: the stop signal was sent; waiting for the exit.
	StateStopping = State(sdk.StateStopping)
	// StateCrashed: the process exited unexpectedly (not a success code, a
	// signal, or its runner died), or it was stopped because its liveness
	// check failed. A stop that was asked for never ends here, even when
	// it needed SIGKILL: that is StateStopped, with the reason.
	StateCrashed = State(sdk.StateCrashed)
	// StateBackoff: waiting to restart; ProcessInfo.NextRestart says when.
	StateBackoff = State(sdk.StateBackoff)
	// StateFailed: could not be started, or the restart limit was reached;
	// stays until a manual start.
	StateFailed = State(sdk.StateFailed)
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
