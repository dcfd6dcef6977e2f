package command

import (
	"fmt"
	"strings"

	"github.com/prox-dev/prox/supervisor/control"
)

// groupOf is the process block p is an instance of; an older prox that
// does not say is taken as one process per block.
func groupOf(p control.Process) string {
	if p.Group == "" {
		return p.Name
	}
	return p.Group
}

// selectProcesses returns the processes of ps that names designate, in
// the order of names: a process's own name, or the name of a process
// with replicas for all its instances. An unknown name is an error.
func selectProcesses(ps []control.Process, names []string) ([]control.Process, error) {
	var out []control.Process
	for _, n := range names {
		found := false
		for _, p := range ps {
			if p.Name == n {
				out = append(out, p)
				found = true
				break
			}
		}
		if found {
			continue
		}
		for _, p := range ps {
			if groupOf(p) == n {
				out = append(out, p)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown process %q", n)
		}
	}
	return out, nil
}

// psGroup is one row group of the ps table: a process, or the instances
// of a process with replicas.
type psGroup struct {
	name      string
	instances []control.Process
}

// groupProcesses gathers ps by group, in the order each group first
// appears.
func groupProcesses(ps []control.Process) []psGroup {
	var out []psGroup
	index := map[string]int{}
	for _, p := range ps {
		g := groupOf(p)
		i, ok := index[g]
		if !ok {
			i = len(out)
			index[g] = i
			out = append(out, psGroup{name: g})
		}
		out[i].instances = append(out[i].instances, p)
	}
	return out
}

// groupSummary is the STATE of a group's row: how many of its instances
// are in each state, running first ("3/3 running", "2/3 running, 1
// crashed").
func groupSummary(insts []control.Process) string {
	counts := map[string]int{}
	var order []string
	for _, p := range insts {
		if counts[p.State] == 0 {
			order = append(order, p.State)
		}
		counts[p.State]++
	}
	running := counts["running"]
	parts := []string{fmt.Sprintf("%d/%d running", running, len(insts))}
	for _, s := range order {
		if s != "running" {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	return strings.Join(parts, ", ")
}
