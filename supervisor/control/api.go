package control

import (
	"encoding/base64"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor"
)

// APIVersion is the version of the routes, the "v1" of /v1/.
const APIVersion = 1

// Process is one process as the API returns it, and as `prox ps -json`
// prints it. Its JSON keys are a contract: exactly these.
type Process struct {
	// Name is the process's name in prox.hcl; an instance of a process
	// with replicas is "NAME.INDEX".
	Name string `json:"name"`
	// Group is the process block the process is an instance of: its
	// Name, for a process of one instance.
	Group string `json:"group"`
	// State is the lifecycle state: stopped, starting, running, stopping,
	// crashed, backoff or failed.
	State string `json:"state"`
	// PID is the process ID as its runner sees it; 0 when not running.
	PID int `json:"pid"`
	// Runner names the runner ("exec", "ssh.staging").
	Runner string `json:"runner"`
	// Restarts counts the restarts, by policy and by request.
	Restarts int `json:"restarts"`
	// StartedAt is when the current run started; null when not running.
	StartedAt *time.Time `json:"started_at"`
	// UptimeSeconds is the current run's age in seconds (millisecond
	// precision); 0 when not running.
	UptimeSeconds float64 `json:"uptime_seconds"`
	// LastExit is how the previous run ended; null if none has.
	LastExit *Exit `json:"last_exit"`
	// Health is the health check's view; null for a process without one.
	Health *Health `json:"health"`
	// Reason says why the process is in its state, when that is not
	// obvious: what a starting process waits for ("waiting for db
	// (healthy)"), why it failed or crashed, why a stop needed SIGKILL;
	// "" otherwise.
	Reason string `json:"reason"`
	// Containment says what keeps the running process's descendants from
	// outliving it, as its runner reports it: "cgroup" (a cgroup of its
	// own), "subreaper" (the runner adopts what escapes its process
	// group), "process-group" (its process group only). When it does not
	// run, the last run's; "" before the first run or when not reported.
	Containment string `json:"containment"`
}

// Health is a process's health as its check sees it.
type Health struct {
	// Status is "checking" (running, no verdict yet), "healthy",
	// "unhealthy", or "unknown" (not running).
	Status string `json:"status"`
	// Output is the last check's output or error, shortened; "" before
	// the first check.
	Output string `json:"output"`
	// CheckedAt is when the last check ended; null before the first.
	CheckedAt *time.Time `json:"checked_at"`
}

// Health statuses of the API.
const (
	HealthChecking  = "checking"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
	HealthUnknown   = "unknown"
)

// Exit is how a run ended.
type Exit struct {
	// Code is the exit code; -1 when a signal ended the process or the
	// outcome is unknown.
	Code int `json:"code"`
	// Signal is the terminating signal's name ("SIGTERM"), "" if none.
	Signal string `json:"signal"`
	// RunnerDied says that the process's runner plugin died, and the
	// process with it: its code (-1) is unknown.
	RunnerDied bool `json:"runner_died"`
}

// ProcessFrom converts a supervisor snapshot to its API form.
func ProcessFrom(p supervisor.ProcessInfo) Process {
	out := Process{
		Name:     p.Name,
		Group:    p.Group,
		State:    string(p.State),
		PID:      p.PID,
		Runner:   p.Runner,
		Restarts: p.Restarts,
		Reason:   p.Reason,
	}
	if p.Health != nil {
		out.Health = healthFrom(p)
	}
	out.Containment = p.Containment
	if !p.StartedAt.IsZero() {
		t := p.StartedAt.UTC()
		out.StartedAt = &t
		out.UptimeSeconds = math.Round(p.Uptime.Seconds()*1000) / 1000
	}
	if p.LastExit != nil {
		out.LastExit = &Exit{Code: p.LastExit.Code, Signal: p.LastExit.Signal, RunnerDied: p.LastExit.RunnerDied}
		crashed := p.State == supervisor.StateCrashed || p.State == supervisor.StateBackoff
		if out.Reason == "" && crashed {
			// A plain crash: its exit is the reason.
			out.Reason = exitReason(p.LastExit)
		}
	}
	return out
}

// exitReason says how a run ended, as a reason: "exited with code 3",
// "killed by SIGSEGV".
func exitReason(e *supervisor.ExitStatus) string {
	switch {
	case e.Error != "":
		return e.Error
	case e.Signal != "":
		return "killed by " + e.Signal
	default:
		return fmt.Sprintf("exited with code %d", e.Code)
	}
}

// healthFrom is the API form of p's health: "checking" while a running
// process has no verdict yet.
func healthFrom(p supervisor.ProcessInfo) *Health {
	h := &Health{Status: string(p.Health.Status), Output: p.Health.Output}
	if p.Health.Status == supervisor.HealthUnknown {
		h.Status = HealthUnknown
		if p.State == supervisor.StateRunning || p.State == supervisor.StateStarting {
			h.Status, h.Output = HealthChecking, ""
		}
	}
	if !p.Health.CheckedAt.IsZero() {
		t := p.Health.CheckedAt.UTC()
		h.CheckedAt = &t
	}
	return h
}

// Status describes the running instance.
type Status struct {
	// PID is the process ID of `prox up`.
	PID int `json:"pid"`
	// Version is prox's version.
	Version string `json:"version"`
	// APIVersion is the control API's version (1).
	APIVersion int `json:"api_version"`
	// State is the supervisor's state: new, running, stopping or stopped.
	State string `json:"state"`
	// StartedAt is when the supervisor started.
	StartedAt time.Time `json:"started_at"`
	// Config is the configuration file's path.
	Config string `json:"config"`
	// Socket is the socket's absolute path.
	Socket string `json:"socket"`
	// Processes counts the processes.
	Processes int `json:"processes"`
	// DroppedEvents counts the events that slow subscribers lost.
	DroppedEvents uint64 `json:"dropped_events"`
	// LogFollowers counts the open log follow streams.
	LogFollowers int `json:"log_followers"`
}

