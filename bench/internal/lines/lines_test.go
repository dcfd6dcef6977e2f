package lines

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// records returns records from..to-1 of tag, each on its own line.
func records(t *testing.T, tag string, size int, from, to uint64) []string {
	t.Helper()
	f, err := NewFormatter(tag, size)
	require.NoError(t, err)
	var out []string
	for s := from; s < to; s++ {
		out = append(out, strings.TrimSuffix(string(f.Record(s)), "\n"))
	}
	return out
}

func check(t *testing.T, size int, counts map[string]int, lines ...string) Report {
	t.Helper()
	c, err := NewChecker(size, counts)
	require.NoError(t, err)
	input := strings.Join(lines, "\n")
	if len(lines) > 0 {
		input += "\n"
	}
	require.NoError(t, c.Check(strings.NewReader(input)))
	return c.Report()
}

func TestRecordFormat(t *testing.T) {
	f, err := NewFormatter("p1", 40)
	require.NoError(t, err)
	r := string(f.Record(27))
	assert.Equal(t, "<p1:0000000027>bcdefghijklmnopqrstuvwxy\n", r)
	assert.Len(t, r, 40)
	assert.Equal(t, 40, f.Size())
	r = string(f.AppendRecord([]byte("x"), 0))
	assert.Equal(t, "x<p1:0000000000>abcdefghijklmnopqrstuvwx\n", r)
}

func TestFormatterRejects(t *testing.T) {
	_, err := NewFormatter("bad tag", 100)
	require.ErrorContains(t, err, "invalid tag")
	_, err = NewFormatter("p1", MinSize("p1")-1)
	require.ErrorContains(t, err, "too small")
	_, err = NewFormatter(strings.Repeat("t", MaxTagLength+1), 200)
	require.ErrorContains(t, err, "invalid tag")
	_, err = NewFormatter("p1", MinSize("p1"))
	require.NoError(t, err)
}

func TestCheckerAllIntact(t *testing.T) {
	in := append(records(t, "a", 100, 0, 500), records(t, "b", 100, 0, 300)...)
	r := check(t, 100, map[string]int{"a": 500, "b": 300}, in...)
	assert.True(t, r.Intact, "%+v", r)
	assert.EqualValues(t, 800, r.Unique)
	assert.EqualValues(t, 800, r.Records)
	assert.EqualValues(t, 0, r.Missing)
	assert.EqualValues(t, 800*100, r.Bytes)
}

func TestCheckerToleratesPrefixesAndOtherLines(t *testing.T) {
	var in []string
	for i, l := range records(t, "p1", 100, 0, 50) {
		if i%2 == 0 {
			l = "2026-11-26T03:12:34.849123456Z p1 | " + l
		}
		in = append(in, l)
	}
	in = append(in, "--- prox: process p1 exited (code 0)", "")
	r := check(t, 100, map[string]int{"p1": 50}, in...)
	assert.True(t, r.Intact, "%+v", r)
	assert.EqualValues(t, 2, r.Other)
}

func TestCheckerFindsEachDefect(t *testing.T) {
	rec := records(t, "p", 60, 0, 10)
	tests := []struct {
		name  string
		lines []string
		want  func(r Report) int64
		wantN int64
	}{
		{"lost", append(append([]string{}, rec[:4]...), rec[5:]...), func(r Report) int64 { return r.Missing }, 1},
		{"duplicated", append(append([]string{}, rec...), rec[3]), func(r Report) int64 { return r.Duplicates }, 1},
		{"out of order", append([]string{rec[1], rec[0]}, rec[2:]...), func(r Report) int64 { return r.OutOfOrder }, 1},
		{"merged", append(append([]string{}, rec[:2]...), append([]string{rec[2] + rec[3]}, rec[4:]...)...), func(r Report) int64 { return r.Merged }, 1},
		{"cut in two", append(append([]string{}, rec[:2]...), append([]string{rec[2][:30], rec[2][30:]}, rec[3:]...)...),
			func(r Report) int64 { return r.Cut + r.Fragments }, 2},
		{"corrupted", append(append([]string{}, rec[:2]...), append([]string{strings.Replace(rec[2], "fgh", "fXh", 1)}, rec[3:]...)...),
			func(r Report) int64 { return r.Corrupt }, 1},
		{"too long", append(append([]string{}, rec[:2]...), append([]string{rec[2] + "abc"}, rec[3:]...)...),
			func(r Report) int64 { return r.Corrupt }, 1},
		{"unknown tag", append(append([]string{}, rec...), records(t, "q", 60, 0, 1)...), func(r Report) int64 { return r.Unknown }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := check(t, 60, map[string]int{"p": 10}, tc.lines...)
			assert.False(t, r.Intact, "%+v", r)
			assert.Equal(t, tc.wantN, tc.want(r), "%+v", r)
		})
	}
}

func TestCheckerCutRecordMissesItsSequence(t *testing.T) {
	rec := records(t, "p", 60, 0, 3)
	r := check(t, 60, map[string]int{"p": 3}, rec[0], rec[1][:20], rec[2])
	assert.EqualValues(t, 1, r.Cut)
	assert.EqualValues(t, 1, r.Missing)
	assert.False(t, r.Intact)
}

func TestCheckerUnterminatedLastLine(t *testing.T) {
	rec := records(t, "p", 60, 0, 2)
	c, err := NewChecker(60, map[string]int{"p": 2})
	require.NoError(t, err)
	require.NoError(t, c.Check(strings.NewReader(rec[0]+"\n"+rec[1])))
	r := c.Report()
	assert.EqualValues(t, 1, r.Unterminated)
	assert.EqualValues(t, 0, r.Missing)
	assert.False(t, r.Intact)
}

func TestCheckerLongLinesAcrossBuffer(t *testing.T) {
	// A 3 MB line without a header is one "other" line, however the reader
	// splits it.
	huge := strings.Repeat("zy", 3<<19)
	rec := records(t, "p", 60, 0, 2)
	r := check(t, 60, map[string]int{"p": 2}, rec[0], huge, rec[1])
	assert.True(t, r.Intact, "%+v", r)
	assert.EqualValues(t, 3, r.Lines)
	assert.EqualValues(t, 1, r.Other)
}

func TestCheckFileAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	f, err := NewFormatter("w", 80)
	require.NoError(t, err)
	var a, b bytes.Buffer
	for s := uint64(0); s < 1000; s++ {
		if s < 600 {
			a.Write(f.Record(s))
		} else {
			b.Write(f.Record(s))
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.log"), a.Bytes(), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.log"), b.Bytes(), 0o644))
	c, err := NewChecker(80, map[string]int{"w": 1000})
	require.NoError(t, err)
	require.NoError(t, c.CheckFile(filepath.Join(dir, "a.log")))
	require.NoError(t, c.CheckFile(filepath.Join(dir, "b.log")))
	r := c.Report()
	assert.True(t, r.Intact, "%+v", r)
	assert.Equal(t, 2, r.Files)
	require.ErrorContains(t, c.CheckFile(filepath.Join(dir, "nope.log")), "nope.log")
}

func TestNewCheckerRejects(t *testing.T) {
	_, err := NewChecker(100, map[string]int{"a b": 1})
	require.Error(t, err)
	_, err = NewChecker(10, map[string]int{"abc": 1})
	require.Error(t, err)
	_, err = NewChecker(100, map[string]int{"abc": -1})
	require.Error(t, err)
}
