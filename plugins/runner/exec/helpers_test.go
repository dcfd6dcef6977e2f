package exec

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/require"
)

const (
	waitFor = 10 * time.Second
	tick    = 10 * time.Millisecond
)

// testEnv is a minimal environment with the test's PATH.
func testEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH")}
}

// script returns the absolute path of testdata/scripts/name.
func script(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "..", "testdata", "scripts", name))
	require.NoError(t, err)
	require.FileExists(t, p)
	return p
}

// collector drains a stream in the background (sdktest.Output).
type collector struct{ *sdktest.Output }

func collect(r io.Reader) *collector { return &collector{sdktest.Collect(r)} }

func (c *collector) contains(s string) bool { return c.Contains(s) }

// all waits for EOF and returns everything read.
func (c *collector) all(t *testing.T) string {
	t.Helper()
	return c.All(t, waitFor)
}

// started is a process under test with its output being collected.
type started struct {
	sdk.Process
	stdout, stderr *collector
}

// start starts cfg on r and kills its group when the test ends.
func start(t *testing.T, r *Runner, cfg *sdk.ProcessConfig) *started {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = t.Name()
	}
	p, err := r.Start(context.Background(), cfg)
	require.NoError(t, err)
	require.Positive(t, p.PID())
	t.Cleanup(func() { _ = p.Signal(syscall.SIGKILL) })
	return &started{Process: p, stdout: collect(p.Stdout()), stderr: collect(p.Stderr())}
}

func sh(script string) []string { return []string{"sh", "-c", script} }

// wait waits for the process, failing the test if it takes too long.
func (s *started) wait(t *testing.T) error {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- s.Wait() }()
	select {
	case err := <-ch:
		return err
	case <-time.After(waitFor):
		t.Fatalf("process %d did not exit", s.PID())
		return nil
	}
}

// exited reports whether Wait has returned.
func exited(p sdk.Process) bool {
	return p.(*Process).isDone()
}

func (p *Process) isDone() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// groupMembers returns the live (non-zombie) processes of process group
// pgid, found by walking /proc.
func groupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, pg, ok := procStat(pid)
		if ok && pg == pgid && state != "Z" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != "Z"
}

// procStat returns the state and process group of pid from /proc/PID/stat.
func procStat(pid int) (state string, pgid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	// "pid (comm) state ppid pgrp ..."; comm may hold spaces and parens.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 {
		return "", 0, false
	}
	pg, err := strconv.Atoi(f[2])
	if err != nil {
		return "", 0, false
	}
	return f[0], pg, true
}

// pidsFrom parses the whitespace-separated PIDs in s.
func pidsFrom(t *testing.T, s string) []int {
	t.Helper()
	var pids []int
	for _, f := range strings.Fields(s) {
		pid, err := strconv.Atoi(f)
		require.NoError(t, err)
		pids = append(pids, pid)
	}
	return pids
}
