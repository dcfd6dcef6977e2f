package command

import (
	"io"
	"sync"

	"github.com/prox-dev/prox/logs"
)

// palette holds the ANSI colours given to process names, in turn.
var palette = []string{"\x1b[36m", "\x1b[33m", "\x1b[32m", "\x1b[35m", "\x1b[34m", "\x1b[96m", "\x1b[93m", "\x1b[92m", "\x1b[95m", "\x1b[94m"}

const (
	colorReset = "\x1b[0m"
)

// printer writes process output as `name | line`, the name padded to the
// longest name and coloured per process when color is set. One write per
// line, under a lock, so lines of different processes never interleave.
type printer struct {
	mu       sync.Mutex
	w        io.Writer
	prefixes map[string][]byte
	buf      []byte
}

func newPrinter(w io.Writer, names []string, color bool) *printer {
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	p := &printer{w: w, prefixes: make(map[string][]byte, len(names))}
	for i, n := range names {
		pad := n + spaces(width-len(n))
		if color {
			c := palette[i%len(palette)]
			p.prefixes[n] = []byte(c + pad + " |" + colorReset + " ")
		} else {
			p.prefixes[n] = []byte(pad + " | ")
		}
	}
	return p
}

func spaces(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = ' '
	}
	return string(b)
}

// Print writes one entry.
func (p *printer) Print(e logs.LogEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prefix, ok := p.prefixes[e.Process]
	if !ok {
		prefix = []byte(e.Process + " | ")
	}
	p.buf = append(p.buf[:0], prefix...)
	p.buf = append(p.buf, e.Line...)
	p.buf = append(p.buf, '\n')
	_, _ = p.w.Write(p.buf)
}
