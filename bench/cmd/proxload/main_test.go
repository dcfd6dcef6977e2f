package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prox-dev/prox/bench/internal/workload"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUsageErrors(t *testing.T) {
	assert.Equal(t, 2, run(nil))
	assert.Equal(t, 2, run([]string{"lines", "-nosuchflag"}))
	assert.Equal(t, 1, run([]string{"dance"}))
	assert.Equal(t, 1, run([]string{"crash"}), "crash needs -log")
	assert.Equal(t, 1, run([]string{"lines", "-tag", "bad tag", "-n", "1"}))
}

func TestCrashRecordsItsStartAndExitsWithItsCode(t *testing.T) {
	log := filepath.Join(t.TempDir(), "starts.txt")
	assert.Equal(t, 1, run([]string{"crash", "-log", log}))
	assert.Equal(t, 7, run([]string{"crash", "-log", log, "-code", "7"}))
	starts, err := workload.ReadStarts(log)
	require.NoError(t, err)
	assert.Len(t, starts, 2)
}

func TestLinesWritesItsReport(t *testing.T) {
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = out
	code := run([]string{"lines", "-tag", "t1", "-n", "300", "-size", "50", "-report", filepath.Join(dir, "t1.json")})
	os.Stdout = stdout
	require.NoError(t, out.Close())
	require.Equal(t, 0, code)
	fi, err := os.Stat(filepath.Join(dir, "out"))
	require.NoError(t, err)
	assert.EqualValues(t, 300*50, fi.Size())
	reports, err := workload.ReadReports(dir)
	require.NoError(t, err)
	require.Len(t, reports, 1)
	assert.Equal(t, "t1", reports[0].Tag)
	assert.GreaterOrEqual(t, reports[0].EndUnixNano, reports[0].StartUnixNano)
}
