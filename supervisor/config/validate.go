package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/prox-dev/prox/supervisor/policy"
)

var (
	processNameRe = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	identRe       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	sha256Re      = regexp.MustCompile(`^[0-9A-Fa-f]{64}$`)
)

// ParseRef parses a runner or sink reference: "KIND" or "KIND.NAME", each
// part an identifier (a letter or '_' followed by letters, digits, '_' or '-').
func ParseRef(s string) (Ref, error) {
	kind, name, dotted := strings.Cut(s, ".")
	if !identRe.MatchString(kind) {
		return Ref{}, fmt.Errorf("%q does not start with a valid kind", s)
	}
	if dotted && !identRe.MatchString(name) {
		return Ref{}, fmt.Errorf("%q does not end with a valid name", s)
	}
	return Ref{Kind: kind, Name: name}, nil
}

// durationCheck validates a decoded duration, returning an error phrased
// to follow the setting's name.
type durationCheck func(time.Duration) error

func positive(d time.Duration) error {
	if d <= 0 {
		return errors.New("must be greater than zero")
	}
	return nil
}

func nonNegative(d time.Duration) error {
	if d < 0 {
		return errors.New("must not be negative")
	}
	return nil
}

func checkPolicy(s string) error {
	switch s {
	case policy.RestartNever, policy.RestartOnFailure, policy.RestartAlways:
		return nil
	}
	return fmt.Errorf("must be %q, %q or %q; got %q", policy.RestartNever, policy.RestartOnFailure, policy.RestartAlways, s)
}

func checkSHA256(s string) error {
	if !sha256Re.MatchString(s) {
		return fmt.Errorf("must be 64 hexadecimal characters; got %d characters in %q", len(s), s)
	}
	return nil
}

// processNameRule says which process names are allowed. A name is one
// segment of the control API's paths (/v1/processes/NAME/stop) and a word
// on prox's command line (prox stop NAME): "." and ".." would be read as
// path navigation, a leading '-' as a flag, and '/', spaces and control
// characters have no place in either.
const processNameRule = "A process name must be non-empty, contain only letters, digits, '-', '_' and '.', must not start with '-', and must be neither \".\" nor \"..\""

// validProcessName reports whether name follows processNameRule.
func validProcessName(name string) bool {
	return processNameRe.MatchString(name) && name[0] != '-' && name != "." && name != ".."
}

// processNameDetail is the diagnostic's detail for a refused name.
func processNameDetail(name string) string {
	return fmt.Sprintf("%s; got %q.", processNameRule, name)
}

func checkProcessName(block *hcl.Block) hcl.Diagnostics {
	name := block.Labels[0]
	if validProcessName(name) {
		return nil
	}
	return hcl.Diagnostics{errorAt(block.LabelRanges[0], "Invalid process name", processNameDetail(name))}
}

func checkPluginName(block *hcl.Block) hcl.Diagnostics {
	name := block.Labels[0]
	if identRe.MatchString(name) {
		return nil
	}
	return hcl.Diagnostics{errorAt(block.LabelRanges[0], "Invalid plugin name",
		fmt.Sprintf("A plugin name must start with a letter or '_' and contain only letters, digits, '_' and '-'; got %q.", name))}
}

func checkPluginBlockLabels(block *hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for i, what := range []string{"kind", "name"} {
		if !identRe.MatchString(block.Labels[i]) {
			diags = append(diags, errorAt(block.LabelRanges[i], fmt.Sprintf("Invalid %s %s", block.Type, what),
				fmt.Sprintf("A %s %s must start with a letter or '_' and contain only letters, digits, '_' and '-'; got %q.", block.Type, what, block.Labels[i])))
		}
	}
	return diags
}

func checkEnvKeys(env map[string]string, rng hcl.Range) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, k := range sortedKeys(env) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			diags = append(diags, errorAt(rng, "Invalid env",
				fmt.Sprintf("An environment variable name must be non-empty and contain neither '=' nor NUL; got %q.", k)))
		}
	}
	return diags
}

// validate checks what spans blocks: duplicate declarations and the
// references from processes to runner and sink blocks.
func validate(cfg *Config, refs map[*Process]*processRefs) hcl.Diagnostics {
	var diags hcl.Diagnostics

	processes := map[string]*Process{}
	for _, p := range cfg.Processes {
		if first, ok := processes[p.Name]; ok {
			diags = append(diags, duplicate("process", fmt.Sprintf("named %q", p.Name), p.DeclRange, first.DeclRange))
			continue
		}
		processes[p.Name] = p
	}
	for _, set := range []struct {
		typ    string
		blocks []*PluginBlock
	}{{"runner", cfg.Runners}, {"sink", cfg.Sinks}} {
		seen := map[Ref]*PluginBlock{}
		for _, b := range set.blocks {
			if first, ok := seen[b.Ref()]; ok {
				diags = append(diags, duplicate(set.typ, fmt.Sprintf("%q %q", b.Kind, b.Name), b.DeclRange, first.DeclRange))
				continue
			}
			seen[b.Ref()] = b
		}
	}
	plugins := map[string]*Plugin{}
	for _, p := range cfg.Plugins {
		if first, ok := plugins[p.Name]; ok {
			diags = append(diags, duplicate("plugin", fmt.Sprintf("named %q", p.Name), p.DeclRange, first.DeclRange))
			continue
		}
		plugins[p.Name] = p
	}

	for _, p := range cfg.Processes {
		if p.Replicas > 1 && processes[p.Name] == p {
			diags = append(diags, checkInstanceNames(cfg, p, p.instances, p.ReplicasRange)...)
		}
	}
	for _, p := range cfg.Instances() {
		diags = AppendNew(diags, validateRefs(cfg, p, refs[p]))
	}
	diags = append(diags, validateDependencies(cfg)...)
	return diags
}

// validateRefs checks the runner and sink references of p against the
// runner and sink blocks; r tells whether its runner reference was
// decoded.
func validateRefs(cfg *Config, p *Process, r *processRefs) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if r != nil && r.runner && p.Runner.Name != "" && cfg.Runner(p.Runner) == nil {
		diags = append(diags, errorAt(p.RunnerRange, "Unknown runner",
			fmt.Sprintf("Process %q uses runner %q, but there is no runner %q %q block.", p.Name, p.Runner, p.Runner.Kind, p.Runner.Name)))
	}
	for i, s := range p.Sinks {
		if cfg.Sink(s) == nil {
			diags = append(diags, errorAt(p.SinkRanges[i], "Unknown sink",
				fmt.Sprintf("Process %q uses sink %q, but there is no sink %q %q block.", p.Name, s, s.Kind, s.Name)))
		}
	}
	return diags
}

func duplicate(typ, what string, dup, first hcl.Range) *hcl.Diagnostic {
	return errorAt(dup, "Duplicate "+typ,
		fmt.Sprintf("A %s %s was already declared at %s.", typ, what, posString(first)))
}

// Suggest returns the candidate closest to name when it is close enough to
// be a likely typo (at most two edits), else "".
func Suggest(name string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
