package logs

// Arena chunk sizes: lines are carved from chunks that start small and
// double up to maxChunk, so a quiet process costs little and a busy one
// allocates once per many lines. Lines longer than maxArenaLine get their
// own allocation.
const (
	minChunk     = 1 << 10
	maxChunk     = 32 << 10
	maxArenaLine = maxChunk / 4
)

// arena copies lines into shared chunks whose bytes are never written
// again: a chunk is only ever appended to, and a full one is left to the
// lines that use it. The zero value is ready to use; it is not safe for
// concurrent use.
type arena struct {
	chunk []byte // lines are carved from chunk[len(chunk):cap(chunk)]
}

// copy returns a copy of line whose capacity equals its length, so that a
// reader's append reallocates instead of overwriting the next line.
func (a *arena) copy(line []byte) []byte {
	n := len(line)
	if n > maxArenaLine {
		// Not append, which may round the capacity up.
		own := make([]byte, n)
		copy(own, line)
		return own
	}
	if cap(a.chunk)-len(a.chunk) < n || a.chunk == nil {
		size := min(max(2*cap(a.chunk), minChunk), maxChunk)
		a.chunk = make([]byte, 0, size)
	}
	start := len(a.chunk)
	a.chunk = append(a.chunk, line...)
	return a.chunk[start : start+n : start+n]
}
