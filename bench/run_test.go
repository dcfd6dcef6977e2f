package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prox-dev/prox/bench/internal/scenario"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunWritesTableAndJSONLines(t *testing.T) {
	work := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{
		"-rounds", "2", "-scenarios", "s1", "-peers", "baseline,baseline-pipe",
		"-s1-procs", "2", "-s1-lines", "2000", "-work", work,
	}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	out := stdout.String()
	assert.Contains(t, out, "## prox benchmark")
	assert.Contains(t, out, "CPUs (nproc)")
	assert.Contains(t, out, "### S1 log throughput: 2 processes each write 2000 lines")
	assert.Contains(t, out, "| baseline | 2/2 |")
	assert.Contains(t, out, "| baseline-pipe | 2/2 | ")
	assert.NotContains(t, out, "| prox |")

	jsonl, err := filepath.Glob(filepath.Join(work, "results-*.jsonl"))
	require.NoError(t, err)
	require.Len(t, jsonl, 1)
	b, err := os.ReadFile(jsonl[0])
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 4, "2 peers x 2 rounds")
	for _, l := range lines {
		var r scenario.Result
		require.NoError(t, json.Unmarshal([]byte(l), &r))
		assert.True(t, r.OK(), r.Error)
		assert.Equal(t, 1.0, r.Metrics["intact"])
	}
	md, err := filepath.Glob(filepath.Join(work, "results-*.md"))
	require.NoError(t, err)
	require.Len(t, md, 1)
	table, err := os.ReadFile(md[0])
	require.NoError(t, err)
	assert.Equal(t, out, string(table))
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-rounds", "0"},
		{"-prox-sink", "maybe"},
		{"-s1-lines", "0"},
		{"-idle-duration", "0s"},
		{"extra"},
		{"-nosuchflag"},
	} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, run(args, &stdout, &stderr), "%v", args)
	}
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, run([]string{"-h"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "-rounds")
}

func TestRunRejectsUnknownScenarioAndPeer(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 1, run([]string{"-scenarios", "s9", "-work", t.TempDir()}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), `unknown scenario \"s9\"`)
	stderr.Reset()
	assert.Equal(t, 1, run([]string{"-peers", "nope", "-proxload", "/bin/true", "-work", t.TempDir()}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), `peer \"nope\" is not available`)
}
