package alerting

import "unicode/utf8"

// MaxLineBytes bounds a log line kept for an alert (a matching line or a
// context line); longer lines are cut at a character boundary and end
// with "…".
const MaxLineBytes = 2048

// ring keeps the last lines of one process, copied and cut to
// MaxLineBytes, reusing its slots.
type ring struct {
	lines [][]byte
	next  int
	full  bool
}

func newRing(n int) *ring {
	return &ring{lines: make([][]byte, n)}
}

// push keeps a copy of line.
func (r *ring) push(line []byte) {
	if len(r.lines) == 0 {
		return
	}
	r.lines[r.next] = AppendCut(r.lines[r.next][:0], line)
	r.next++
	if r.next == len(r.lines) {
		r.next, r.full = 0, true
	}
}

// snapshot returns the kept lines, oldest first, as strings.
func (r *ring) snapshot() []string {
	var out []string
	if r.full {
		for _, l := range r.lines[r.next:] {
			out = append(out, string(l))
		}
	}
	for _, l := range r.lines[:r.next] {
		out = append(out, string(l))
	}
	return out
}

// AppendCut appends line to dst, cut to MaxLineBytes (ending with "…").
func AppendCut(dst, line []byte) []byte {
	if len(line) <= MaxLineBytes {
		return append(dst, line...)
	}
	const ellipsis = "…"
	n := MaxLineBytes - len(ellipsis)
	// Back off to the start of a character (at most 3 bytes).
	for i := n; i > n-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(line[i]) {
			n = i
			break
		}
	}
	dst = append(dst, line[:n]...)
	return append(dst, ellipsis...)
}
