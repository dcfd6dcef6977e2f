package report

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/prox-dev/prox/bench/internal/scenario"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testScenario = &scenario.Scenario{
	Name: "sx", Title: "SX a test", Peers: []string{"baseline", "supervisord", "prox"}, Baseline: "baseline",
	Metrics: []scenario.Metric{
		{Key: "wall_s", Title: "wall s", Digits: 2},
		{Key: "survivors", Title: "survivors", Kind: scenario.Count},
		{Key: "intact", Title: "intact", Kind: scenario.Flag},
	},
}

func res(peer string, round int, wall, intact float64) *scenario.Result {
	return &scenario.Result{Scenario: "sx", Peer: peer, Round: round,
		Metrics: map[string]float64{"wall_s": wall, "survivors": 0, "intact": intact}}
}

func TestMedian(t *testing.T) {
	assert.True(t, math.IsNaN(Median(nil)))
	assert.Equal(t, 2.0, Median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, Median([]float64{4, 1, 3, 2}))
	in := []float64{3, 1, 2}
	Median(in)
	assert.Equal(t, []float64{3, 1, 2}, in, "not sorted in place")
}

func TestMarkdownMediansAndPairedRatios(t *testing.T) {
	results := []*scenario.Result{
		res("baseline", 1, 1, 1), res("supervisord", 1, 10, 1), res("prox", 1, 5, 1),
		res("baseline", 2, 2, 1), res("supervisord", 2, 10, 1), res("prox", 2, 4, 0),
		res("baseline", 3, 4, 1), res("supervisord", 3, 20, 1), res("prox", 3, 4, 1),
	}
	var b strings.Builder
	Markdown(&b, []*scenario.Scenario{testScenario}, results)
	out := b.String()
	assert.Contains(t, out, "### SX a test\n")
	assert.Contains(t, out, "| peer | runs ok | wall s | survivors | intact |\n|---|---|---|---|---|\n")
	// Medians 2, 10, 4; ratios are medians of the per-round ratios:
	// prox/baseline 5, 2, 1 → 2; prox/supervisord 0.5, 0.4, 0.2 → 0.4.
	assert.Contains(t, out, "| baseline | 3/3 | 2.00 (– · 0.20x) | 0 | yes |\n")
	assert.Contains(t, out, "| supervisord | 3/3 | 10.00 (5.00x · –) | 0 | yes |\n")
	assert.Contains(t, out, "| prox | 3/3 | 4.00 (2.00x · 0.40x) | 0 | **2/3** |\n")
	assert.Contains(t, out, "ratio × baseline · × supervisord")
}

func TestMarkdownWithoutReferencesHasNoRatios(t *testing.T) {
	alone := &scenario.Scenario{Name: "sx", Title: "SX prox alone", Peers: []string{"prox"},
		Metrics: []scenario.Metric{{Key: "wall_s", Title: "wall s", Digits: 2}}}
	var b strings.Builder
	Markdown(&b, []*scenario.Scenario{alone}, []*scenario.Result{res("prox", 1, 5, 1), res("prox", 2, 3, 1)})
	out := b.String()
	assert.Contains(t, out, "| prox | 2/2 | 4.00 |\n")
	assert.Contains(t, out, "Cells: median over the rounds.\n")
	assert.NotContains(t, out, "ratio")
}

func TestMarkdownErrorsNotesAndMissingPeers(t *testing.T) {
	bad := res("prox", 1, 0, 0)
	bad.Error = "boom"
	bad.Metrics = map[string]float64{}
	noted := res("baseline", 1, 3, 0)
	noted.Notes = []string{"something odd"}
	var b strings.Builder
	Markdown(&b, []*scenario.Scenario{testScenario, {Name: "empty", Title: "nothing ran"}}, []*scenario.Result{noted, bad})
	out := b.String()
	assert.Contains(t, out, "| prox | 0/1 | – | – | – |\n")
	assert.Contains(t, out, "| baseline | 1/1 | 3.00 (– · –) | 0 | **no** |\n")
	assert.Contains(t, out, "- sx prox round 1: **error** boom\n")
	assert.Contains(t, out, "- sx baseline round 1: something odd\n")
	assert.NotContains(t, out, "nothing ran")
}

func TestFormatRatio(t *testing.T) {
	assert.Equal(t, "0.05x", formatRatio(0.0512))
	assert.Equal(t, "12.3x", formatRatio(12.34))
	assert.Equal(t, "228x", formatRatio(227.6))
	assert.Equal(t, "–", formatRatio(math.Inf(1)))
	assert.Equal(t, "–", format(math.NaN(), 2))
}

func TestJSONLines(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, JSONLines(&b, res("prox", 1, 2, 1), res("baseline", 1, 1, 1)))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 2)
	var r scenario.Result
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &r))
	assert.Equal(t, "prox", r.Peer)
	assert.Equal(t, 2.0, r.Metrics["wall_s"])
}
