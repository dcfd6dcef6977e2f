package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor"
)

// maxBodySize bounds request bodies.
const maxBodySize = 64 << 10

// handleProcesses answers GET /v1/processes: every process, in
// configuration order.
func (s *Server) handleProcesses(w http.ResponseWriter, _ *http.Request) {
	infos := s.opts.Supervisor.Processes()
	out := make([]Process, len(infos))
	for i, p := range infos {
		out[i] = ProcessFrom(p)
	}
	writeJSON(w, http.StatusOK, out)
}

// handleProcess answers GET /v1/processes/{name}.
func (s *Server) handleProcess(w http.ResponseWriter, r *http.Request) {
	info, err := s.opts.Supervisor.Process(r.PathValue("name"))
	if err != nil {
		writeError(w, supervisorError(err, "process"))
		return
	}
	writeJSON(w, http.StatusOK, ProcessFrom(info))
}

// act runs action on the named process.
func (s *Server) act(r *http.Request, action, name string) error {
	sup := s.opts.Supervisor
	switch action {
	case "start":
		return sup.StartProcess(r.Context(), name)
	case "stop":
		return sup.StopProcess(r.Context(), name)
	default:
		return sup.RestartProcess(r.Context(), name)
	}
}

// handleAction answers POST /v1/processes/{name}/{action}: it returns
// once the action is done, with the process as it is then.
func (s *Server) handleAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if err := s.act(r, action, name); err != nil {
			writeError(w, supervisorError(err, action+" "+strconv.Quote(name)))
			return
		}
		s.logger.Info("process "+action+" requested through the API", "process", name)
		s.handleProcess(w, r)
	}
}

// handleActionAll answers POST /v1/{action}: the action on every process
// at once; it returns every process once all are done.
func (s *Server) handleActionAll(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		infos := s.opts.Supervisor.Processes()
		errs := make([]error, len(infos))
		var wg sync.WaitGroup
		for i, p := range infos {
			wg.Go(func() {
				if err := s.act(r, action, p.Name); err != nil {
					errs[i] = fmt.Errorf("%s %q: %w", action, p.Name, err)
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			writeError(w, supervisorError(err, action+" every process"))
			return
		}
		s.logger.Info(action+" of every process requested through the API", "processes", len(infos))
		s.handleProcesses(w, r)
	}
}

// handleSignal answers POST /v1/processes/{name}/signal with a
// SignalRequest body.
func (s *Server) handleSignal(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	info, err := s.opts.Supervisor.Process(name)
	if err != nil {
		writeError(w, supervisorError(err, "signal"))
		return
	}
	sig, apiErr := decodeSignalRequest(r.Body)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	if s.opts.Signaller == nil {
		writeError(w, apiErrorf(http.StatusNotImplemented, CodeNotImplemented, "this prox cannot signal processes"))
		return
	}
	if info.State != supervisor.StateRunning && info.State != supervisor.StateStopping {
		writeError(w, apiErrorf(http.StatusConflict, CodeNotRunning, "process %q is not running (it is %s)", name, info.State))
		return
	}
	if err := s.opts.Signaller.SignalProcess(r.Context(), name, sig); err != nil {
		writeError(w, supervisorError(err, "signal "+strconv.Quote(name)))
		return
	}
	sigName, _ := sdk.SignalName(sig)
	s.logger.Info("signal sent through the API", "process", name, "signal", sigName)
	s.handleProcess(w, r)
}

// decodeSignalRequest reads a SignalRequest body and its signal.
func decodeSignalRequest(body io.Reader) (syscall.Signal, *APIError) {
	var req SignalRequest
	b, err := io.ReadAll(io.LimitReader(body, maxBodySize))
	if err == nil {
		err = json.Unmarshal(b, &req)
	}
	if err != nil {
		return 0, apiErrorf(http.StatusBadRequest, CodeInvalidArgument, `the body must be {"signal": "NAME"}: %v`, err)
	}
	sig, err := parseSignal(req.Signal)
	if err != nil {
		return 0, apiErrorf(http.StatusBadRequest, CodeInvalidSignal, "%v", err)
	}
	return sig, nil
}

// parseSignal accepts a signal name ("SIGHUP", "HUP", "hup") or number.
func parseSignal(s string) (syscall.Signal, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("no signal given")
	}
	if n, err := strconv.Atoi(s); err == nil {
		sig := syscall.Signal(n)
		if _, err := sdk.SignalName(sig); err != nil || n <= 0 {
			return 0, fmt.Errorf("unknown signal %q", s)
		}
		return sig, nil
	}
	return sdk.ParseSignal(s)
}
