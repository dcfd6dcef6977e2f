package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// ReplicaVariable is the variable that holds an instance's index, from 0,
// in the expressions of its process block (and of the runner's block in
// it); ReplicaEnv the environment variable every instance gets with the
// same value.
const (
	ReplicaVariable = "replica"
	ReplicaEnv      = "PROX_REPLICA"
)

// MaxReplicas bounds replicas: each instance is a process of its own.
const MaxReplicas = 1000

var replicasSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "replicas"}}}

// InstanceName is the name of instance index of process block group when
// the block sets replicas (whatever the count, so that a change of the
// count leaves the instances that stay as they are) or its count was
// changed at runtime: "GROUP.INDEX" (index from 0, the value of replica
// and PROX_REPLICA). A block without replicas runs as its own name.
func InstanceName(group string, index int) string {
	return group + "." + strconv.Itoa(index)
}

// Instances returns the processes that run: the instances of every
// process block, in file order, each block's by index.
func (c *Config) Instances() []*Process {
	var out []*Process
	for _, p := range c.Processes {
		if p.instances == nil {
			out = append(out, p)
			continue
		}
		out = append(out, p.instances...)
	}
	return out
}

// InstancesOf returns the instances of the process block named group, nil
// when there is none.
func (c *Config) InstancesOf(group string) []*Process {
	p := c.Process(group)
	if p == nil {
		return nil
	}
	if p.instances == nil {
		return []*Process{p}
	}
	return p.instances
}

// Expand decodes process block p (an element of c.Processes) again as
// count instances, each with its own replica value, and returns them
// (c is unchanged): what the block runs with replicas = count. A count
// below 1 or above MaxReplicas, an instance name that is another process
// block's name, and any problem of an instance's expressions or
// references are diagnostics.
func (c *Config) Expand(p *Process, count int) ([]*Process, hcl.Diagnostics) {
	if p.block == nil || p.dec == nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot expand process",
			Detail: fmt.Sprintf("Process %q was not loaded from a configuration file.", p.Name)}}
	}
	at := p.ReplicasRange
	if at.Filename == "" {
		at = p.DeclRange
	}
	if d := checkReplicas(count, at); d != nil {
		return nil, hcl.Diagnostics{d}
	}
	// A decoder of its own: the instances' references are checked here,
	// not kept for the load's validation.
	dec := *p.dec
	dec.refs = map[*Process]*processRefs{}
	insts, diags := dec.expand(p, count)
	diags = append(diags, checkInstanceNames(c, p, insts, at)...)
	for _, inst := range insts {
		diags = AppendNew(diags, validateRefs(c, inst, dec.refs[inst]))
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return insts, diags
}

// Replicated reports whether p is an instance of a process block that
// sets replicas, or runs more than one instance: such an instance gets
// PROX_REPLICA. A process without replicas runs exactly as written.
func (p *Process) Replicated() bool { return p.replicated || p.Replicas > 1 }

// WithReplicas returns a copy of c in which the process block named name
// runs count instances (as Expand decodes them), c unchanged: a change of
// the count at runtime is a reload from c to the copy. Its diagnostics are
// Expand's, or an unknown name.
func (c *Config) WithReplicas(name string, count int) (*Config, hcl.Diagnostics) {
	p := c.Process(name)
	if p == nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown process",
			Detail: fmt.Sprintf("There is no process %q in %s.", name, c.Path)}}
	}
	if count == 1 && !p.Replicated() {
		// One instance of a process without replicas: it, as it runs.
		return c, nil
	}
	insts, diags := c.Expand(p, count)
	if diags.HasErrors() {
		return nil, diags
	}
	block := *p
	block.Replicas, block.replicated, block.instances = count, true, insts
	out := *c
	out.Processes = make([]*Process, len(c.Processes))
	for i, q := range c.Processes {
		if q == p {
			q = &block
		}
		out.Processes[i] = q
	}
	return &out, diags
}

