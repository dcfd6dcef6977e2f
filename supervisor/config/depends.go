package config

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/prox-dev/prox/supervisor/policy"
)

// Dependency is one entry of a process's depends_on.
type Dependency struct {
	// Name is the process depended on.
	Name string
	// Condition is one of the Condition constants; default policy.ConditionStarted.
	Condition string
	// Range is where the dependency is written.
	Range hcl.Range
}

var dependsBlockSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "condition"}}}

// decodeDependsAttr decodes `depends_on = ["a", "b"]`.
func (d *decoder) decodeDependsAttr(p *Process, attr *hcl.Attribute) hcl.Diagnostics {
	names, ok, diags := evalStringList(attr.Expr, d.ctx, "depends_on")
	if !ok {
		return diags
	}
	elems := tupleElements(attr.Expr)
	for i, n := range names {
		rng := attr.Expr.Range()
		if len(elems) == len(names) {
			rng = elems[i].Range()
		}
		p.DependsOn = append(p.DependsOn, Dependency{Name: n, Condition: policy.ConditionStarted, Range: rng})
	}
	return diags
}

// decodeDependsBlock decodes `depends_on "db" { condition = "healthy" }`.
func (d *decoder) decodeDependsBlock(p *Process, b *hcl.Block) hcl.Diagnostics {
	dep := Dependency{Name: b.Labels[0], Condition: policy.ConditionStarted, Range: b.LabelRanges[0]}
	c, diags := b.Body.Content(dependsBlockSchema)
	if attr := c.Attributes["condition"]; attr != nil {
		s, ok, dd := evalString(attr.Expr, d.ctx, "condition")
		diags = append(diags, dd...)
		if ok {
			switch s {
			case policy.ConditionStarted, policy.ConditionHealthy, policy.ConditionCompleted, policy.ConditionCompletedSuccessfully:
				dep.Condition = s
			default:
				diags = append(diags, errorAt(attr.Expr.Range(), "Invalid condition",
					fmt.Sprintf("The condition must be %q, %q, %q or %q; %q is not.",
						policy.ConditionStarted, policy.ConditionHealthy, policy.ConditionCompleted, policy.ConditionCompletedSuccessfully, s)))
			}
		}
	}
	p.DependsOn = append(p.DependsOn, dep)
	return diags
}

// validateDependencies checks names, self-references, duplicate entries,
// healthy conditions without a health block, and cycles.
func validateDependencies(cfg *Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	byName := map[string]*Process{}
	for _, p := range cfg.Processes {
		if _, ok := byName[p.Name]; !ok {
			byName[p.Name] = p
		}
	}
	valid := map[string][]string{}
	for _, p := range cfg.Processes {
		seen := map[string]bool{}
		for _, dep := range p.DependsOn {
			target, ok := byName[dep.Name]
			switch {
			case dep.Name == p.Name:
				diags = append(diags, errorAt(dep.Range, "Process depends on itself",
					fmt.Sprintf("Process %q cannot depend on itself: remove %q from its depends_on.", p.Name, p.Name)))
				continue
			case !ok:
				msg := fmt.Sprintf("Process %q depends on %q, but there is no process %q.", p.Name, dep.Name, dep.Name)
				others := slices.DeleteFunc(keys(byName), func(n string) bool { return n == p.Name })
				if s := Suggest(dep.Name, others); s != "" {
					msg += fmt.Sprintf(" Did you mean %q?", s)
				} else {
					msg += " " + otherProcesses(others)
				}
				diags = append(diags, errorAt(dep.Range, "Unknown dependency", msg))
				continue
			case seen[dep.Name]:
				diags = append(diags, errorAt(dep.Range, "Duplicate dependency",
					fmt.Sprintf("Process %q already depends on %q: remove this one.", p.Name, dep.Name)))
				continue
			}
			seen[dep.Name] = true
			if dep.Condition == policy.ConditionHealthy && target.Health == nil {
				diags = append(diags, errorAt(dep.Range, "Dependency has no health check",
					fmt.Sprintf("Process %q waits for %q to be healthy, but %q has no health block: add one to %q, or wait for condition = \"started\".", p.Name, dep.Name, dep.Name, dep.Name)))
			}
			valid[p.Name] = append(valid[p.Name], dep.Name)
		}
	}
	// Cycles: a depth-first search; each cycle is reported once, at the
	// dependency that closes it.
	state := map[string]int{} // 0 new, 1 on the stack, 2 done
	var stack []string
	var visit func(name string)
	visit = func(name string) {
		state[name] = 1
		stack = append(stack, name)
		p := byName[name]
		for _, dep := range p.DependsOn {
			if !contains(valid[name], dep.Name) {
				continue
			}
			switch state[dep.Name] {
			case 0:
				visit(dep.Name)
			case 1:
				i := indexOf(stack, dep.Name)
				cycle := append(append([]string{}, stack[i:]...), dep.Name)
				diags = append(diags, errorAt(dep.Range, "Dependency cycle",
					fmt.Sprintf("The dependencies form a cycle: %s. Remove one of these dependencies.", strings.Join(cycle, " -> "))))
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = 2
	}
	for _, p := range cfg.Processes {
		if state[p.Name] == 0 && byName[p.Name] == p {
			visit(p.Name)
		}
	}
	return diags
}

// otherProcesses names the processes a dependency may name, for an
// unknown one without a close match: the first ten, sorted.
func otherProcesses(names []string) string {
	switch len(names) {
	case 0:
		return "There is no other process."
	case 1:
		return fmt.Sprintf("The other process is %q.", names[0])
	}
	quoted := make([]string, 0, len(names))
	for _, n := range names[:min(len(names), 10)] {
		quoted = append(quoted, strconv.Quote(n))
	}
	if len(names) > 10 {
		return fmt.Sprintf("The other processes include %s, ...", strings.Join(quoted, ", "))
	}
	return fmt.Sprintf("The other processes are %s and %s.", strings.Join(quoted[:len(quoted)-1], ", "), quoted[len(quoted)-1])
}

func keys(m map[string]*Process) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
