package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUpThousandProcesses: prox runs 1,000 processes, each writing a line,
// keeps serving `prox ps`, and stops every one of them on Ctrl-C.
func TestUpThousandProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 processes: not in -short")
	}
	const n = 1000
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "process \"p%04d\" {\n  command = [\"sh\", \"-c\", \"echo up %d; exec sleep 3600\"]\n}\n", i, i)
	}
	require.NoError(t, os.WriteFile(cfg, []byte(b.String()), 0o644))
	start := time.Now()
	r := startUp(t, cfg)

	var procs []psProcess
	require.Eventually(t, func() bool {
		var err error
		procs, err = ps(t, cfg)
		if err != nil || len(procs) != n {
			return false
		}
		for _, p := range procs {
			if p.State != "running" {
				return false
			}
		}
		return true
	}, 120*time.Second, 200*time.Millisecond, "every process runs, and prox ps answers")
	running := time.Since(start)
	require.Eventually(t, func() bool { return r.count("p0999 | up 999") == 1 && r.count("p0000 | up 0") == 1 },
		30*time.Second, 20*time.Millisecond, "their output reaches the terminal")

	stop := time.Now()
	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, r.wait(t), "stderr:\n%s", r.stderrString())
	requireNoneLeftWithin(t, r.marker, 30*time.Second)
	t.Logf("1,000 processes: all running after %s, all gone %s after Ctrl-C", running.Round(time.Millisecond), time.Since(stop).Round(time.Millisecond))
}
