package file

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// numberedLine is line i of a rotation test: lengths vary from 20 to 119
// bytes so that records never line up with the size limit.
func numberedLine(i int) string {
	return fmt.Sprintf("line %06d %s", i, strings.Repeat("x", 8+(i*37)%100))
}

// writeNumbered writes lines [from, to) in batches of batch lines.
func writeNumbered(t *testing.T, s *Sink, from, to, batch int) {
	t.Helper()
	for i := from; i < to; i += batch {
		b := &sdk.Batch{Seq: uint64(i/batch + 1)}
		for j := i; j < min(i+batch, to); j++ {
			b.Entries = append(b.Entries, entry("web", j, numberedLine(j)))
		}
		write(t, s, b)
	}
}

// rotatedFiles returns the files of path, oldest first (PATH.n .. PATH.1,
// PATH), requiring each to be at most maxSize and to end with a newline.
func rotatedFiles(t *testing.T, path string, maxSize int64) []string {
	t.Helper()
	var files []string
	for i := 1; ; i++ {
		if _, err := os.Stat(path + "." + strconv.Itoa(i)); err != nil {
			break
		}
		files = append([]string{path + "." + strconv.Itoa(i)}, files...)
	}
	files = append(files, path)
	for _, f := range files {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		assert.LessOrEqual(t, fi.Size(), maxSize, f)
	}
	return files
}

func TestRotationLosesAndSplitsNoLine(t *testing.T) {
	path := inDir(t, "web.log")
	const maxSize = 4000
	s := newSink(t, map[string]any{"path": path, "max_size": "4KB", "max_backups": 1000, "process_prefix": false})
	const n = 3000 // ~210 KB: about 50 rotations
	writeNumbered(t, s, 0, n, 13)

	files := rotatedFiles(t, path, maxSize)
	require.Greater(t, len(files), 40)
	var all []string
	for _, f := range files {
		ls := lines(t, readFile(t, f))
		require.NotEmpty(t, ls, f)
		all = append(all, ls...)
	}
	require.Len(t, all, n)
	for i, l := range all {
		require.Equal(t, numberedLine(i), l)
	}
}

func TestRotationKeepsMaxBackups(t *testing.T) {
	path := inDir(t, "web.log")
	const maxSize = 2048
	s := newSink(t, map[string]any{"path": path, "max_size": "2KiB", "max_backups": 3, "process_prefix": false})
	const n = 2000
	writeNumbered(t, s, 0, n, 7)

	files := rotatedFiles(t, path, maxSize)
	require.Equal(t, []string{path + ".3", path + ".2", path + ".1", path}, files)
	// What is kept is the newest lines, whole and in order, up to the last.
	var kept []string
	for _, f := range files {
		kept = append(kept, lines(t, readFile(t, f))...)
	}
	first := n - len(kept)
	require.Positive(t, first)
	for i, l := range kept {
		require.Equal(t, numberedLine(first+i), l)
	}
}

func TestRotationWithoutBackups(t *testing.T) {
	path := inDir(t, "web.log")
	s := newSink(t, map[string]any{"path": path, "max_size": "1KB", "max_backups": 0, "process_prefix": false})
	writeNumbered(t, s, 0, 200, 10)
	assert.Equal(t, []string{path}, rotatedFiles(t, path, 1000))
	ls := lines(t, readFile(t, path))
	require.NotEmpty(t, ls)
	assert.Equal(t, numberedLine(199), ls[len(ls)-1])
}

func TestOversizedBatchGetsAFileOfItsOwn(t *testing.T) {
	path := inDir(t, "web.log")
	s := newSink(t, map[string]any{"path": path, "max_size": "100B", "max_backups": 5, "process_prefix": false})
	long := strings.Repeat("L", 250)
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("web", 0, "short 1")}})
	write(t, s, &sdk.Batch{Seq: 2, Entries: []sdk.LogEntry{entry("web", 1, long)}})
	write(t, s, &sdk.Batch{Seq: 3, Entries: []sdk.LogEntry{entry("web", 2, "short 2")}})
	assert.Equal(t, "short 1\n", readFile(t, path+".2"))
	assert.Equal(t, long+"\n", readFile(t, path+".1"))
	assert.Equal(t, "short 2\n", readFile(t, path))
}

