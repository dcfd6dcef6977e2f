package workload

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prox-dev/prox/bench/internal/lines"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingWriter records the size of every write.
type countingWriter struct {
	bytes.Buffer
	writes []int
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.writes = append(w.writes, len(b))
	return w.Buffer.Write(b)
}

func TestWriteLinesWritesCheckableRecordsInLargeWrites(t *testing.T) {
	var w countingWriter
	require.NoError(t, WriteLines(&w, "p1", 10000, 100))
	assert.Equal(t, 10000*100, w.Len())
	for _, n := range w.writes[:len(w.writes)-1] {
		assert.GreaterOrEqual(t, n, writeChunk)
	}
	c, err := lines.NewChecker(100, map[string]int{"p1": 10000})
	require.NoError(t, err)
	require.NoError(t, c.Check(&w.Buffer))
	r := c.Report()
	assert.True(t, r.Intact, "%+v", r)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteLinesErrors(t *testing.T) {
	require.ErrorContains(t, WriteLines(failingWriter{}, "p", 10, 100), "broken pipe")
	require.ErrorContains(t, WriteLines(failingWriter{}, "p", 1, 100), "broken pipe")
	require.Error(t, WriteLines(&bytes.Buffer{}, "bad tag", 1, 100))
	require.Error(t, WriteLines(&bytes.Buffer{}, "p", -1, 100))
	var b bytes.Buffer
	require.NoError(t, WriteLines(&b, "p", 0, 100))
	assert.Zero(t, b.Len())
}

func TestReportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	r := &LinesReport{Tag: "p1", Lines: 5, Size: 100, StartUnixNano: 1, EndUnixNano: 2}
	require.NoError(t, r.SelfUsage())
	assert.Positive(t, r.MaxRSSKiB)
	require.NoError(t, WriteReport(filepath.Join(dir, "p1.json"), r))
	require.NoError(t, WriteReport(filepath.Join(dir, "p2.json"), &LinesReport{Tag: "p2", UserSeconds: 1.5, SystemSeconds: 0.25}))
	got, err := ReadReports(dir)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, *r, got[0])
	assert.InDelta(t, 1.75, got[1].CPUSeconds(), 1e-9)
	_, err = ReadReports(filepath.Join(dir, "missing"))
	require.Error(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{"), 0o644))
	_, err = ReadReports(dir)
	require.ErrorContains(t, err, "bad.json")
}

func TestReadyMarks(t *testing.T) {
	dir := t.TempDir()
	assert.Zero(t, CountReady(filepath.Join(dir, "missing")))
	before := time.Now()
	require.NoError(t, MarkReady(dir))
	require.NoError(t, MarkReady("")) // no folder: nothing to do
	// A second process's mark, and a temporary file that does not count.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "1"), []byte("5\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".2.tmp"), []byte("x"), 0o644))
	assert.Equal(t, 2, CountReady(dir))
	times, err := ReadyTimes(dir)
	require.NoError(t, err)
	require.Len(t, times, 2)
	assert.Equal(t, time.Unix(0, 5), times[0])
	assert.False(t, times[1].Before(before.Truncate(time.Microsecond)))
	b, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(os.Getpid())))
	require.NoError(t, err)
	assert.NotEmpty(t, b)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "3"), []byte("soon"), 0o644))
	_, err = ReadyTimes(dir)
	require.Error(t, err)
}

func TestStarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "starts.txt")
	got, err := ReadStarts(path)
	require.NoError(t, err)
	assert.Empty(t, got)
	for range 3 {
		require.NoError(t, RecordStart(path))
	}
	got, err = ReadStarts(path)
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.False(t, got[2].Before(got[0]))

	require.NoError(t, os.WriteFile(path, []byte("x 1\n"), 0o644))
	_, err = ReadStarts(path)
	require.Error(t, err)
	require.Error(t, RecordStart(filepath.Join(t.TempDir(), "no", "such", "dir")))
}
