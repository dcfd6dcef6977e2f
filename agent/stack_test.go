package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The plugins of a stack are launched together: one that cannot start is
// reported at its own block, the others still start, and closing the
// stack (runners first, as prox up does) leaves none behind.
func TestLoadStackWithPluginsThatFail(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	// A plugin that exists but cannot describe itself (a missing one is
	// reported at its path only: TestValidateCatchesWhatUpWouldRefuse).
	broken := filepath.Join(dir, "prox-plugin-broken")
	require.NoError(t, os.WriteFile(broken, []byte("#!/bin/sh\necho broken on purpose >&2\nexit 1\n"), 0o755))
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
plugin "broken" { path = %q }

sink "file" "ok" { path = "logs/{process}.log" }
sink "broken" "x" {}
runner "exec" "second" {}

process "a" {
  command = ["true"]
  sinks   = ["file.ok"]
}
process "b" {
  command = ["true"]
  runner  = "exec.second"
  sinks   = ["broken.x"]
}
process "c" {
  command = ["true"]
  runner  = "teleport"
}
process "d" {
  command = ["true"]
  runner  = "teleport"
}
`, broken)), 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, diags := checkStack(ctx, cfg, "", hclog.NewNullLogger())
	require.NotNil(t, st)
	closed := false
	defer func() {
		if !closed {
			_ = st.close(context.Background())
		}
	}()

	var errs []string
	for _, d := range diags {
		errs = append(errs, fmt.Sprintf("line %d: %s: %s", d.Subject.Start.Line, d.Summary, d.Detail))
	}
	require.Len(t, errs, 2, strings.Join(errs, "\n"))
	assert.Contains(t, errs[0], `line 5: Cannot use sink "broken.x"`)
	assert.Contains(t, errs[0], "broken on purpose")
	assert.Contains(t, errs[1], `line 19: Cannot use runner "teleport"`, "reported once, at its first use")

	require.Contains(t, st.sinks, "file.ok")
	require.Contains(t, st.runners, "exec")
	require.Contains(t, st.runners, "exec.second")
	pids := []int{st.sinks["file.ok"].PID(), st.runners["exec"].PID(), st.runners["exec.second"].PID()}
	var names []string
	for _, s := range st.specs {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"a", "b"}, names)

	require.NoError(t, st.closeRunners(context.Background()))
	require.NoError(t, st.close(context.Background()))
	closed = true
	for _, pid := range pids {
		require.Positive(t, pid)
		require.Eventually(t, func() bool { return !processRuns(pid) }, 20*time.Second, 10*time.Millisecond, "plugin %d is still running", pid)
	}
}

// processRuns reports whether pid exists and is not a zombie.
func processRuns(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}
