package tui

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/prox-dev/prox/supervisor/control"
)

// maxLogLines is how many lines the log pane keeps for scrolling back:
// the newest ones.
const maxLogLines = 10000

// logLine is one kept line.
type logLine struct {
	seq     uint64
	process string
	stderr  bool
	text    string
}

// logRing keeps the newest maxLogLines lines, numbered from 1 in the
// order they came.
type logRing struct {
	lines []logLine
	start int    // index of the oldest line in lines, once full
	next  uint64 // the seq of the next line
	cap   int
}

func newLogRing(capacity int) *logRing {
	return &logRing{cap: capacity, next: 1}
}

// add appends lines, dropping the oldest beyond the capacity.
func (r *logRing) add(lines []control.LogLine) {
	if len(lines) > r.cap {
		r.next += uint64(len(lines) - r.cap)
		lines = lines[len(lines)-r.cap:]
	}
	for _, l := range lines {
		ll := logLine{seq: r.next, process: l.Process, stderr: l.Stream == "stderr", text: l.Line}
		r.next++
		if len(r.lines) < r.cap {
			r.lines = append(r.lines, ll)
			continue
		}
		r.lines[r.start] = ll
		r.start = (r.start + 1) % r.cap
	}
}

// reset forgets every line.
func (r *logRing) reset() {
	r.lines, r.start = r.lines[:0], 0
}

// len is the number of kept lines.
func (r *logRing) len() int { return len(r.lines) }

// at returns the i-th kept line, 0 the oldest.
func (r *logRing) at(i int) *logLine {
	return &r.lines[(r.start+i)%len(r.lines)]
}

// indexOf returns the index of the line numbered seq, or of the nearest
// kept one after it; len when none.
func (r *logRing) indexOf(seq uint64) int {
	n := r.len()
	if n == 0 {
		return 0
	}
	first := r.at(0).seq
	if seq <= first {
		return 0
	}
	i := int(seq - first)
	return min(i, n)
}

// matcher is a search or a filter: a substring, or a regular expression.
type matcher struct {
	text string
	re   *regexp.Regexp
}

// newMatcher compiles a search: a regular expression when regex is set
// (an invalid one is an error naming it), else a substring. An empty
// text is no matcher.
func newMatcher(text string, regex bool) (*matcher, error) {
	if text == "" {
		return nil, nil
	}
	m := &matcher{text: text}
	if regex {
		re, err := regexp.Compile(text)
		if err != nil {
			return nil, fmt.Errorf("invalid regex %q: %w", text, err)
		}
		m.re = re
	}
	return m, nil
}

// match reports whether s matches.
func (m *matcher) match(s string) bool {
	if m.re != nil {
		return m.re.MatchString(s)
	}
	return strings.Contains(s, m.text)
}

// spans returns the byte ranges of the matches in s.
func (m *matcher) spans(s string) [][2]int {
	var out [][2]int
	if m.re != nil {
		for _, loc := range m.re.FindAllStringIndex(s, 64) {
			if loc[1] > loc[0] {
				out = append(out, [2]int{loc[0], loc[1]})
			}
		}
		return out
	}
	for off := 0; len(out) < 64; {
		i := strings.Index(s[off:], m.text)
		if i < 0 {
			break
		}
		out = append(out, [2]int{off + i, off + i + len(m.text)})
		off += i + len(m.text)
	}
	return out
}

// describe names the matcher in the pane's title.
func (m *matcher) describe() string {
	if m.re != nil {
		return "/" + m.text + "/"
	}
	return fmt.Sprintf("%q", m.text)
}

// hasControl reports whether s holds a control character: C0, DEL, or
// C1 (U+0080 to U+009F, 0xC2 0x80..0x9F in UTF-8). A byte loop: every
// line of a flood passes here.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || (c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] < 0xa0) {
			return true
		}
	}
	return false
}

// sanitize makes a line safe to draw: tabs become spaces, and control
// characters and escape sequences a process wrote are dropped, so a line
// can neither move the cursor nor change colours.
func sanitize(s string) string {
	if !hasControl(s) {
		return s
	}
	s = ansi.Strip(s)
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		}
		return r
	}, s)
}