func TestRotationOnlyBetweenBatches(t *testing.T) {
	// A batch's lines for a file go into one file, so that a resent batch
	// finds them there (state.go): the file rotates before the batch that
	// would overfill it, and a batch larger than max_size is the whole of
	// its file.
	path := inDir(t, "web.log")
	s := newSink(t, map[string]any{"path": path, "max_size": "100B", "max_backups": 5, "process_prefix": false})
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("web", 0, strings.Repeat("a", 59))}})
	write(t, s, &sdk.Batch{Seq: 2, Entries: []sdk.LogEntry{entry("web", 1, strings.Repeat("b", 39)), entry("web", 2, strings.Repeat("c", 39))}})
	write(t, s, &sdk.Batch{Seq: 3, Entries: []sdk.LogEntry{entry("web", 3, strings.Repeat("d", 9))}})
	assert.Equal(t, strings.Repeat("a", 59)+"\n", readFile(t, path+".1"), "60 + 80 bytes > 100: rotated before batch 2")
	assert.Equal(t, strings.Repeat("b", 39)+"\n"+strings.Repeat("c", 39)+"\n"+strings.Repeat("d", 9)+"\n", readFile(t, path))

	big := &sdk.Batch{Seq: 4}
	for i := range 5 {
		big.Entries = append(big.Entries, entry("web", 4+i, strings.Repeat("e", 49)))
	}
	write(t, s, big)
	assert.Equal(t, strings.Repeat(strings.Repeat("e", 49)+"\n", 5), readFile(t, path), "a 250-byte batch: a file of its own")
	assert.Equal(t, strings.Repeat("b", 39)+"\n"+strings.Repeat("c", 39)+"\n"+strings.Repeat("d", 9)+"\n", readFile(t, path+".1"))
}

func TestInterruptedRotationIsCompleted(t *testing.T) {
	// A plugin killed in the middle of a rotation's renames left web.log,
	// web.log.1 and web.log.3: web.log.2 was renamed web.log.3, web.log.3
	// (the oldest) was removed before. The next rotation completes it:
	// every backup moves up once, none is removed.
	dir := t.TempDir()
	path := filepath.Join(dir, "web.log")
	for name, content := range map[string]string{"web.log": "current\n", "web.log.1": "one\n", "web.log.3": "two\n"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	s := newSink(t, map[string]any{"path": path, "max_size": "10B", "max_backups": 3, "process_prefix": false})
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("web", 0, "new")}})
	assert.Equal(t, "new\n", readFile(t, path))
	assert.Equal(t, "current\n", readFile(t, path+".1"))
	assert.Equal(t, "one\n", readFile(t, path+".2"))
	assert.Equal(t, "two\n", readFile(t, path+".3"))
	assert.NoFileExists(t, path+".4")

	// Without a gap, the oldest goes.
	write(t, s, &sdk.Batch{Seq: 2, Entries: []sdk.LogEntry{entry("web", 1, "newer 12345")}})
	assert.Equal(t, "newer 12345\n", readFile(t, path))
	assert.Equal(t, "new\n", readFile(t, path+".1"))
	assert.Equal(t, "current\n", readFile(t, path+".2"))
	assert.Equal(t, "one\n", readFile(t, path+".3"))
}

func TestNoRotationWhenMaxSizeIsZero(t *testing.T) {
	path := inDir(t, "web.log")
	s := newSink(t, map[string]any{"path": path, "max_size": "0", "process_prefix": false})
	writeNumbered(t, s, 0, 1000, 100)
	assert.Equal(t, []string{path}, rotatedFiles(t, path, 1<<20))
	assert.Len(t, lines(t, readFile(t, path)), 1000)
}

