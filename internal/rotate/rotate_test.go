package rotate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestRotatesBySizeAndKeepsBackups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prox.log")
	f := New(path, Options{MaxSize: 10, Backups: 2})
	t.Cleanup(func() { _ = f.Close() })
	for _, line := range []string{"aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n", "ffff\n", "gggg\n"} {
		n, err := f.Write([]byte(line))
		require.NoError(t, err)
		require.Equal(t, len(line), n)
	}
	// Two lines of 5 bytes fill a file of 10; the third starts a new one.
	assert.Equal(t, "gggg\n", read(t, path))
	assert.Equal(t, "eeee\nffff\n", read(t, path+".1"))
	assert.Equal(t, "cccc\ndddd\n", read(t, path+".2"))
	assert.NoFileExists(t, path+".3", "only two backups are kept")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestAppendsToAnExistingFileAndCountsItsSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prox.log")
	require.NoError(t, os.WriteFile(path, []byte("old run\n"), 0o600))
	f := New(path, Options{MaxSize: 12, Backups: 1})
	t.Cleanup(func() { _ = f.Close() })
	_, err := f.Write([]byte("new\n"))
	require.NoError(t, err)
	assert.Equal(t, "old run\nnew\n", read(t, path))
	_, err = f.Write([]byte("next\n"))
	require.NoError(t, err)
	assert.Equal(t, "next\n", read(t, path))
	assert.Equal(t, "old run\nnew\n", read(t, path+".1"))
}

func TestNeverSplitsAWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prox.log")
	f := New(path, Options{MaxSize: 8, Backups: 1})
	t.Cleanup(func() { _ = f.Close() })
	big := strings.Repeat("x", 20) + "\n"
	_, err := f.Write([]byte(big))
	require.NoError(t, err)
	assert.Equal(t, big, read(t, path), "a write larger than MaxSize goes whole into a file")
	_, err = f.Write([]byte("y\n"))
	require.NoError(t, err)
	assert.Equal(t, "y\n", read(t, path))
	assert.Equal(t, big, read(t, path+".1"))
}

func TestOnOpenSeesEveryFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prox.log")
	var opened []string
	f := New(path, Options{MaxSize: 4, Backups: 1, OnOpen: func(f *os.File) { opened = append(opened, f.Name()) }})
	t.Cleanup(func() { _ = f.Close() })
	assert.Empty(t, opened, "nothing is opened before the first write")
	for range 3 {
		_, err := f.Write([]byte("abc\n"))
		require.NoError(t, err)
	}
	assert.Equal(t, []string{path, path, path}, opened)
}

func TestConcurrentWritesKeepWholeLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "prox.log")
	const writers, lines = 8, 200
	f := New(path, Options{MaxSize: 1 << 10, Backups: 1000})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				_, err := fmt.Fprintf(f, "writer %d line %03d\n", w, i)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.NoError(t, f.Close())
	// Every line is in exactly one file, whole.
	files, err := filepath.Glob(path + "*")
	require.NoError(t, err)
	seen := map[string]int{}
	for _, name := range files {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(b), 1<<10, name)
		for _, l := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
			seen[string(l)]++
		}
	}
	assert.Len(t, seen, writers*lines)
	for l, n := range seen {
		assert.Equal(t, 1, n, l)
		assert.Regexp(t, `^writer \d line \d{3}$`, l)
	}
}

func TestAMissingFolderIsAnError(t *testing.T) {
	f := New(filepath.Join(t.TempDir(), "no", "prox.log"), Options{})
	_, err := f.Write([]byte("x\n"))
	assert.ErrorContains(t, err, "open the log file")
}
