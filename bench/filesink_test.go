package main

// This end-to-end test of the file sink lives here, beside the benchmark,
// for its workload (bench/cmd/proxload) and its line checker
// (bench/internal/lines), which tell a lost, repeated or cut line apart.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/bench/internal/lines"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFileSinkKilledWritesEveryLineOnce runs `prox up` with four processes
// writing numbered records as fast as they can into two file sinks (one
// file per process; one combined file rotating every 2 MiB) and SIGKILLs
// the sink plugins again and again while the lines flow, each time once
// their replacements have written more. At the end every record is in
// every sink's files exactly once, whole, on a line of its own.
func TestFileSinkKilledWritesEveryLineOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds prox and runs it with 800,000 lines")
	}
	dir := t.TempDir()
	prox := buildForTest(t, dir, ".", "prox")
	load := buildForTest(t, dir, "./bench/cmd/proxload", "proxload")
	const (
		procs = 4
		n     = 200000
		size  = 100
		kills = 30
		// minKills is the fewest kills that make a run count.
		minKills = 10
	)
	logs := filepath.Join(dir, "logs")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "sink \"file\" \"each\" {\n  path = %q\n}\n", filepath.Join(logs, "{process}.log"))
	fmt.Fprintf(&cfg, "sink \"file\" \"all\" {\n  path = %q\n  max_size = \"2MiB\"\n  max_backups = 1000\n}\n", filepath.Join(logs, "all.log"))
	counts := map[string]int{}
	for i := 1; i <= procs; i++ {
		tag := "p" + strconv.Itoa(i)
		counts[tag] = n
		fmt.Fprintf(&cfg, "process %q {\n  command = [%q, \"lines\", \"-tag\", %q, \"-n\", \"%d\", \"-size\", \"%d\"]\n  sinks = [\"file.each\", \"file.all\"]\n}\n", tag, load, tag, n, size)
	}
	config := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(config, []byte(cfg.String()), 0o644))

	b := make([]byte, 8)
	_, _ = rand.Read(b)
	marker := "PROX_BENCH_TEST_MARKER=" + hex.EncodeToString(b)
	cmd := exec.Command(prox, "up", "-config", config, "-quiet", "-no-color")
	cmd.Env = append(os.Environ(), marker)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		for _, pid := range marked(marker, "") {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	// Kill both sink plugins as soon as their replacements have written
	// more (so that each kill lands while lines flow, often between two
	// writes of a batch), up to kills times. On a loaded machine the
	// writers may finish first: the run then counts if it had at least
	// minKills kills, all while lines flowed.
	var (
		last    []int
		done    = 0
		exitErr error
		ended   bool
	)
	running := func(deadline time.Time, msg string, args ...any) bool {
		select {
		case exitErr = <-exited:
			ended = true
			return false
		default:
		}
		require.True(t, time.Now().Before(deadline), append([]any{msg}, args...)...)
		return true
	}
kill:
	for k := range kills {
		var pids []int
		deadline := time.Now().Add(30 * time.Second)
		for {
			pids = marked(marker, "plugin-serve sink file")
			if len(pids) == 2 && !slices.ContainsFunc(pids, func(p int) bool { return slices.Contains(last, p) }) {
				break
			}
			if !running(deadline, "no new sink plugins after kill %d: %v", k, pids) {
				break kill
			}
			time.Sleep(2 * time.Millisecond)
		}
		written := logBytes(t, logs)
		for logBytes(t, logs) == written {
			if !running(deadline, "the new sink plugins write nothing after kill %d", k) {
				break kill
			}
			time.Sleep(100 * time.Microsecond)
		}
		for _, pid := range pids {
			require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		}
		last, done = pids, k+1
	}
	if !ended {
		select {
		case exitErr = <-exited:
		case <-time.After(2 * time.Minute):
			t.Fatalf("prox did not exit; stderr:\n%s", stderr.String())
		}
	}
	require.NoError(t, exitErr, "stderr:\n%s", stderr.String())
	require.GreaterOrEqual(t, done, minKills, "the writers finished after only %d kills", done)
	t.Logf("%d kills of both sink plugins while lines flowed", done)
	assert.GreaterOrEqual(t, strings.Count(stderr.String(), "sink plugin relaunched"), done, "every kill was seen, and the plugin relaunched")

	check := func(files []string) lines.Report {
		c, err := lines.NewChecker(size, counts)
		require.NoError(t, err)
		for _, f := range files {
			require.NoError(t, c.CheckFile(f))
		}
		return c.Report()
	}
	var each []string
	for tag := range counts {
		each = append(each, filepath.Join(logs, tag+".log"))
	}
	all, err := filepath.Glob(filepath.Join(logs, "all.log*"))
	require.NoError(t, err)
	require.Greater(t, len(all), 10, "the combined file rotated")
	// Oldest first: all.log.N .. all.log.1, all.log.
	slices.SortFunc(all, func(a, b string) int { return backupIndex(b) - backupIndex(a) })
	for name, files := range map[string][]string{"one file per process": each, "combined, rotated": all} {
		r := check(files)
		assert.True(t, r.Intact, "%s: %+v", name, r)
		assert.Zero(t, r.Duplicates, "%s: duplicated lines", name)
		assert.Zero(t, r.Cut+r.Merged+r.Fragments+r.Corrupt, "%s: torn lines", name)
		assert.Zero(t, r.Missing, "%s: lost lines", name)
	}
}

// lockedBuffer is a bytes.Buffer for a writer and a reader at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// backupIndex is N of all.log.N, 0 for all.log.
func backupIndex(path string) int {
	i, _ := strconv.Atoi(strings.TrimPrefix(filepath.Ext(path), "."))
	return i
}

// buildForTest builds a package of this module into dir.
func buildForTest(t *testing.T, dir, pkg, name string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = ".."
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build %s: %s", pkg, b)
	return out
}

// logBytes is the size of the log files in dir (not the sinks' state
// files, whose names start with a dot).
func logBytes(t *testing.T, dir string) int64 {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var n int64
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// marked lists the live processes whose environment holds marker and whose
// command line contains cmdline.
func marked(marker, cmdline string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, []byte(marker+"\x00")) {
			continue
		}
		cl, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if !strings.Contains(strings.ReplaceAll(string(cl), "\x00", " "), cmdline) {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}
