package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/prox-dev/prox/supervisor"
)

// EventReload is the type of the events of a reload.
const EventReload = supervisor.EventReload

// Error codes of a reload.
const (
	// CodeInvalidConfig: the configuration has errors; nothing changed.
	// The message holds the diagnostics, with file and line (422).
	CodeInvalidConfig = "invalid_config"
	// CodeRefused: the reload was refused (it removes a process another
	// one depends on, or prox is stopping); nothing changed (409).
	CodeRefused = "refused"
)

// Reloader reads the configuration again and applies the difference
// (agent.Agent does). A refusal is best an *APIError with CodeRefused or
// CodeInvalidConfig; any other error answers 500.
type Reloader interface {
	Reload(ctx context.Context, dryRun bool) (ReloadResult, error)
	// Scale runs counts[name] instances of each named process, the
	// configuration otherwise the one that runs (POST /v1/scale).
	Scale(ctx context.Context, counts map[string]int, dryRun bool) (ReloadResult, error)
}

// ScaleRequest is the body of POST /v1/scale.
type ScaleRequest struct {
	// Counts maps process names to their new count of instances (1 to
	// 1000).
	Counts map[string]int `json:"counts"`
	// DryRun plans without applying.
	DryRun bool `json:"dry_run"`
}

// ReloadRequest is the body of POST /v1/reload (an empty body is
// {"dry_run": false}).
type ReloadRequest struct {
	// DryRun plans the reload without applying it.
	DryRun bool `json:"dry_run"`
}

// ReloadResult is the answer of POST /v1/reload: the plan, by process
// name, and what was done.
type ReloadResult struct {
	// Applied is false for a dry run.
	Applied bool `json:"applied"`
	// Add, Restart and Remove name the processes added, restarted (their
	// configuration changed) and removed; Unchanged those left running.
	Add       []string `json:"add"`
	Restart   []string `json:"restart"`
	Remove    []string `json:"remove"`
	Unchanged []string `json:"unchanged"`
	// Runners and Sinks are the plugins launched, relaunched (their
	// block changed) and shut down.
	Runners PluginChanges `json:"runners"`
	Sinks   PluginChanges `json:"sinks"`
	// StartError is set when the plan was applied but some processes did
	// not start (their start errors).
	StartError string `json:"start_error,omitempty"`
}

// PluginChanges are the plugins of one kind a reload launches and shuts
// down, by "kind" or "kind.name".
type PluginChanges struct {
	Launched   []string `json:"launched"`
	Relaunched []string `json:"relaunched"`
	Closed     []string `json:"closed"`
}

// decodeStrict decodes the JSON object b into v, refusing a member v does
// not have ("unknown field" naming it) and anything after the object: a
// {"dryRun": true} meant to plan a reload must not apply it.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if err := dec.Decode(new(json.RawMessage)); !errors.Is(err, io.EOF) {
		return errors.New("invalid data after the JSON object")
	}
	return nil
}

// handleReload answers POST /v1/reload.
func (s *Server) handleReload(w http.ResponseWriter, r *http.Request) {
	if s.opts.Reloader == nil {
		writeError(w, apiErrorf(http.StatusNotImplemented, CodeNotImplemented, "this prox cannot reload its configuration"))
		return
	}
	var req ReloadRequest
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodySize))
	if err == nil && len(b) > 0 {
		err = decodeStrict(b, &req)
	}
	if err != nil {
		writeError(w, apiErrorf(http.StatusBadRequest, CodeInvalidArgument, `the body must be {"dry_run": false} or empty: %v`, err))
		return
	}
	res, err := s.opts.Reloader.Reload(r.Context(), req.DryRun)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			writeError(w, ae)
			return
		}
		writeError(w, apiErrorf(http.StatusInternalServerError, CodeActionFailed, "reload: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// handleScale answers POST /v1/scale.
func (s *Server) handleScale(w http.ResponseWriter, r *http.Request) {
	if s.opts.Reloader == nil {
		writeError(w, apiErrorf(http.StatusNotImplemented, CodeNotImplemented, "this prox cannot scale its processes"))
		return
	}
	var req ScaleRequest
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodySize))
	if err == nil {
		err = decodeStrict(b, &req)
	}
	if err == nil && len(req.Counts) == 0 {
		err = errors.New("no process named")
	}
	if err != nil {
		writeError(w, apiErrorf(http.StatusBadRequest, CodeInvalidArgument, `the body must be {"counts": {"NAME": N}}: %v`, err))
		return
	}
	for name, n := range req.Counts {
		if n < 1 {
			writeError(w, apiErrorf(http.StatusBadRequest, CodeInvalidArgument, "scale %s=%d: a count is at least 1 (prox stop %s stops every instance)", name, n, name))
			return
		}
	}
	res, err := s.opts.Reloader.Scale(r.Context(), req.Counts, req.DryRun)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			writeError(w, ae)
			return
		}
		writeError(w, apiErrorf(http.StatusInternalServerError, CodeActionFailed, "scale: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Scale asks the running prox to run counts[name] instances of each named
// process (only to plan it, with dryRun).
func (c *Client) Scale(ctx context.Context, counts map[string]int, dryRun bool) (*ReloadResult, error) {
	body, err := json.Marshal(ScaleRequest{Counts: counts, DryRun: dryRun})
	if err != nil {
		return nil, err
	}
	var res ReloadResult
	if err := c.do(ctx, http.MethodPost, "/v1/scale", body, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Reload asks the running prox to read its configuration again and apply
// the difference (only plan it, with dryRun). An invalid configuration is
// an *APIError with CodeInvalidConfig whose message is the diagnostics.
func (c *Client) Reload(ctx context.Context, dryRun bool) (*ReloadResult, error) {
	body, err := json.Marshal(ReloadRequest{DryRun: dryRun})
	if err != nil {
		return nil, err
	}
	var res ReloadResult
	if err := c.do(ctx, http.MethodPost, "/v1/reload", body, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
