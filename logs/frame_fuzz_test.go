package logs

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/require"
)

// How FuzzFramer reads a stream, from the bits of its mode argument.
// Bits 0 and 1 chose between the framer's modes, which are one since
// issue 17; they are left unused, so that the corpus keeps its meaning.
const (
	// fuzzEOFWithData: the last read returns its bytes with the end.
	fuzzEOFWithData = 1 << (iota + 2)
	// fuzzReadError: the stream ends with an error instead of io.EOF.
	fuzzReadError
	// fuzzWaiter: the reader is a ReadWaiter, so the framer drops its
	// buffer while the stream is quiet.
	fuzzWaiter
)

// maxFuzzInput bounds the input of FuzzFramer, so that every run is quick.
const maxFuzzInput = 256 << 10

// errFuzzRead ends a stream of FuzzFramer with fuzzReadError.
var errFuzzRead = errors.New("fuzz read error")

// FuzzFramer feeds arbitrary bytes to a Framer in reads whose sizes come
// from cuts, and checks the framing: the lines and the newlines after them
// give back exactly the input; no line is longer than the maximum; a line
// not followed by a newline at the input is a piece of a longer line (of
// exactly the maximum) or the final partial line; the lines are the same
// whatever the read boundaries; no emitted line is written over (the test
// keeps the lines it was given without copying them).
//
// The input is data repeated 1+repeat%32 times, so that a small input can
// fill and grow the read buffer. maxLen 0 is the default maximum.
func FuzzFramer(f *testing.F) {
	// TestFramer's cases, each read whole and one byte at a time.
	for _, c := range []struct {
		input  string
		maxLen uint16
	}{
		{"", 8}, {"hello\n", 8}, {"a\nb", 8}, {"\n\nx\n", 8}, {"a\r\n", 8},
		{"12345678\n", 8}, {"123456789abcdefghij\n", 8}, {"123456789", 8},
		{"\xff\xfe ok\n", 8}, {"a\npart", 0},
	} {
		f.Add([]byte(c.input), []byte{}, c.maxLen, uint8(0), uint8(0))
		f.Add([]byte(c.input), bytes.Repeat([]byte{1}, len(c.input)), c.maxLen, uint8(fuzzEOFWithData), uint8(0))
	}
	// Many short lines in large reads: the buffer grows and is handed
	// over with its lines; then quiet reads.
	f.Add([]byte("line of a busy process\n"), []byte{0xff, 0xff, 0xff, 0xff, 3, 50}, uint16(0), uint8(fuzzWaiter), uint8(31))
	// A line longer than the maximum, arriving in pieces.
	f.Add([]byte("0123456789abcdefghijklmnopqrstuvwxyz\n"), []byte{5, 0, 7, 30, 1}, uint16(10), uint8(fuzzReadError), uint8(2))

	f.Fuzz(func(t *testing.T, data, cuts []byte, maxLen uint16, mode, repeat uint8) {
		if len(data) > maxFuzzInput {
			t.Skip("input too long")
		}
		input := bytes.Repeat(data, min(1+int(repeat)%32, maxFuzzInput/max(len(data), 1)))
		maxLine := int(maxLen)
		if maxLine == 0 {
			maxLine = DefaultMaxLineLength
		}
		end := io.EOF
		if mode&fuzzReadError != 0 {
			end = errFuzzRead
		}

		// The reference: the whole input, read as a bytes.Reader serves it.
		want, err := fuzzFrame(&Framer{MaxLineLength: int(maxLen)}, bytes.NewReader(input))
		require.NoError(t, err)

		r := &cutReader{data: input, cuts: cuts, end: end, eofWithData: mode&fuzzEOFWithData != 0}
		var src io.Reader = r
		if mode&fuzzWaiter != 0 {
			src = &cutWaiter{r}
		}
		fr := &Framer{Process: "p", Stream: sdk.Stderr, MaxLineLength: int(maxLen)}
		got, err := fuzzFrame(fr, src)
		if end == io.EOF {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, end)
		}

		checkFraming(t, input, got, maxLine)
		// Whatever the read boundaries, the same lines.
		if len(got) != len(want) {
			t.Fatalf("%d lines, but %d from the input read whole", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i].Line, want[i].Line) {
				t.Fatalf("line %d is %q, but %q from the input read whole", i, got[i].Line, want[i].Line)
			}
		}
	})
}

