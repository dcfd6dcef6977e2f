package agent

import (
	"github.com/prox-dev/prox/supervisor"
	"github.com/prox-dev/prox/supervisor/config"
)

// dependencies is p's depends_on as the supervisor takes it: a dependency
// on a process with replicas is one on each of its instances, with the
// same condition, so it holds once it holds for every instance.
func dependencies(cfg *config.Config, p *config.Process) []supervisor.Dependency {
	var out []supervisor.Dependency
	for _, d := range p.DependsOn {
		insts := cfg.InstancesOf(d.Name)
		if len(insts) == 0 {
			out = append(out, supervisor.Dependency{Name: d.Name, Condition: d.Condition})
			continue
		}
		for _, inst := range insts {
			out = append(out, supervisor.Dependency{Name: inst.Name, Condition: d.Condition})
		}
	}
	return out
}
