package profile

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartWritesProfilesAndUsage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "profiles") // created by Start
	t.Setenv(EnvDir, dir)
	stop, err := Start("prox-test")
	require.NoError(t, err)
	sum := 0
	for i := range 1_000_000 { // something to profile
		sum += i % 7
	}
	require.NoError(t, stop())
	require.Positive(t, sum)

	base := filepath.Join(dir, "prox-test."+strconv.Itoa(os.Getpid()))
	for _, suffix := range []string{".cpu.pprof", ".allocs.pprof"} {
		data, err := os.ReadFile(base + suffix)
		require.NoError(t, err)
		// pprof files are gzipped protobuf.
		require.Greater(t, len(data), 2, suffix)
		assert.Equal(t, []byte{0x1f, 0x8b}, data[:2], "%s is gzipped", suffix)
	}
	usage, err := os.ReadFile(base + ".rusage")
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`^user_s=\d+\.\d{3} sys_s=\d+\.\d{3} maxrss_kb=[1-9]\d* wall_s=\d+\.\d{3}\n$`), string(usage))
}

func TestSIGUSR1WritesTheLiveHeap(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvDir, dir)
	stop, err := Start("prox-test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = stop() })
	base := filepath.Join(dir, "prox-test."+strconv.Itoa(os.Getpid()))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR1))
	var data []byte
	require.Eventually(t, func() bool {
		data, err = os.ReadFile(base + ".heap-1.pprof")
		return err == nil && len(data) > 2
	}, 10*time.Second, 10*time.Millisecond, "heap-1 written")
	assert.Equal(t, []byte{0x1f, 0x8b}, data[:2], "the heap profile is gzipped")
	var classes []byte
	require.Eventually(t, func() bool {
		classes, err = os.ReadFile(base + ".memory-1.txt")
		return err == nil && len(classes) > 0
	}, 10*time.Second, 10*time.Millisecond, "memory-1 written")
	assert.Regexp(t, regexp.MustCompile(`(?m)^/memory/classes/heap/objects:bytes [1-9]\d*$`), string(classes))
	assert.Regexp(t, regexp.MustCompile(`(?m)^/memory/classes/heap/stacks:bytes [1-9]\d*$`), string(classes))
	require.NoError(t, stop())
}

func TestStartWithoutTheVariableDoesNothing(t *testing.T) {
	t.Setenv(EnvDir, "")
	dir := t.TempDir()
	t.Chdir(dir)
	stop, err := Start("prox-test")
	require.NoError(t, err)
	require.NoError(t, stop())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestStartFailsOnAnUnusableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	t.Setenv(EnvDir, filepath.Join(file, "sub"))
	_, err := Start("prox-test")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "profile:")
}
