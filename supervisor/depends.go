package supervisor

import (
	"context"
	"fmt"
	"github.com/prox-dev/prox/supervisor/policy"
	"strings"
)

// depsVerdict evaluates a process's dependencies against the others'
// snapshots: ready when all hold, failed (with the reason) when one can no
// longer hold, else waiting (with what it waits for).
func (s *Manager) depsVerdict(spec ProcessSpec) (ready bool, failed, waiting string) {
	var pending []string
	for _, d := range spec.DependsOn {
		dep, ok := s.find(d.Name)
		if !ok {
			return false, fmt.Sprintf("dependency %q does not exist", d.Name), ""
		}
		info := dep.info()
		ok, fail := conditionHolds(d.Condition, info)
		if fail != "" {
			return false, fmt.Sprintf("dependency %q %s", d.Name, fail), ""
		}
		if !ok {
			pending = append(pending, fmt.Sprintf("%s (%s)", d.Name, d.Condition))
		}
	}
	if len(pending) == 0 {
		return true, "", ""
	}
	return false, "", "waiting for " + strings.Join(pending, ", ")
}

// conditionHolds says whether info satisfies the condition, or why it
// never will.
func conditionHolds(cond string, info ProcessInfo) (bool, string) {
	if info.State == StateFailed {
		return false, "failed: " + info.Reason
	}
	exited := info.LastExit != nil && (info.State == StateStopped || info.State == StateCrashed)
	switch cond {
	case policy.ConditionHealthy:
		return info.State == StateRunning && info.Health != nil && info.Health.Status == HealthHealthy, ""
	case policy.ConditionCompleted:
		return exited, ""
	case policy.ConditionCompletedSuccessfully:
		if exited && info.State == StateCrashed {
			return false, fmt.Sprintf("did not complete successfully (%s)", describeExit(info.LastExit))
		}
		return exited && info.State == StateStopped, ""
	default: // started
		return info.State == StateRunning, ""
	}
}

func describeExit(e *ExitStatus) string {
	switch {
	case e.Error != "":
		return e.Error
	case e.Signal != "":
		return "killed by " + e.Signal
	default:
		return fmt.Sprintf("exit code %d", e.Code)
	}
}

// gate waits until m's dependencies hold, then starts it; or fails it
// when one of them can no longer hold. It gives up when m stops waiting
// (stopped by a user, or the supervisor stops).
func (s *Manager) gate(ctx context.Context, m *managedProcess) {
	last := ""
	for {
		changed := s.changes()
		info := m.info()
		if info.State != StateStarting {
			return
		}
		ready, failed, waiting := s.depsVerdict(m.spec)
		switch {
		case ready:
			if err := s.sendWith(ctx, m, request{op: opReady}); err != nil {
				m.logger.Debug("start after dependencies", "error", err)
			}
			return
		case failed != "":
			m.logger.Error("not started", "reason", failed)
			_ = s.sendWith(ctx, m, request{op: opFail, reason: "not started: " + failed})
			return
		case waiting != last:
			last = waiting
			_ = s.sendWith(ctx, m, request{op: opWait, reason: waiting})
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// levels orders processes by dependency depth: level 0 depends on
// nothing, level n on something of level n-1 at most. Stops go from the
// highest level down.
func levels(procs []*managedProcess, byName map[string]*managedProcess) [][]*managedProcess {
	depth := map[string]int{}
	var visit func(m *managedProcess, seen map[string]bool) int
	visit = func(m *managedProcess, seen map[string]bool) int {
		if d, ok := depth[m.spec.Name]; ok {
			return d
		}
		if seen[m.spec.Name] {
			return 0 // a cycle: the config refuses them; do not loop
		}
		seen[m.spec.Name] = true
		d := 0
		for _, dep := range m.spec.DependsOn {
			if dm, ok := byName[dep.Name]; ok {
				d = max(d, visit(dm, seen)+1)
			}
		}
		depth[m.spec.Name] = d
		return d
	}
	maxDepth := 0
	for _, m := range procs {
		maxDepth = max(maxDepth, visit(m, map[string]bool{}))
	}
	out := make([][]*managedProcess, maxDepth+1)
	for _, m := range procs {
		out[depth[m.spec.Name]] = append(out[depth[m.spec.Name]], m)
	}
	return out
}
