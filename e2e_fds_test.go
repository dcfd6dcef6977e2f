package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A descriptor that prox's parent left open without close-on-exec — fd 3
// from exec.Cmd.ExtraFiles, fd 7 from a shell's `exec 7<file` — reaches
// neither a supervised process nor a plugin.
func TestUpPassesOnNoInheritedDescriptor(t *testing.T) {
	dir := t.TempDir()
	inherited := map[int]string{3: filepath.Join(dir, "fd3-file"), 7: filepath.Join(dir, "fd7-file")}
	for _, path := range inherited {
		require.NoError(t, os.WriteFile(path, []byte("inherited\n"), 0o600))
	}
	fd3, err := os.Open(inherited[3])
	require.NoError(t, err)
	defer fd3.Close()

	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
sink "file" "f" {
  path = "%s/sink.log"
}

process "fds" {
  command = ["sh", "-c", "ls -l /proc/self/fd; echo listed; exec sleep 300"]
  sinks   = ["file.f"]
}
`, dir)), 0o644))

	// The shell opens fd 7 without close-on-exec and execs prox, which
	// also inherits the shell's fd 3 (ExtraFiles).
	via := []string{"sh", "-c", `exec 7<"$0"; exec "$@"`, inherited[7]}
	r := startUpWith(t, []*os.File{fd3}, via, cfg)
	r.waitOutput(t, `^fds \| listed$`)

	// The process: 0, 1, 2, and the folder ls reads.
	entry := regexp.MustCompile(`^fds \| .* (\d+) -> (.*)$`)
	lsDir := regexp.MustCompile(`^/proc/\d+/fd$`)
	seen := map[int]string{}
	r.mu.Lock()
	for _, line := range r.stdout {
		if m := entry.FindStringSubmatch(line); m != nil {
			fd, _ := strconv.Atoi(m[1])
			seen[fd] = m[2]
		}
	}
	r.mu.Unlock()
	require.Contains(t, seen, 0, "ls listed its descriptors:\n%s", r.output())
	for fd, target := range seen {
		if fd > 2 {
			assert.Regexp(t, lsDir, target, "descriptor %d of the process is not one ls opened", fd)
		}
		for _, path := range inherited {
			assert.NotEqual(t, path, target, "descriptor %d of the process is the inherited file", fd)
		}
	}

	// The plugins: neither holds an inherited file.
	plugins := map[string][]int{
		"runner exec": pidsOf(r.marker, "plugin-serve runner exec"),
		"sink file":   pidsOf(r.marker, "plugin-serve sink file"),
	}
	for name, pids := range plugins {
		require.Len(t, pids, 1, "one %s plugin", name)
		for fd, path := range openFiles(t, pids[0]) {
			for n, inh := range inherited {
				assert.False(t, sameFile(path, inh), "the %s plugin holds the inherited fd %d as its fd %d", name, n, fd)
			}
		}
	}
	// prox itself still holds them (marked close-on-exec, not closed):
	// the check above would see them if they were passed on.
	proxFiles := openFiles(t, r.cmd.Process.Pid)
	for n, inh := range inherited {
		assert.True(t, sameFile(proxFiles[n], inh), "prox holds fd %d", n)
	}

	require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, r.wait(t), r.output())
	requireNoneLeft(t, r.marker)
}

// openFiles maps the descriptors of process pid to their /proc paths.
func openFiles(t *testing.T, pid int) map[int]string {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := map[int]string{}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil {
			out[fd] = filepath.Join(dir, e.Name())
		}
	}
	return out
}

// sameFile reports whether the descriptor at /proc path fdPath is the file
// at path (same device and inode).
func sameFile(fdPath, path string) bool {
	if fdPath == "" || strings.HasSuffix(fdPath, "/") {
		return false
	}
	a, err1 := os.Stat(fdPath)
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}
