package sdk

import (
	"context"
	"time"
)

// Sink receives a copy of the output and events of the processes that name
// it: the seed's Subscriber, out of process.
//
// The host calls Write with one batch at a time per sink, in order, and waits
// for its return: nil acknowledges the batch (the sink has taken
// responsibility for it); an error makes the host retry it, so delivery is
// at least once. Flush and Close are called on shutdown, in that order, after
// the last Write.
type Sink interface {
	// Write delivers one batch.
	Write(ctx context.Context, b *Batch) error
	// Flush makes everything written so far durable or delivered.
	Flush(ctx context.Context) error
	// Close releases the sink; no call follows it.
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

// Event is a change in a process's life: started, exited, crashed,
// restarting, failed.
type Event struct {
	Timestamp     time.Time
	Process       string
	Type          string
	State         string
	PreviousState string
	ExitCode      int
	Signal        string
	Message       string
	Restarts      int
}

// Batch is what one Write delivers.
type Batch struct {
	// Seq numbers batches per sink from 1; a resent batch keeps its number.
	Seq     uint64
	Entries []LogEntry
	Events  []Event
}