// decodeGroup decodes a process block: as its first instance, with its
// replicas, and then as each of its instances.
func (d *decoder) decodeGroup(block *hcl.Block) (*Process, hcl.Diagnostics) {
	p, diags := d.decodeInstance(block, 0)
	p.Group, p.Replicas, p.block, p.dec = p.Name, 1, block, d

	// replicas is evaluated without replica: the count cannot depend on
	// an instance.
	content, _, _ := block.Body.PartialContent(replicasSchema)
	if attr := content.Attributes["replicas"]; attr != nil {
		p.ReplicasRange, p.replicated = attr.Expr.Range(), true
		for _, v := range attr.Expr.Variables() {
			if v.RootName() == ReplicaVariable {
				return p, append(diags, errorAt(v.SourceRange(), "Invalid replicas",
					"replicas cannot use replica: it is the count of the instances, the same for each of them."))
			}
		}
		n, ok, dd := evalInt(attr.Expr, d.ctx, "replicas")
		diags = append(diags, dd...)
		if ok {
			if bad := checkReplicas(n, attr.Expr.Range()); bad != nil {
				diags = append(diags, bad)
			} else {
				p.Replicas = n
			}
		}
	}
	if !p.replicated {
		// A process without replicas is exactly its block.
		p.instances = []*Process{p}
		return p, diags
	}
	insts, dd := d.expand(p, p.Replicas)
	p.instances = insts
	return p, AppendNew(diags, dd)
}

// expand decodes block p as count instances.
func (d *decoder) expand(p *Process, count int) ([]*Process, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	insts := make([]*Process, count)
	for i := range insts {
		inst, dd := d.decodeInstance(p.block, i)
		diags = AppendNew(diags, dd)
		inst.Name = InstanceName(p.Group, i)
		inst.Group, inst.Replicas, inst.ReplicasRange, inst.replicated = p.Group, count, p.ReplicasRange, true
		insts[i] = inst
	}
	return insts, diags
}

// decodeInstance decodes block as instance index: its expressions see
// replica = index.
func (d *decoder) decodeInstance(block *hcl.Block, index int) (*Process, hcl.Diagnostics) {
	di := *d
	di.ctx = InstanceEvalContext(d.ctx, index)
	p, diags := di.decodeProcess(block)
	p.Replica = index
	for _, d := range diags {
		if d.Summary == "Unknown variable" && !strings.Contains(d.Detail, replicaNote) {
			addHint(d, replicaNote)
		}
	}
	return p, diags
}

// replicaNote completes HCL's "Unknown variable" in a process block.
const replicaNote = "The one variable of a process block is " + ReplicaVariable + ", the index of its instance (from 0)."

// InstanceEvalContext returns a child of parent where replica is index:
// the context of the expressions of an instance's block.
func InstanceEvalContext(parent *hcl.EvalContext, index int) *hcl.EvalContext {
	ctx := parent.NewChild()
	ctx.Variables = map[string]cty.Value{ReplicaVariable: cty.NumberIntVal(int64(index))}
	return ctx
}

// checkReplicas returns the diagnostic of a bad count at rng, nil for a
// good one.
func checkReplicas(n int, rng hcl.Range) *hcl.Diagnostic {
	switch {
	case n < 1:
		return errorAt(rng, "Invalid replicas",
			fmt.Sprintf("replicas is how many instances of the process run; it must be at least 1, not %d (remove the process, or stop it, to run none).", n))
	case n > MaxReplicas:
		return errorAt(rng, "Invalid replicas",
			fmt.Sprintf("replicas is how many instances of the process run; it must be at most %d, not %d.", MaxReplicas, n))
	}
	return nil
}

// checkInstanceNames refuses an instance of p whose name is the name of
// another process block.
func checkInstanceNames(c *Config, p *Process, insts []*Process, at hcl.Range) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, inst := range insts {
		if inst.Name == p.Group {
			continue
		}
		if other := c.Process(inst.Name); other != nil {
			diags = append(diags, errorAt(at, "Instance name taken",
				fmt.Sprintf("Instance %d of process %q is named %q, which is the name of the process declared at %s: rename that process.",
					inst.Replica, p.Group, inst.Name, posString(other.DeclRange))))
		}
	}
	return diags
}

// AppendNew appends the diagnostics of more that diags does not already
// hold (the same severity and summary at the same place): the instances of
// a block share its expressions, so each problem is reported once, at its
// place, with the first instance's text.
func AppendNew(diags, more hcl.Diagnostics) hcl.Diagnostics {
	for _, m := range more {
		dup := false
		for _, d := range diags {
			if sameProblem(d, m) {
				dup = true
				break
			}
		}
		if !dup {
			diags = append(diags, m)
		}
	}
	return diags
}

func sameProblem(a, b *hcl.Diagnostic) bool {
	if a.Severity != b.Severity || a.Summary != b.Summary {
		return false
	}
	if a.Subject == nil || b.Subject == nil {
		return a.Subject == nil && b.Subject == nil && a.Detail == b.Detail
	}
	return *a.Subject == *b.Subject
}
