package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the testdata/invalid/*.golden files")

// invalidCases maps each testdata/invalid/*.hcl file to the number of
// error diagnostics it must produce.
var invalidCases = map[string]int{
	"dependencies.hcl":           6,
	"health.hcl":                 8,
	"bad_duration.hcl":           1,
	"bad_policy.hcl":             1,
	"bad_sha256.hcl":             1,
	"bad_signal.hcl":             1,
	"duplicate_process.hcl":      1,
	"duplicate_runner_block.hcl": 1,
	"empty_command.hcl":          1,
	"many_errors.hcl":            21,
	"missing_file.hcl":           1,
	"negative_duration.hcl":      1,
	"shell_directive.hcl":        1,
	"shell_variable.hcl":         2,
	"syntax.hcl":                 1,
	"unknown_attribute.hcl":      1,
	"unknown_block.hcl":          1,
	"unknown_runner.hcl":         1,
	"unknown_sink.hcl":           1,
}

func TestInvalidGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.hcl"))
	require.NoError(t, err)
	require.Len(t, inputs, len(invalidCases), "every input needs an entry in invalidCases")

	for _, input := range inputs {
		name := filepath.Base(input)
		t.Run(strings.TrimSuffix(name, ".hcl"), func(t *testing.T) {
			want, ok := invalidCases[name]
			require.True(t, ok, "no invalidCases entry for %s", name)

			cfg, diags := Load(input)
			require.NotNil(t, cfg)
			require.True(t, diags.HasErrors())
			assert.Len(t, diags.Errs(), want, "error count")
			for _, d := range diags {
				require.NotNil(t, d.Subject, "diagnostic %q has no position", d.Summary)
				assert.Equal(t, input, d.Subject.Filename)
			}

			var buf bytes.Buffer
			require.NoError(t, WriteDiagnostics(&buf, cfg.Files, diags, 80, false))
			golden := strings.TrimSuffix(input, ".hcl") + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
			}
			expected, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create the golden file")
			assert.Equal(t, string(expected), buf.String())
		})
	}
}

func TestManyErrorsReportsEverything(t *testing.T) {
	_, diags := Load(filepath.Join("testdata", "invalid", "many_errors.hcl"))
	type pos struct {
		line, column int
		summary      string
	}
	var got []pos
	for _, d := range diags {
		got = append(got, pos{d.Subject.Start.Line, d.Subject.Start.Column, d.Summary})
	}
	assert.Equal(t, []pos{
		{2, 1, "Unsupported argument"},
		{5, 1, "Duplicate runner"},
		{9, 16, "Missing required argument"},
		{10, 12, "Invalid sha256"},
		{13, 9, "Invalid process name"},
		{14, 13, "Empty command"},
		{15, 13, "Unknown runner"},
		{16, 26, "Invalid sink reference"},
		{16, 34, "Unknown sink"},
		{17, 3, "Unsupported argument"},
		{20, 15, "Invalid stop signal"},
		{21, 15, "Invalid stop timeout"},
		{25, 21, "Invalid restart policy"},
		{26, 21, "Invalid duration"},
		{27, 21, "Invalid restart max_restarts"},
		{28, 25, "Invalid restart success_codes"},
		{35, 3, "Duplicate container block"},
		{45, 19, "Invalid restart max_backoff"},
		{46, 19, "Invalid restart window"},
		{50, 3, "Unsupported block type"},
		{53, 1, "Duplicate process"},
	}, got)
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prox.hcl")
	cfg, diags := Load(path)
	require.NotNil(t, cfg)
	require.True(t, diags.HasErrors())
	assert.Equal(t, "Failed to read configuration file", diags[0].Summary)
	assert.Equal(t, path, cfg.Path)

	assert.Contains(t, diags[0].Detail, `"prox init" writes a commented one`, "a missing file points at prox init")

	var buf bytes.Buffer
	require.NoError(t, WriteDiagnostics(&buf, cfg.Files, diags, 0, false))
	assert.Contains(t, buf.String(), "Failed to read configuration file")

	// A file that exists but cannot be read gets no such advice.
	_, diags = Load(t.TempDir())
	require.True(t, diags.HasErrors())
	assert.NotContains(t, diags[0].Detail, "prox init")
}
