package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// EventReload is the type of the events of Apply: a process added,
// removed or restarted because its configuration changed (Reason says
// which), and the start and end of a reload (Process "").
const EventReload = "reload"

// Reload actions, the Reason of an EventReload of one process.
const (
	ActionAdd     = "add"
	ActionRemove  = "remove"
	ActionRestart = "restart"
)

// ErrStopping is returned by Apply while the supervisor stops or once
// it has stopped.
var ErrStopping = errors.New("the supervisor is stopping")

// Plan is how a new set of specs differs from the running one, by name:
// an instance of a process is a spec of its own, so a new count of
// instances is processes added or removed.
type Plan struct {
	// Add are the specs of new names, in the new order.
	Add []ProcessSpec
	// Remove names the processes that are gone, in the old order.
	Remove []string
	// Restart are the new specs of processes whose fingerprint changed.
	Restart []ProcessSpec
	// Unchanged names the processes left as they are.
	Unchanged []string
	// Order is every name of the new set, in its order.
	Order []string
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool {
	return len(p.Add) == 0 && len(p.Remove) == 0 && len(p.Restart) == 0
}

// DependencyError refuses a plan that removes a process another one
// still depends on.
type DependencyError struct {
	// Removed is the process the plan removes; Dependent the one that
	// depends on it.
	Removed, Dependent string
}

// Error implements error.
func (e *DependencyError) Error() string {
	return fmt.Sprintf("process %q cannot be removed: process %q depends on it", e.Removed, e.Dependent)
}

// Diff plans the change from the current specs to next, by name: a name
// only in next is added, a name only in current removed, a name in both
// restarted when its Fingerprint changed. A plan that removes a process
// a process of next depends on is refused (*DependencyError).
func Diff(current, next []ProcessSpec) (Plan, error) {
	var p Plan
	old := make(map[string]ProcessSpec, len(current))
	for _, s := range current {
		old[s.Name] = s
	}
	names := make(map[string]bool, len(next))
	for _, s := range next {
		if names[s.Name] {
			return Plan{}, fmt.Errorf("two processes are named %q", s.Name)
		}
		names[s.Name] = true
		p.Order = append(p.Order, s.Name)
		o, ok := old[s.Name]
		switch {
		case !ok:
			p.Add = append(p.Add, s)
		case o.Fingerprint != s.Fingerprint:
			p.Restart = append(p.Restart, s)
		default:
			p.Unchanged = append(p.Unchanged, s.Name)
		}
	}
	for _, s := range current {
		if !names[s.Name] {
			p.Remove = append(p.Remove, s.Name)
		}
	}
	for _, s := range next {
		for _, d := range s.DependsOn {
			if !names[d.Name] {
				if _, ok := old[d.Name]; ok {
					return Plan{}, &DependencyError{Removed: d.Name, Dependent: s.Name}
				}
				return Plan{}, fmt.Errorf("process %q depends on %q, which does not exist", s.Name, d.Name)
			}
		}
	}
	return p, nil
}

// Specs returns the spec of every process, in configuration order: what
// Diff compares a new configuration with.
func (s *Manager) Specs() []ProcessSpec {
	procs := s.list()
	out := make([]ProcessSpec, len(procs))
	for i, m := range procs {
		out[i] = m.spec
	}
	return out
}

// Apply carries a plan of Diff out on the running supervisor: the
// processes removed or restarted stop first, dependents before what they
// depend on, each level in parallel; then the removed ones leave the set,
// the restarted ones are replaced by their new spec, the new ones join it,
// and all of these start as Start starts processes (those with
// dependencies once their conditions hold). The processes left unchanged
// are not touched: same run, same PID. Each step is an EventReload. It
// returns once every process started without dependencies runs or failed
// to start (the start errors, joined). Applies run one at a time; one
// during a stop, or after, is refused with ErrStopping, and a stop during
// an apply ends it early.
func (s *Manager) Apply(ctx context.Context, plan Plan) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if err := s.checkRunning(); err != nil {
		return err
	}
	if err := s.checkPlan(plan); err != nil {
		return err
	}
	s.manual.Store(true)
	if plan.Empty() {
		// Nothing to stop or start; the order may still be new.
		s.setMu.Lock()
		for i, name := range plan.Order {
			s.procs[i] = s.byName[name]
		}
		s.setMu.Unlock()
		return nil
	}
	s.publishReload("", "", "reload started: "+plan.String())

	// Stop what goes or changes, dependents first.
	leaving := map[string]bool{}
	for _, name := range plan.Remove {
		leaving[name] = true
	}
	for _, spec := range plan.Restart {
		leaving[spec.Name] = true
	}
	s.setMu.RLock()
	lv := levels(s.procs, s.byName)
	s.setMu.RUnlock()
	var stopErrs []error
	for i := len(lv) - 1; i >= 0; i-- {
		var level []*managedProcess
		for _, m := range lv[i] {
			if leaving[m.spec.Name] {
				level = append(level, m)
			}
		}
		if len(level) > 0 {
			stopErrs = append(stopErrs, s.stopLevel(ctx, level))
		}
	}
	if err := errors.Join(stopErrs...); err != nil {
		return fmt.Errorf("reload: stop: %w", err)
	}

	// Change the set, unless a stop began meanwhile.
	starting := make([]*managedProcess, 0, len(plan.Add)+len(plan.Restart))
	var ended []*managedProcess
	s.mu.Lock()
	if s.state != "running" {
		s.mu.Unlock()
		return ErrStopping
	}
	s.setMu.Lock()
	for _, name := range plan.Remove {
		ended = append(ended, s.byName[name])
		delete(s.byName, name)
	}
	for _, spec := range plan.Restart {
		ended = append(ended, s.byName[spec.Name])
		m := s.newProcess(spec)
		s.byName[spec.Name] = m
		starting = append(starting, m)
	}
	for _, spec := range plan.Add {
		m := s.newProcess(spec)
		s.byName[spec.Name] = m
		starting = append(starting, m)
	}
	s.procs = s.procs[:0]
	for _, name := range plan.Order {
		s.procs = append(s.procs, s.byName[name])
	}
	for _, m := range starting {
		m.begin(s.loopCtx)
	}
	s.setMu.Unlock()
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, m := range ended {
		wg.Go(m.end)
	}
	wg.Wait()
	for _, name := range plan.Remove {
		s.publishReload(name, ActionRemove, "removed from the configuration")
	}
	for _, spec := range plan.Restart {
		s.publishReload(spec.Name, ActionRestart, "its configuration changed: restarting")
	}
	for _, spec := range plan.Add {
		s.publishReload(spec.Name, ActionAdd, "added to the configuration")
	}
	s.notify()

	// Start the new and the changed ones, in dependency order.
	err := s.startAll(ctx, starting)
	if err != nil {
		s.publishReload("", "", "reload done, with errors: "+err.Error())
		return fmt.Errorf("reload: %w", err)
	}
	s.publishReload("", "", "reload done")
	return nil
}

