package logs

import (
	"bytes"
	"errors"
	"io"
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
	f := &Framer{Process: "p", Stream: sdk.Stdout, MaxLineLength: maxLen, Emit: func(e LogEntry) {
		assert.Equal(t, "p", e.Process)
		assert.Equal(t, sdk.Stdout, e.Stream)
		assert.False(t, e.Timestamp.IsZero())
		lines = append(lines, string(e.Line))
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
	f := &Framer{Emit: func(e LogEntry) { lines = append(lines, string(e.Line)) }}
	err := f.Run(io.MultiReader(strings.NewReader("a\npart"), iotest.ErrReader(boom)))
	require.ErrorIs(t, err, boom)
	assert.Equal(t, []string{"a", "part"}, lines)
}
