package supervisor

import "fmt"

// State is a process's lifecycle state.
type State string

// The states of a process.
const (
	StateStopped  State = "stopped"
	StateStarting State = "starting"
	StateRunning  State = "running"
	StateStopping State = "stopping"
	StateCrashed  State = "crashed"
	StateBackoff  State = "backoff"
	StateFailed   State = "failed"
)

// transitions is the state diagram: from -> allowed next states.
var transitions = map[State][]State{
	StateStopped:  {StateStarting},
	StateStarting: {StateRunning, StateFailed, StateStopped, StateCrashed},
	StateRunning:  {StateStopping, StateCrashed, StateStopped},
	StateStopping: {StateStopped, StateCrashed},
	StateCrashed:  {StateStarting, StateBackoff, StateFailed},
	StateBackoff:  {StateStarting, StateStopped},
	StateFailed:   {StateStarting},
}

// canTransition reports whether from -> to is in the diagram.
func canTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// ErrTransition reports a transition outside the diagram.
type ErrTransition struct {
	Process  string
	From, To State
}

func (e *ErrTransition) Error() string {
	return fmt.Sprintf("process %q: invalid state transition %s -> %s", e.Process, e.From, e.To)
}