// checkRunning refuses a change of the set unless the supervisor runs.
func (s *Manager) checkRunning() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case "running":
		return nil
	case "new":
		return ErrNotRunning
	}
	return ErrStopping
}

// checkPlan refuses a plan that does not fit the current set (made by Diff
// from other specs, or stale).
func (s *Manager) checkPlan(plan Plan) error {
	s.setMu.RLock()
	defer s.setMu.RUnlock()
	for _, name := range plan.Remove {
		if _, ok := s.byName[name]; !ok {
			return fmt.Errorf("reload: remove: %w %q", ErrUnknownProcess, name)
		}
	}
	for _, spec := range plan.Restart {
		if _, ok := s.byName[spec.Name]; !ok {
			return fmt.Errorf("reload: restart: %w %q", ErrUnknownProcess, spec.Name)
		}
	}
	for _, spec := range plan.Add {
		if _, ok := s.byName[spec.Name]; ok {
			return fmt.Errorf("reload: add: process %q exists already", spec.Name)
		}
	}
	kept := map[string]bool{}
	for _, name := range plan.Order {
		_, exists := s.byName[name]
		added := slices.ContainsFunc(plan.Add, func(spec ProcessSpec) bool { return spec.Name == name })
		if kept[name] || exists == added || slices.Contains(plan.Remove, name) {
			return fmt.Errorf("reload: the plan's order does not fit process %q", name)
		}
		kept[name] = true
	}
	for _, m := range s.procs {
		if !kept[m.spec.Name] && !slices.Contains(plan.Remove, m.spec.Name) {
			return fmt.Errorf("reload: the plan says nothing of process %q", m.spec.Name)
		}
	}
	return nil
}

// publishReload publishes an EventReload.
func (s *Manager) publishReload(process, action, reason string) {
	ev := SupervisorEvent{Time: time.Now(), Type: EventReload, Process: process, Reason: reason, Action: action}
	if m, ok := s.find(process); ok {
		info := m.info()
		ev.From, ev.To, ev.Restarts = info.State, info.State, info.Restarts
	}
	s.bus.publish(ev)
}

// String describes the plan in one line: "add 1 (worker), restart 1
// (web), remove 0, unchanged 2".
func (p Plan) String() string {
	names := func(specs []ProcessSpec) []string {
		out := make([]string, len(specs))
		for i, s := range specs {
			out[i] = s.Name
		}
		return out
	}
	part := func(verb string, list []string) string {
		if len(list) == 0 {
			return verb + " 0"
		}
		return fmt.Sprintf("%s %d (%s)", verb, len(list), strings.Join(list, ", "))
	}
	return strings.Join([]string{
		part("add", names(p.Add)), part("restart", names(p.Restart)), part("remove", p.Remove),
		fmt.Sprintf("unchanged %d", len(p.Unchanged)),
	}, ", ")
}
