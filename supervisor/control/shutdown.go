package control

import (
	"context"
	"net/http"
	"strconv"
)

// ShutdownReport is the answer of POST /v1/shutdown: how every process
// ended, once all have.
type ShutdownReport struct {
	// PID is the process ID of the prox that is shutting down; it exits
	// once its sinks are drained and its plugins have shut down.
	PID int `json:"pid"`
	// Processes is every process once it has ended, in configuration
	// order: its final state, its last exit and the reason (e.g. a stop
	// that needed SIGKILL).
	Processes []Process `json:"processes"`
	// Sinks is every sink once prox has drained them at shutdown, each
	// with what it could not deliver within its drain_timeout
	// (Undelivered, UndeliveredEvents): present when the request asked to
	// wait for the drain (?drained=true, Client.ShutdownDrained) and this
	// prox can, absent otherwise.
	Sinks []Sink `json:"sinks,omitempty"`
}

// handleShutdown answers POST /v1/shutdown: it asks prox to stop as
// Ctrl-C does (Options.Shutdown) and answers, once every process has
// ended, with how each ended. Asking again while prox stops waits for the
// same stop. With ?drained=true it answers once prox has also drained its
// sinks (Options.Drained), with every sink's final counts.
func (s *Server) handleShutdown(w http.ResponseWriter, r *http.Request) {
	if s.opts.Shutdown == nil {
		writeError(w, apiErrorf(http.StatusNotImplemented, CodeNotImplemented, "this prox cannot be shut down through its API"))
		return
	}
	drained := false
	if v := r.URL.Query().Get("drained"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, apiErrorf(http.StatusBadRequest, CodeInvalidArgument, "invalid drained %q: want true or false", v))
			return
		}
		drained = b
	}
	if err := s.opts.Shutdown(r.Context()); err != nil {
		writeError(w, supervisorError(err, "shutdown"))
		return
	}
	procs := s.opts.Supervisor.Processes()
	report := ShutdownReport{PID: s.pid, Processes: make([]Process, len(procs))}
	for i, p := range procs {
		report.Processes[i] = ProcessFrom(p)
	}
	if drained && s.opts.Drained != nil && s.opts.Logs != nil {
		if err := s.opts.Drained(r.Context()); err != nil {
			writeError(w, supervisorError(err, "shutdown"))
			return
		}
		all := s.opts.Logs.AllSinkStats()
		report.Sinks = make([]Sink, len(all))
		for i, st := range all {
			report.Sinks[i] = SinkFrom(st)
		}
	}
	writeJSON(w, http.StatusOK, report)
}

// Shutdown asks the prox on the socket to stop every process gracefully,
// as Ctrl-C does, and returns once all have ended, with how each ended.
// prox itself exits a little later, once its sinks are drained and its
// plugins have shut down (the report's PID tells which process to wait
// for). Cancelling ctx stops waiting, not the shutdown.
func (c *Client) Shutdown(ctx context.Context) (*ShutdownReport, error) {
	var rep ShutdownReport
	return &rep, c.do(ctx, http.MethodPost, "/v1/shutdown", nil, &rep)
}

// ShutdownDrained is Shutdown, but returns once prox has also drained its
// sinks, with every sink's final counts in the report's Sinks (none from a
// prox that cannot say). prox exits a little later, once its plugins have
// shut down.
func (c *Client) ShutdownDrained(ctx context.Context) (*ShutdownReport, error) {
	var rep ShutdownReport
	return &rep, c.do(ctx, http.MethodPost, "/v1/shutdown?drained=true", nil, &rep)
}
