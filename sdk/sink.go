package sdk

import (
	"context"
	"time"
)

// Sink receives a copy of the output and events of the processes that name
// it, out of process.
//
// The host calls Write with one batch at a time per sink, in order, and waits
// for its return: nil acknowledges the batch (the sink has taken
// responsibility for it); an error makes the host retry it, with backoff, so
// delivery is at least once. An error the sink answers with (a full disk, a
// refused connection) keeps the plugin; only a plugin that died or did not
// answer in time is relaunched. Flush and Close are called on shutdown, in that order, after
// the last Write. A sink never sees two calls at once (Shutdown, for a
// Shutdowner, comes after Close).
type Sink interface {
	// Write delivers one batch, after Configure. Batches come numbered,
	// increasing (Batch.Seq); a batch whose Write failed is sent again
	// with the same Seq, so a sink may see a batch twice. ctx bounds the call:
	// when it is cancelled, Write returns promptly, with an error unless
	// it delivered the batch. Write must not keep b or its slices after it
	// returns (the bytes of the lines may be kept).
	Write(ctx context.Context, b *Batch) error
	// Flush makes everything written so far durable or delivered; what a
	// sink buffers is readable or sent once Flush returns nil. ctx bounds
	// the call like Write's.
	Flush(ctx context.Context) error
	// Close releases the sink after its last Flush: files closed,
	// connections ended, background work stopped. It returns once done,
	// bounded by ctx; no Write or Flush follows it.
	Close(ctx context.Context) error
}

// Stream names a process output stream.
type Stream uint8

// The output streams.
const (
	Stdout Stream = 1
	Stderr Stream = 2
)

// String returns "stdout" or "stderr".
func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	default:
		return "unknown"
	}
}

// LogEntry is one line of a process's output.
type LogEntry struct {
	Timestamp time.Time
	Process   string
	Stream    Stream
	// Line is the line's bytes without its newline, exactly as written
	// (not necessarily valid UTF-8).
	Line []byte
}

// EventType says what happened to a process. On the wire it is its
// string.
type EventType string

// The event types the host sends.
const (
	// EventStarted: the process runs (State StateRunning).
	EventStarted EventType = "started"
	// EventExited: the process ended with a success code, or a stop that
	// was asked for ended it (State StateStopped).
	EventExited EventType = "exited"
	// EventCrashed: the process ended unexpectedly (State StateCrashed).
	EventCrashed EventType = "crashed"
	// EventRestarting: waiting to restart (State StateBackoff).
	EventRestarting EventType = "restarting"
	// EventFailed: the process could not be started, or reached its
	// restart limit (State StateFailed).
	EventFailed EventType = "failed"
	// EventStarting, EventStopping, EventStopped: the other changes of
	// state, named after the new state.
	EventStarting EventType = "starting"
	EventStopping EventType = "stopping"
	EventStopped  EventType = "stopped"
	// EventHealth: the health status changed; State is the status
	// (StateHealthy, StateUnhealthy or StateHealthUnknown).
	EventHealth EventType = "health"
)

// ProcessState is the state an event leaves a process in, or for an
// EventHealth its health status. On the wire it is its string.
type ProcessState string

// The states of a process.
const (
	StateStopped  ProcessState = "stopped"
	StateStarting ProcessState = "starting"
	StateRunning  ProcessState = "running"
	StateStopping ProcessState = "stopping"
	StateCrashed  ProcessState = "crashed"
	StateBackoff  ProcessState = "backoff"
	StateFailed   ProcessState = "failed"
)

// The health statuses, the State of an EventHealth.
const (
	StateHealthy       ProcessState = "healthy"
	StateUnhealthy     ProcessState = "unhealthy"
	StateHealthUnknown ProcessState = "unknown"
)

// Event is a change in a process's life: started, exited, crashed,
// restarting, failed, a change of health.
type Event struct {
	Timestamp     time.Time
	Process       string
	Type          EventType
	State         ProcessState
	PreviousState ProcessState
	ExitCode      int
	Signal        string
	Message       string
	Restarts      int
}

// Batch is what one Write delivers.
type Batch struct {
	// Seq numbers the batches of one sink, one more per batch. A resend
	// carries the same Seq, to the same plugin or to a relaunched one; Seq
	// never repeats for a different batch, also across runs of prox (the
	// host starts from the wall clock in nanoseconds).
	Seq     uint64
	Entries []LogEntry
	Events  []Event
}
