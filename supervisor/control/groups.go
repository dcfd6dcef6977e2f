package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prox-dev/prox/supervisor"
)

// A group is the process block a process is an instance of: the instances
// of a process with replicas share it, and a process of one instance is
// its own group. The group routes act on every instance of one.

// groupOf is p's group; a supervisor that sets none makes every process
// its own.
func groupOf(p supervisor.ProcessInfo) string {
	if p.Group == "" {
		return p.Name
	}
	return p.Group
}

// instances returns the instances of the group named name, in
// configuration order; none when there is no such group.
func (s *Server) instances(name string) []supervisor.ProcessInfo {
	var out []supervisor.ProcessInfo
	for _, p := range s.opts.Supervisor.Processes() {
		if groupOf(p) == name {
			out = append(out, p)
		}
	}
	return out
}

// resolve returns the processes name designates: the process of that
// name, else every instance of the group of that name.
func (s *Server) resolve(name string) ([]string, *APIError) {
	if _, err := s.opts.Supervisor.Process(name); err == nil {
		return []string{name}, nil
	}
	var out []string
	for _, p := range s.instances(name) {
		out = append(out, p.Name)
	}
	if len(out) == 0 {
		return nil, unknownProcess(name)
	}
	return out, nil
}

// readyRecheck is how often a rolling restart looks at an instance again
// without an event: events are offered, never waited for, so one can be
// lost.
const readyRecheck = time.Second

// handleGroupAction answers POST /v1/groups/{name}/{action}: the action
// on every instance of the group at once, or, for restart with
// ?rolling=true, one at a time, each once the previous one is ready
// (healthy where it has a health check, running otherwise). It returns the
// instances once done.
func (s *Server) handleGroupAction(w http.ResponseWriter, r *http.Request) {
	name, action := r.PathValue("name"), r.PathValue("action")
	switch action {
	case "start", "stop", "restart":
	default:
		writeError(w, noRoute(r))
		return
	}
	rolling := false
	if v := r.URL.Query().Get("rolling"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil || (b && action != "restart") {
			writeError(w, apiErrorf(http.StatusBadRequest, CodeInvalidArgument, "invalid rolling %q: want true or false, with restart only", v))
			return
		}
		rolling = b
	}
	insts := s.instances(name)
	if len(insts) == 0 {
		writeError(w, unknownProcess(name))
		return
	}
	what := action + " " + strconv.Quote(name)
	var err error
	if rolling {
		what = "rolling " + what
		err = s.rollingRestart(r.Context(), insts)
	} else {
		errs := make([]error, len(insts))
		var wg sync.WaitGroup
		for i, p := range insts {
			wg.Go(func() {
				if err := s.act(r, action, p.Name); err != nil {
					errs[i] = fmt.Errorf("%s %q: %w", action, p.Name, err)
				}
			})
		}
		wg.Wait()
		err = errors.Join(errs...)
	}
	if err != nil {
		writeError(w, supervisorError(err, what))
		return
	}
	s.logger.Info(what+" requested through the API", "instances", len(insts))
	out := make([]Process, 0, len(insts))
	for _, p := range s.instances(name) {
		out = append(out, ProcessFrom(p))
	}
	writeJSON(w, http.StatusOK, out)
}

// rollingRestart restarts insts one at a time: each once the previous
// one is ready. An instance that does not get there (it crashed, failed
// or was stopped meanwhile) ends the roll, and the instances after it
// are not restarted.
func (s *Server) rollingRestart(ctx context.Context, insts []supervisor.ProcessInfo) error {
	sup := s.opts.Supervisor
	events := sup.Subscribe()
	defer sup.Unsubscribe(events)
	for _, p := range insts {
		if err := sup.RestartProcess(ctx, p.Name); err != nil {
			return fmt.Errorf("restart %q: %w", p.Name, err)
		}
		if err := s.waitReady(ctx, p.Name, events); err != nil {
			return err
		}
	}
	return nil
}

// waitReady waits until the named process is ready: running, and healthy
// when it has a health check.
func (s *Server) waitReady(ctx context.Context, name string, events <-chan supervisor.SupervisorEvent) error {
	tick := time.NewTicker(readyRecheck)
	defer tick.Stop()
	for {
		info, err := s.opts.Supervisor.Process(name)
		if err != nil {
			return err
		}
		switch info.State {
		case supervisor.StateRunning:
			if info.Health == nil || info.Health.Status == supervisor.HealthHealthy {
				return nil
			}
		case supervisor.StateStarting, supervisor.StateStopping:
		default:
			why := ""
			if info.Reason != "" {
				why = ": " + info.Reason
			}
			return fmt.Errorf("%q did not become ready, it is %s%s; the instances after it were not restarted", name, info.State, why)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-events:
		case <-tick.C:
		}
	}
}
