// Package policy holds the supervisor's terms and their defaults, defined
// once: the restart policies, the dependency conditions, and the default
// stop signal and timeout, backoff, restart limit and health check
// settings. The supervisor applies these defaults to the zero fields of
// what it is given; the config loader (supervisor/config) writes them into
// what it loads and accepts these terms. It is a leaf: it imports nothing
// from prox, so both may import it.
package policy

import (
	"syscall"
	"time"
)

// Restart policies (restart.policy).
const (
	// RestartNever never restarts a process.
	RestartNever = "never"
	// RestartOnFailure restarts a process whose exit is not a success: an
	// exit code not among the success codes, a signal, a runner that died.
	RestartOnFailure = "on-failure"
	// RestartAlways restarts a process whenever it exits.
	RestartAlways = "always"
)

// Dependency conditions (depends_on's condition).
const (
	// ConditionStarted: the dependency runs (the default).
	ConditionStarted = "started"
	// ConditionHealthy: the dependency's health check passes.
	ConditionHealthy = "healthy"
	// ConditionCompleted: the dependency ran and exited.
	ConditionCompleted = "completed"
	// ConditionCompletedSuccessfully: it exited with a success code.
	ConditionCompletedSuccessfully = "completed_successfully"
)

// Defaults of a process's stop and restart settings.
const (
	// DefaultStopSignal is the signal sent to stop a process.
	DefaultStopSignal = syscall.SIGTERM
	// DefaultStopTimeout is how long a stop waits after the stop signal
	// before SIGKILL.
	DefaultStopTimeout = 10 * time.Second
	// DefaultRestartPolicy is the restart policy of a process.
	DefaultRestartPolicy = RestartNever
	// DefaultBackoff is the first delay before a restart.
	DefaultBackoff = time.Second
	// DefaultMaxBackoff caps the exponentially growing restart delay.
	DefaultMaxBackoff = 30 * time.Second
	// DefaultResetAfter is how long a run must last for the backoff to
	// reset.
	DefaultResetAfter = time.Minute
	// DefaultMaxRestarts is how many restarts are allowed within the
	// window before the process is failed.
	DefaultMaxRestarts = 5
	// DefaultWindow is the period over which restarts are counted.
	DefaultWindow = time.Minute
)

// NoRestarts, as the supervisor's RestartPolicy.MaxRestarts, allows no
// restart at all (max_restarts = 0): zero there means
// DefaultMaxRestarts.
const NoRestarts = -1

// DefaultSuccessCodes returns the exit codes that count as success by
// default: [0].
func DefaultSuccessCodes() []int { return []int{0} }

// Defaults of a health check.
const (
	// DefaultHealthInterval is the time between two checks.
	DefaultHealthInterval = 5 * time.Second
	// DefaultHealthTimeout bounds one check.
	DefaultHealthTimeout = time.Second
	// DefaultSuccessThreshold is how many passing checks in a row make a
	// process healthy.
	DefaultSuccessThreshold = 1
	// DefaultFailureThreshold is how many failing checks in a row make a
	// healthy process unhealthy.
	DefaultFailureThreshold = 3
)