// checkFraming checks that lines, framed from input with the maximum max,
// and the newlines after them are the input, and that the framer's own
// slices of the lines were not written over.
func checkFraming(t *testing.T, input []byte, lines []LogEntry, max int) {
	t.Helper()
	pos := 0
	for i, e := range lines {
		l := e.Line
		switch {
		case e.Process != "p" || e.Stream != sdk.Stderr || e.Timestamp.IsZero():
			t.Fatalf("line %d is labelled %q %v at %v", i, e.Process, e.Stream, e.Timestamp)
		case len(l) > max:
			t.Fatalf("line %d is %d bytes long, more than the maximum %d", i, len(l), max)
		case len(l) != cap(l):
			// Appending to a kept line would write over the next one.
			t.Fatalf("line %d: %d bytes, %d of capacity", i, len(l), cap(l))
		case pos+len(l) > len(input) || !bytes.Equal(l, input[pos:pos+len(l)]):
			t.Fatalf("line %d is %q, not the input at %d", i, l, pos)
		case bytes.IndexByte(l, '\n') >= 0:
			t.Fatalf("line %d holds a newline: %q", i, l)
		}
		pos += len(l)
		if pos < len(input) && input[pos] == '\n' {
			pos++
			continue
		}
		// No newline after it: a piece of a longer line, or the final
		// partial line.
		switch {
		case i < len(lines)-1 && len(l) != max:
			t.Fatalf("line %d (%q) ends without a newline, but is not a piece of a longer line", i, l)
		case i == len(lines)-1 && pos != len(input):
			t.Fatalf("the last line (%q) ends at %d of %d bytes", l, pos, len(input))
		case i == len(lines)-1 && len(l) == 0:
			t.Fatalf("an empty final partial line")
		}
	}
	if pos != len(input) {
		t.Fatalf("the lines stop at %d of %d bytes", pos, len(input))
	}
}

// fuzzFrame runs f on r and returns the entries, the framer's own slices
// of the lines, held for good as the log manager holds what it keeps.
func fuzzFrame(f *Framer, r io.Reader) ([]LogEntry, error) {
	var out []LogEntry
	f.Emit = func(es []LogEntry, b *Block) {
		b.hold(len(es))
		out = append(out, es...)
	}
	err := f.Run(r)
	return out, err
}

// cutReader serves data in reads of sizes taken from cuts, one byte per
// read: a size below 0xf0, 0 being an empty read; 0xf0 and up, or no cut
// left, fills the read. The stream then ends with end, alone or (with
// eofWithData) with the last bytes.
type cutReader struct {
	data        []byte
	cuts        []byte
	end         error
	eofWithData bool
}

func (r *cutReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.end
	}
	n := len(p)
	if len(r.cuts) > 0 {
		if c := r.cuts[0]; c < 0xf0 {
			n = min(n, int(c))
		}
		r.cuts = r.cuts[1:]
	}
	n = copy(p[:n], r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 && r.eofWithData {
		return n, r.end
	}
	return n, nil
}

// cutWaiter is a cutReader that is also a ReadWaiter: it tells the
// framer, one read in two, that nothing is there yet.
type cutWaiter struct{ *cutReader }

// Readable implements ReadWaiter.
func (w *cutWaiter) Readable() bool { return len(w.cuts)%2 == 0 }

// WaitReadable implements ReadWaiter.
func (w *cutWaiter) WaitReadable() error { return nil }