func TestSpecialFilesAreNeverRotated(t *testing.T) {
	// A path that is not a regular file (here a named pipe; /dev/null and
	// /dev/stdout alike) is written to, never renamed nor synced: rotating
	// /dev/null would replace it with a regular file for the whole machine.
	path := inDir(t, "pipe")
	require.NoError(t, syscall.Mkfifo(path, 0o600))
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(path)
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- string(b)
	}()
	s := newSink(t, map[string]any{"path": path, "max_size": "1KB", "max_backups": 2, "process_prefix": false})
	writeNumbered(t, s, 0, 200, 10)
	require.NoError(t, s.Flush(context.Background()))
	require.NoError(t, s.Close(context.Background()))

	fi, err := os.Lstat(path)
	require.NoError(t, err)
	assert.Equal(t, os.ModeNamedPipe, fi.Mode().Type(), "still the named pipe")
	_, err = os.Lstat(path + ".1")
	assert.ErrorIs(t, err, os.ErrNotExist, "no backup")
	select {
	case out := <-got:
		ls := lines(t, out)
		require.Len(t, ls, 200)
		assert.Equal(t, numberedLine(199), ls[199])
	case <-time.After(10 * time.Second):
		t.Fatal("the reader of the pipe got no end of file")
	}
}

func TestPerProcessFilesRotateIndependently(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, map[string]any{"path": dir + "/{process}.log", "max_size": "1KB", "max_backups": 10})
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("quiet", 0, "hello")}})
	for i := 0; i < 100; i += 5 {
		b := &sdk.Batch{Seq: uint64(2 + i)}
		for j := i; j < i+5; j++ {
			b.Entries = append(b.Entries, entry("chatty", j, numberedLine(j)))
		}
		write(t, s, b)
	}
	_, err := os.Stat(dir + "/chatty.log.1")
	assert.NoError(t, err)
	_, err = os.Stat(dir + "/quiet.log.1")
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Equal(t, "hello\n", readFile(t, dir+"/quiet.log"))
}

func TestMaxAgeRemovesOldBackups(t *testing.T) {
	path := inDir(t, "web.log")
	s := newSink(t, map[string]any{"path": path, "max_size": "1KB", "max_backups": 5, "max_age": "168h", "process_prefix": false})
	// Two rotations: PATH.1 and PATH.2 exist.
	for i := 0; !exists(path + ".2"); i++ {
		require.Less(t, i, 1000)
		write(t, s, &sdk.Batch{Seq: uint64(i + 1), Entries: []sdk.LogEntry{entry("web", i, numberedLine(i))}})
	}
	// Both become eight days old.
	old := time.Now().Add(-8 * 24 * time.Hour)
	for _, p := range []string{path + ".1", path + ".2"} {
		require.NoError(t, os.Chtimes(p, old, old))
	}
	// The next rotation shifts them to PATH.2 and PATH.3 and removes them as
	// expired; the file just rotated (PATH.1) is kept.
	// A rotation is seen as the current file getting smaller.
	for i, prev := 1000, size(t, path); ; i++ {
		require.Less(t, i, 2000)
		write(t, s, &sdk.Batch{Seq: uint64(i + 1), Entries: []sdk.LogEntry{entry("web", i, numberedLine(i))}})
		cur := size(t, path)
		if cur < prev {
			break
		}
		prev = cur
	}
	assert.True(t, exists(path+".1"), "the file just rotated is young")
	assert.False(t, exists(path+".2"), "expired backup kept")
	assert.False(t, exists(path+".3"), "expired backup kept")
}

func TestMaxAgeAppliesOnOpen(t *testing.T) {
	path := inDir(t, "web.log")
	old := time.Now().Add(-2 * time.Hour)
	for _, p := range []string{path + ".1", path + ".2"} {
		require.NoError(t, os.WriteFile(p, []byte("x\n"), 0o644))
	}
	require.NoError(t, os.Chtimes(path+".2", old, old))
	newSink(t, map[string]any{"path": path, "max_age": "1h"})
	assert.True(t, exists(path+".1"), "young backup removed")
	assert.False(t, exists(path+".2"), "expired backup kept")
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}
