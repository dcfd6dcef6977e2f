package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func frame(t *testing.T, r io.Reader, maxLen int) []string {
	t.Helper()
	var lines []string
	f := &Framer{Process: "p", Stream: sdk.Stdout, MaxLineLength: maxLen, Emit: func(batch []LogEntry, _ *Block) {
		for _, e := range batch {
			assert.Equal(t, "p", e.Process)
			assert.Equal(t, sdk.Stdout, e.Stream)
			assert.False(t, e.Timestamp.IsZero())
			lines = append(lines, string(e.Line))
		}
	}}
	require.NoError(t, f.Run(r))
	return lines
}

func TestFramer(t *testing.T) {
	cases := []struct {
		name   string
		input  string
		maxLen int
		want   []string
	}{
		{"empty", "", 8, nil},
		{"one line", "hello\n", 8, []string{"hello"}},
		{"partial last line flushed", "a\nb", 8, []string{"a", "b"}},
		{"empty lines kept", "\n\nx\n", 8, []string{"", "", "x"}},
		{"carriage return kept", "a\r\n", 8, []string{"a\r"}},
		{"exactly max", "12345678\n", 8, []string{"12345678"}},
		{"split long line", "123456789abcdefghij\n", 8, []string{"12345678", "9abcdefg", "hij"}},
		{"split long partial", "123456789", 8, []string{"12345678", "9"}},
		{"invalid utf8 intact", "\xff\xfe ok\n", 8, []string{"\xff\xfe ok"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, frame(t, strings.NewReader(tc.input), tc.maxLen))
			// One byte per read must give the same lines.
			assert.Equal(t, tc.want, frame(t, iotest.OneByteReader(strings.NewReader(tc.input)), tc.maxLen), "one byte reads")
		})
	}
}

func TestFramerManyLinesIntact(t *testing.T) {
	var in bytes.Buffer
	var want []string
	for i := 0; i < 20000; i++ {
		l := strings.Repeat(string(rune('a'+i%26)), i%300)
		want = append(want, l)
		in.WriteString(l + "\n")
	}
	assert.Equal(t, want, frame(t, iotest.HalfReader(&in), 0))
}

func TestFramerReadErrorFlushesPartial(t *testing.T) {
	boom := errors.New("boom")
	var lines []string
	f := &Framer{Emit: func(batch []LogEntry, _ *Block) {
		for _, e := range batch {
			lines = append(lines, string(e.Line))
		}
	}}
	err := f.Run(io.MultiReader(strings.NewReader("a\npart"), iotest.ErrReader(boom)))
	require.ErrorIs(t, err, boom)
	assert.Equal(t, []string{"a", "part"}, lines)
}

// sizeRecorder serves data, filling every read it can, and records the
// size of each buffer it was given.
type sizeRecorder struct {
	r     io.Reader
	sizes []int
}

func (s *sizeRecorder) Read(b []byte) (int, error) {
	s.sizes = append(s.sizes, len(b))
	return s.r.Read(b)
}

func TestFramerGrowsItsBufferForABusyStream(t *testing.T) {
	var in bytes.Buffer
	var want []string
	for i := range 20000 {
		l := fmt.Sprintf("line %d %s", i, strings.Repeat("x", i%150))
		want = append(want, l)
		in.WriteString(l + "\n")
	}
	rec := &sizeRecorder{r: &in}
	assert.Equal(t, want, frame(t, rec, 0), "lines intact across the change of buffer")
	// 4 KiB, 4 KiB, then 64 KiB twice, then 256 KiB reads.
	grownAt := 2 * readGrowAfter
	require.Greater(t, len(rec.sizes), grownAt+1)
	for i := range readGrowAfter {
		assert.LessOrEqual(t, rec.sizes[i], initialReadSize, "read %d: a stream starts with a small buffer", i)
	}
	assert.Greater(t, rec.sizes[grownAt], busyReadSize/2, "after %d full reads at each size the buffer is at its largest", readGrowAfter)
}

func TestFramerKeepsASmallBufferForAQuietStream(t *testing.T) {
	var in bytes.Buffer
	for i := range 1000 {
		fmt.Fprintf(&in, "quiet line %d\n", i)
	}
	// At most 100 bytes per read: never a full buffer.
	rec := &sizeRecorder{r: &limitedReader{r: &in, n: 100}}
	lines := frame(t, rec, 0)
	require.Len(t, lines, 1000)
	for i, n := range rec.sizes {
		require.LessOrEqual(t, n, initialReadSize, "read %d", i)
	}
}

func TestFramerGrowsForALongLineFromASmallBuffer(t *testing.T) {
	long := strings.Repeat("L", DefaultMaxLineLength)
	in := "a\n" + long + "\n" + long + "tail\nz"
	for _, r := range []io.Reader{strings.NewReader(in), &limitedReader{r: strings.NewReader(in), n: 1000}} {
		assert.Equal(t, []string{"a", long, long, "tail", "z"}, frame(t, r, 0))
	}
}

// limitedReader returns at most n bytes per read.
type limitedReader struct {
	r io.Reader
	n int
}

func (l *limitedReader) Read(b []byte) (int, error) {
	if len(b) > l.n {
		b = b[:l.n]
	}
	return l.r.Read(b)
}

// waitingReader is a ReadWaiter serving its chunks one per read, and
// counting the waits.
type waitingReader struct {
	chunks  []string
	sizes   []int // the buffer size of every read
	waits   int
	partial bool // the last read left part of its chunk
	gc      bool // each wait lasts long enough for a garbage collection
}

func (w *waitingReader) WaitReadable() error {
	w.waits++
	if w.gc {
		runtime.GC()
	}
	return nil
}

// Readable: a chunk is "already there" only in the middle of one.
func (w *waitingReader) Readable() bool { return w.partial }

func (w *waitingReader) Read(b []byte) (int, error) {
	w.sizes = append(w.sizes, len(b))
	if len(w.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(b, w.chunks[0])
	w.partial = n < len(w.chunks[0])
	if w.partial {
		w.chunks[0] = w.chunks[0][n:]
	} else {
		w.chunks = w.chunks[1:]
	}
	return n, nil
}

func TestFramerHoldsNoBufferWhileAQuietStreamWaits(t *testing.T) {
	burst := strings.Repeat(strings.Repeat("b", 99)+"\n", 20000) // 2 MB: grows the buffer
	for _, gc := range []bool{false, true} {
		r := &waitingReader{chunks: []string{"one\n", burst, "two\n", "three\n"}, gc: gc}
		lines := frame(t, r, 0)
		require.Len(t, lines, 20003)
		assert.Equal(t, []string{"one", "two", "three"}, []string{lines[0], lines[20001], lines[20002]})
		assert.GreaterOrEqual(t, r.waits, 3, "a wait before each quiet read")
		assert.Equal(t, initialReadSize, r.sizes[0], "the first read gets a small buffer")
		assert.Greater(t, slices.Max(r.sizes), busyReadSize/2, "the burst grew it")
		last := r.sizes[len(r.sizes)-1]
		if gc {
			assert.Equal(t, initialReadSize, last, "once quiet for a collection, the big buffer is gone")
		} else {
			assert.Greater(t, last, busyReadSize/2, "after a short pause, the spare big buffer is read into")
		}
	}
}
