package control

import (
	"context"
	"net/http"
	"time"

	"github.com/prox-dev/prox/logs"
)

// EventSink is the Type of an event about a sink.
const EventSink = "sink"

// Sink is one sink as GET /v1/sinks returns it, and as `prox sinks -json`
// prints it: its state and backlog. Its JSON keys are a contract: exactly
// these.
type Sink struct {
	// Name is the sink's "KIND.NAME".
	Name string `json:"name"`
	// State is ok, failing (its plugin answers with errors; retried),
	// relaunching (its plugin died; being relaunched) or closed.
	State string `json:"state"`
	// Since is when the sink became ok or closed, or when its failures
	// began.
	Since time.Time `json:"since"`
	// LastError is the last failure while failing or relaunching, or why
	// it was given up on once closed; "" otherwise.
	LastError string `json:"last_error"`
	// Queued and QueuedEvents are the backlog: entries and events waiting
	// for the sink, the batch in flight included.
	Queued       int `json:"queued"`
	QueuedEvents int `json:"queued_events"`
	// Sent and SentEvents count what the sink acknowledged.
	Sent       uint64 `json:"sent"`
	SentEvents uint64 `json:"sent_events"`
	// Batches counts the acknowledged batches.
	Batches uint64 `json:"batches"`
	// Failures counts the failed writes and opens.
	Failures uint64 `json:"failures"`
	// Relaunches counts the relaunches of the sink's plugin after it died.
	Relaunches uint64 `json:"relaunches"`
	// Dropped and DroppedEvents count what overflow = "drop_oldest"
	// dropped.
	Dropped       uint64 `json:"dropped"`
	DroppedEvents uint64 `json:"dropped_events"`
	// Undelivered and UndeliveredEvents count what was given up on while
	// prox stopped.
	Undelivered       uint64 `json:"undelivered"`
	UndeliveredEvents uint64 `json:"undelivered_events"`
}

// SinkFrom converts a log manager snapshot to its API form.
func SinkFrom(s logs.SinkStats) Sink {
	return Sink{
		Name: s.Name, State: string(s.State), Since: s.Since.UTC(), LastError: s.LastError,
		Queued: s.Queued, QueuedEvents: s.QueuedEvents,
		Sent: s.Sent, SentEvents: s.SentEvents, Batches: s.Batches,
		Failures: s.Failures, Relaunches: s.Relaunches,
		Dropped: s.Dropped, DroppedEvents: s.DroppedEvents,
		Undelivered: s.Undelivered, UndeliveredEvents: s.UndeliveredEvents,
	}
}

// EventFromSink converts a change of a sink's state to its API form: an
// event of type "sink".
func EventFromSink(ev logs.SinkEvent) Event {
	return Event{
		Time: ev.Time, Type: EventSink, Sink: ev.Sink,
		From: string(ev.From), To: string(ev.To), Reason: ev.Error,
		Queued: ev.Queued, QueuedEvents: ev.QueuedEvents,
	}
}

// handleSinks answers GET /v1/sinks: every sink, by name.
func (s *Server) handleSinks(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Logs == nil {
		writeError(w, apiErrorf(http.StatusServiceUnavailable, CodeUnavailable, "this prox keeps no logs"))
		return
	}
	all := s.opts.Logs.AllSinkStats()
	out := make([]Sink, len(all))
	for i, st := range all {
		out[i] = SinkFrom(st)
	}
	writeJSON(w, http.StatusOK, out)
}

// Sinks returns every sink of the running prox, by name.
func (c *Client) Sinks(ctx context.Context) ([]Sink, error) {
	var out []Sink
	return out, c.do(ctx, http.MethodGet, "/v1/sinks", nil, &out)
}
