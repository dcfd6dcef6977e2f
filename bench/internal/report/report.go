// Package report turns the benchmark's results into markdown tables of
// medians, each figure with its ratio to the baseline and to supervisord
// measured in the same rounds, and writes raw results as JSON lines.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/prox-dev/prox/bench/internal/scenario"
)

// Supervisord is the peer every figure is also compared with.
const Supervisord = "supervisord"

// JSONLines writes each result as one line of JSON.
func JSONLines(w io.Writer, results ...*scenario.Result) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
	}
	return nil
}

// Median returns the median of vs (NaN for none).
func Median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// table indexes one scenario's results: peer → round → result.
type table map[string]map[int]*scenario.Result

func index(sc *scenario.Scenario, results []*scenario.Result) table {
	t := table{}
	for _, r := range results {
		if r.Scenario != sc.Name {
			continue
		}
		if t[r.Peer] == nil {
			t[r.Peer] = map[int]*scenario.Result{}
		}
		t[r.Peer][r.Round] = r
	}
	return t
}

// values returns peer's figure key over the rounds that completed.
func (t table) values(peer, key string) []float64 {
	var out []float64
	for _, r := range t[peer] {
		if v, ok := r.Metrics[key]; ok && r.OK() {
			out = append(out, v)
		}
	}
	return out
}

// ratio returns the median over rounds of peer's figure divided by ref's
// in the same round, and whether any round had both.
func (t table) ratio(peer, ref, key string) (float64, bool) {
	var rs []float64
	for round, r := range t[peer] {
		o := t[ref][round]
		if o == nil || !r.OK() || !o.OK() {
			continue
		}
		v, ok1 := r.Metrics[key]
		w, ok2 := o.Metrics[key]
		if !ok1 || !ok2 || w == 0 {
			continue
		}
		rs = append(rs, v/w)
	}
	return Median(rs), len(rs) > 0
}

// Markdown writes one table per scenario that has results, then the errors
// and notes of the runs.
func Markdown(w io.Writer, scenarios []*scenario.Scenario, results []*scenario.Result) {
	for _, sc := range scenarios {
		t := index(sc, results)
		if len(t) == 0 {
			continue
		}
		fmt.Fprintf(w, "### %s\n\n", sc.Title)
		fmt.Fprintf(w, "| peer | runs ok |")
		for _, m := range sc.Metrics {
			fmt.Fprintf(w, " %s |", m.Title)
		}
		fmt.Fprintf(w, "\n|---|---|")
		for range sc.Metrics {
			fmt.Fprint(w, "---|")
		}
		fmt.Fprintln(w)
		for _, peer := range peersOf(sc, t) {
			ok := 0
			for _, r := range t[peer] {
				if r.OK() {
					ok++
				}
			}
			fmt.Fprintf(w, "| %s | %d/%d |", peer, ok, len(t[peer]))
			for _, m := range sc.Metrics {
				fmt.Fprintf(w, " %s |", cell(sc, t, peer, m))
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
		if len(refs(sc)) == 0 {
			fmt.Fprint(w, "Cells: median over the rounds.\n\n")
			continue
		}
		var base string
		if sc.Baseline != "" {
			base = "× " + sc.Baseline
		}
		fmt.Fprintf(w, "Cells: median over the rounds (ratio %s · × %s, each the median of the per-round ratios).\n\n", orDash(base), Supervisord)
	}
	var notes []string
	for _, r := range results {
		if r.Error != "" {
			notes = append(notes, fmt.Sprintf("- %s %s round %d: **error** %s", r.Scenario, r.Peer, r.Round, r.Error))
		}
		for _, n := range r.Notes {
			notes = append(notes, fmt.Sprintf("- %s %s round %d: %s", r.Scenario, r.Peer, r.Round, n))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "### Notes\n\n%s\n\n", strings.Join(notes, "\n"))
	}
}

// refs lists the peers a scenario's figures are divided by: its baseline,
// if any, and supervisord, unless the scenario runs neither (a figure of
// prox alone has no ratio).
func refs(sc *scenario.Scenario) []string {
	if sc.Baseline == "" && !slices.Contains(sc.Peers, Supervisord) {
		return nil
	}
	out := []string{Supervisord}
	if sc.Baseline != "" {
		out = []string{sc.Baseline, Supervisord}
	}
	return out
}

// peersOf lists the peers with results in the scenario's order, then any
// others.
func peersOf(sc *scenario.Scenario, t table) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range sc.Peers {
		if t[p] != nil {
			out = append(out, p)
			seen[p] = true
		}
	}
	var rest []string
	for p := range t {
		if !seen[p] {
			rest = append(rest, p)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func cell(sc *scenario.Scenario, t table, peer string, m scenario.Metric) string {
	vs := t.values(peer, m.Key)
	if len(vs) == 0 {
		return "–"
	}
	switch m.Kind {
	case scenario.Flag:
		yes := 0
		for _, v := range vs {
			if v != 0 {
				yes++
			}
		}
		switch yes {
		case len(vs):
			return "yes"
		case 0:
			return "**no**"
		default:
			return fmt.Sprintf("**%d/%d**", yes, len(vs))
		}
	case scenario.Count:
		return format(Median(vs), m.Digits)
	}
	s := format(Median(vs), m.Digits)
	var rs []string
	for _, ref := range refs(sc) {
		if ref == peer {
			rs = append(rs, "–")
			continue
		}
		if r, ok := t.ratio(peer, ref, m.Key); ok {
			rs = append(rs, formatRatio(r))
		} else {
			rs = append(rs, "–")
		}
	}
	if len(rs) > 0 {
		s += " (" + strings.Join(rs, " · ") + ")"
	}
	return s
}

func format(v float64, digits int) string {
	if math.IsNaN(v) {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', digits, 64)
}

func formatRatio(r float64) string {
	switch {
	case math.IsInf(r, 0) || math.IsNaN(r):
		return "–"
	case r >= 100:
		return strconv.FormatFloat(r, 'f', 0, 64) + "x"
	case r >= 10:
		return strconv.FormatFloat(r, 'f', 1, 64) + "x"
	default:
		return strconv.FormatFloat(r, 'f', 2, 64) + "x"
	}
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
