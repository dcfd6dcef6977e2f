package logs

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fill reads data into b as one read would, returning how much fit.
func fill(b *readBuffer, maxLen int, data []byte) int {
	n := copy(b.space(maxLen), data)
	b.filled(n)
	return n
}

func TestReadBufferGrowsWhileReadsFillIt(t *testing.T) {
	var b readBuffer
	sizes := []int{}
	for range 8 {
		b.compact()
		space := b.space(DefaultMaxLineLength)
		sizes = append(sizes, len(b.buf))
		// A full read of complete lines: everything is emitted.
		b.filled(len(space))
		b.consume(len(b.pending()))
	}
	k4, k64, k256 := 4<<10, 64<<10, 256<<10
	assert.Equal(t, []int{k4, k4, k64, k64, k256, k256, k256, k256}, sizes,
		"4 KiB, then 64 KiB after two full reads, then 256 KiB after two more, no further")
}

func TestReadBufferStaysSmallWhenReadsDoNotFillIt(t *testing.T) {
	var b readBuffer
	for range 10 {
		b.compact()
		require.Equal(t, 100, fill(&b, DefaultMaxLineLength, bytes.Repeat([]byte("q"), 100)))
		b.consume(100)
		require.Len(t, b.buf, initialReadSize)
	}
	assert.True(t, b.quiet(), "nothing pending, no full read")
	b.release()
	assert.Nil(t, b.buf, "released")
	assert.Len(t, b.space(DefaultMaxLineLength), initialReadSize, "small again")
}

func TestReadBufferDoublesForALongUnfinishedLine(t *testing.T) {
	var b readBuffer
	const maxLen = 10_000
	long := bytes.Repeat([]byte("L"), maxLen)
	var sizes []int
	for len(b.pending()) < maxLen {
		b.compact()
		fill(&b, maxLen, long[len(b.pending()):])
		sizes = append(sizes, len(b.buf))
	}
	assert.Equal(t, []int{4096, 8192, maxLen + 1}, sizes, "doubled, up to what a line of maxLen needs")
	assert.Equal(t, long, b.pending(), "the unfinished line moved intact")
}

func TestReadBufferCompactsPendingBytes(t *testing.T) {
	var b readBuffer
	fill(&b, DefaultMaxLineLength, []byte("done\npart"))
	b.consume(5)
	b.compact()
	assert.Equal(t, 5, b.start, "room left at the end: nothing moves")
	// Fill the rest of the buffer: now the pending bytes move to the start.
	rest := bytes.Repeat([]byte("r"), len(b.buf)-b.end)
	fill(&b, DefaultMaxLineLength, rest)
	b.consume(len(b.pending()) - 4) // "rrrr" pending
	b.compact()
	assert.Zero(t, b.start)
	assert.Equal(t, "rrrr", string(b.pending()))
	// All emitted: start over at the beginning.
	b.consume(4)
	b.compact()
	assert.Zero(t, b.start)
	assert.Zero(t, b.end)
}

func TestReadBufferHandOverNeverOverwritesAnEmittedLine(t *testing.T) {
	var b readBuffer
	// A read that is mostly lines: the buffer goes with them.
	line := bytes.Repeat([]byte("x"), 1500)
	data := append(append(append([]byte(nil), line...), '\n'), "pend"...)
	readStart := b.start
	fill(&b, DefaultMaxLineLength, data)
	emitted := b.pending()[:len(line):len(line)]
	b.consume(len(line) + 1)
	require.True(t, b.keep(readStart), "1,501 of 4,096 bytes are lines: handed over")
	old := b.buf
	// Many reads (3,200 bytes) that leave pending bytes: compaction must
	// never move them over the emitted line.
	for i := range 800 {
		b.compact()
		readStart = b.start
		fill(&b, DefaultMaxLineLength, []byte("y\nzz"))
		if i%2 == 0 {
			b.consume(len(b.pending()) - 2)
		} else {
			b.consume(len(b.pending())) // nothing pending
		}
		b.keep(readStart)
		require.Equal(t, string(line), string(emitted), "the emitted line is intact")
	}
	assert.NotSame(t, &old[0], &b.buf[0], "once little room was left, reads went to a new buffer")
	assert.Equal(t, string(line), string(old[:len(line)]))
	// A grown buffer is a new one too: the handed-over one stays as it is.
	b.handedOver = true
	before := b.buf
	b.fullReads = readGrowAfter
	b.space(DefaultMaxLineLength)
	assert.False(t, b.handedOver)
	assert.NotSame(t, &before[0], &b.buf[0])
}

func TestReadBufferKeepsLinesOnlyWhenTheyAreAGoodShare(t *testing.T) {
	var b readBuffer
	fill(&b, DefaultMaxLineLength, []byte("short\n"))
	b.consume(6)
	assert.False(t, b.keep(0), "6 of 4,096 bytes: the lines are to be copied")
	assert.False(t, b.handedOver)
	b.compact()
	assert.Zero(t, b.start, "not handed over: the buffer is reused from the start")
}

func TestSplitLines(t *testing.T) {
	cases := []struct {
		name    string
		data    string
		maxLen  int
		final   bool
		want    []string
		took    int
		scanned int
	}{
		{"lines", "a\nbc\n\nd", 8, false, []string{"a", "bc", ""}, 6, 0},
		{"carriage return kept", "a\r\n", 8, false, []string{"a\r"}, 3, 0},
		{"no newline yet", "abc", 8, false, nil, 0, 0},
		{"final partial line", "a\nbc", 8, true, []string{"a", "bc"}, 4, 0},
		{"final with nothing pending", "a\n", 8, true, []string{"a"}, 2, 0},
		{"long line cut", "123456789abcdefghij\n", 8, false, []string{"12345678", "9abcdefg", "hij"}, 20, 0},
		{"exactly max cut cleanly", "1234567812345678\n", 8, false, []string{"12345678", "12345678"}, 17, 0},
		{"pending over max cut", "123456789ab", 8, false, []string{"12345678"}, 8, 0},
		{"pending of exactly max waits", "12345678", 8, false, nil, 0, 0},
		{"pending of exactly max at the end", "12345678", 8, true, []string{"12345678"}, 8, 0},
		{"scanned prefix skipped", "ab\ncd\n", 8, false, []string{"ab\ncd"}, 6, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			entry := LogEntry{Process: "p"}
			data := []byte(tc.data)
			lines, took := splitLines(nil, entry, data, tc.scanned, tc.maxLen, tc.final)
			var got []string
			for _, e := range lines {
				assert.Equal(t, "p", e.Process)
				assert.Equal(t, len(e.Line), cap(e.Line), "an append must not reach the next line")
				got = append(got, string(e.Line))
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.took, took)
		})
	}
}

func TestSplitLinesPointsIntoItsInput(t *testing.T) {
	data := []byte("one\ntwo\n")
	lines, _ := splitLines(nil, LogEntry{}, data, 0, 8, false)
	require.Len(t, lines, 2)
	assert.Same(t, &data[4], &lines[1].Line[0], "no copy")
}