// LogLine is one line of output as the API returns it.
type LogLine struct {
	// Time is when the line was read.
	Time time.Time `json:"time"`
	// Process is the process's name.
	Process string `json:"process"`
	// Stream is "stdout" or "stderr".
	Stream string `json:"stream"`
	// Line is the line without its newline. Invalid UTF-8 is replaced by
	// U+FFFD here; the exact bytes are then in LineBase64.
	Line string `json:"line"`
	// LineBase64 holds the line's exact bytes, base64 (standard
	// encoding), only when they are not valid UTF-8.
	LineBase64 string `json:"line_base64,omitempty"`
}

// Bytes returns the line's exact bytes.
func (l LogLine) Bytes() []byte {
	if l.LineBase64 != "" {
		if b, err := base64.StdEncoding.DecodeString(l.LineBase64); err == nil {
			return b
		}
	}
	return []byte(l.Line)
}

// Entry converts the line back to a log entry.
func (l LogLine) Entry() logs.LogEntry {
	e := logs.LogEntry{Timestamp: l.Time, Process: l.Process, Line: l.Bytes()}
	switch l.Stream {
	case "stdout":
		e.Stream = sdk.Stdout
	case "stderr":
		e.Stream = sdk.Stderr
	}
	return e
}

// LogLineFrom converts a log entry to its API form.
func LogLineFrom(e logs.LogEntry) LogLine {
	l := LogLine{Time: e.Timestamp, Process: e.Process, Stream: e.Stream.String(), Line: string(e.Line)}
	if !utf8.Valid(e.Line) {
		l.Line = replaceInvalid(e.Line)
		l.LineBase64 = base64.StdEncoding.EncodeToString(e.Line)
	}
	return l
}

// replaceInvalid returns b with every byte that is not part of valid UTF-8
// replaced by U+FFFD, as encoding/json does.
func replaceInvalid(b []byte) string {
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return string(out)
}

// FollowMessage is one message of a log follow stream: a line, or a
// notice that lines were dropped because the client read too slowly.
type FollowMessage struct {
	// Line is set for a line.
	Line *LogLine
	// Dropped, when not 0, is how many lines this stream has lost since
	// the previous notice.
	Dropped uint64
}

// Event is one change in the life of one process, as the events stream
// sends it: of its state, or of its health; or a change of a sink's
// state.
type Event struct {
	// Time is when the change happened.
	Time time.Time `json:"time"`
	// Type is "state" (From -> To), "health" (Health), "sink" (the
	// sink's From -> To) or "reload" (a step of a reload: Action).
	Type string `json:"type"`
	// Process is the process's name ("" for a sink event).
	Process string `json:"process"`
	// Sink is the sink's name, for a sink event.
	Sink string `json:"sink,omitempty"`
	// From and To are the states before and after a state change.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Queued and QueuedEvents are a sink's backlog at the change.
	Queued       int `json:"queued,omitempty"`
	QueuedEvents int `json:"queued_events,omitempty"`
	// Health is the new health status of a health change: healthy,
	// unhealthy or unknown.
	Health string `json:"health,omitempty"`
	// Restarts is the restart count after the change.
	Restarts int `json:"restarts"`
	// Reason explains the change when there is more to say.
	Reason string `json:"reason,omitempty"`
	// Action is what a "reload" event did to the process: "add",
	// "remove" or "restart"; "" for the start and end of a reload
	// (Process "").
	Action string `json:"action,omitempty"`
	// Exit is set when the change was caused by an exit.
	Exit *EventExit `json:"exit,omitempty"`
	// NextRestart is set when To is "backoff".
	NextRestart *time.Time `json:"next_restart,omitempty"`
}

// EventExit is the exit status carried by an event.
type EventExit struct {
	// Code is the exit code, -1 for a signal or an unknown outcome.
	Code int `json:"code"`
	// Signal is the terminating signal's name, "" if none.
	Signal string `json:"signal"`
	// Error is set when the outcome is unknown (the runner plugin died).
	Error string `json:"error,omitempty"`
}

// EventFrom converts a supervisor event to its API form.
func EventFrom(ev supervisor.SupervisorEvent) Event {
	out := Event{
		Time:     ev.Time,
		Type:     ev.Type,
		Process:  ev.Process,
		Health:   string(ev.Health),
		From:     string(ev.From),
		To:       string(ev.To),
		Restarts: ev.Restarts,
		Reason:   ev.Reason,
	}
	if out.Type == "" {
		out.Type = supervisor.EventState
	}
	if ev.Type == supervisor.EventHealth || ev.Type == supervisor.EventReload {
		out.From, out.To = "", ""
	}
	out.Action = ev.Action
	if ev.Exit != nil {
		out.Exit = &EventExit{Code: ev.Exit.Code, Signal: ev.Exit.Signal, Error: ev.Exit.Error}
	}
	if !ev.NextRestart.IsZero() {
		t := ev.NextRestart
		out.NextRestart = &t
	}
	return out
}

// SignalRequest is the body of POST /v1/processes/{name}/signal.
type SignalRequest struct {
	// Signal is a signal name ("SIGHUP", "HUP", "hup") or number ("1").
	Signal string `json:"signal"`
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}
