package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Formation is foreman's -m (--formation): how many instances of each
// Procfile process run, as "web=2,worker=1"; "all=N" sets the count of
// every process the formation does not name.
type Formation struct {
	// Counts holds each named process's count, from 0.
	Counts map[string]int
	// All is the count of "all", when HasAll.
	All    int
	HasAll bool
}

// ParseFormation parses foreman's formation syntax: comma-separated
// NAME=COUNT pairs, each COUNT a whole number from 0 to MaxReplicas, NAME a
// process name or "all". "" is no formation: one of each.
func ParseFormation(s string) (Formation, error) {
	f := Formation{Counts: map[string]int{}}
	if strings.TrimSpace(s) == "" {
		return f, nil
	}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		name, count, ok := strings.Cut(pair, "=")
		name, count = strings.TrimSpace(name), strings.TrimSpace(count)
		if !ok || name == "" {
			return f, fmt.Errorf("%q is not NAME=COUNT (as in web=2,worker=1)", pair)
		}
		n, err := strconv.Atoi(count)
		if err != nil || n < 0 || n > MaxReplicas {
			return f, fmt.Errorf("the count of %q must be a whole number from 0 to %d, not %q", name, MaxReplicas, count)
		}
		if name != "all" && !validProcessName(name) {
			return f, fmt.Errorf("%q is not a process name", name)
		}
		if _, dup := f.Counts[name]; dup || (name == "all" && f.HasAll) {
			return f, fmt.Errorf("%q is given twice", name)
		}
		if name == "all" {
			f.All, f.HasAll = n, true
		} else {
			f.Counts[name] = n
		}
	}
	return f, nil
}

// IsZero reports whether f is no formation: one of each process.
func (f Formation) IsZero() bool { return len(f.Counts) == 0 && !f.HasAll }

// count is how many instances of the process named name run.
func (f Formation) count(name string) int {
	if n, ok := f.Counts[name]; ok {
		return n
	}
	if f.HasAll {
		return f.All
	}
	return 1
}

// String is f in foreman's syntax, names sorted, "all" first.
func (f Formation) String() string {
	var parts []string
	if f.HasAll {
		parts = append(parts, "all="+strconv.Itoa(f.All))
	}
	names := make([]string, 0, len(f.Counts))
	for n := range f.Counts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		parts = append(parts, n+"="+strconv.Itoa(f.Counts[n]))
	}
	return strings.Join(parts, ",")
}

// procfileCounts returns the count of each entry under f, or diagnostics
// when f names a process the Procfile does not declare, or runs none.
func procfileCounts(entries []ProcfileEntry, f Formation, filename string) ([]int, hcl.Diagnostics) {
	declared := map[string]bool{}
	counts := make([]int, len(entries))
	total := 0
	for i, e := range entries {
		declared[e.Name] = true
		counts[i] = f.count(e.Name)
		total += counts[i]
	}
	var diags hcl.Diagnostics
	names := make([]string, 0, len(f.Counts))
	for n := range f.Counts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !declared[n] {
			var all []string
			for _, e := range entries {
				all = append(all, e.Name)
			}
			detail := fmt.Sprintf("The formation (-m %s) names %q, but %s declares no such process.", f, n, filename)
			if s := Suggest(n, all); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown process in the formation", Detail: detail})
		}
	}
	if !diags.HasErrors() && total == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty formation",
			Detail: fmt.Sprintf("The formation (-m %s) runs no process of %s.", f, filename)})
	}
	return counts, diags
}
