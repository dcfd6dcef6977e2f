package command

import (
	"errors"
	"io"
	"sync"
	"syscall"

	"github.com/prox-dev/prox/logs"
)

// palette holds the ANSI colours given to process names, in turn.
var palette = []string{"\x1b[36m", "\x1b[33m", "\x1b[32m", "\x1b[35m", "\x1b[34m", "\x1b[96m", "\x1b[93m", "\x1b[92m", "\x1b[95m", "\x1b[94m"}

const (
	colorReset = "\x1b[0m"
)

// printBufferSize is how much output Queue gathers before it writes.
const printBufferSize = 256 << 10

// printer writes process output as `name | line`, the name padded to the
// longest name and coloured per process when color is set. Writes hold
// whole lines, under a lock, so lines of different processes never
// interleave.
type printer struct {
	mu       sync.Mutex
	w        io.Writer
	prefixes map[string][]byte
	buf      []byte // lines not written yet (QueueBatch), or the line being written (Print)
	// gone is set once a write found no reader (EPIPE: `prox up | head`
	// after head exited); nothing is printed any more. onGone, if set, is
	// called then, once, with the error, on a goroutine of its own (it may
	// log, and a log line waits for the terminal).
	gone   bool
	onGone func(error)
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

// Print writes one entry at once (after whatever QueueBatch left).
func (p *printer) Print(e logs.LogEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone {
		return
	}
	p.appendLine(p.prefix(e.Process), e.Line)
	p.flushLocked()
}

// QueueBatch adds entries to the output, under one lock, and writes only
// once a buffer's worth has gathered: a busy stream of lines costs one
// write per 256 KiB, not one per line, and every write holds whole lines.
// The caller calls Flush when no line follows at once.
func (p *printer) QueueBatch(entries []logs.LogEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone {
		return
	}
	var (
		name   string
		prefix []byte
	)
	for i := range entries {
		e := &entries[i]
		if prefix == nil || e.Process != name {
			// A batch is mostly one process's: look its prefix up once.
			name, prefix = e.Process, p.prefix(e.Process)
		}
		p.appendLine(prefix, e.Line)
		if len(p.buf) >= printBufferSize {
			p.flushLocked()
		}
	}
}

// Notice adds a line of prox's own among the process output, marked so that
// it cannot pass for a process's line.
func (p *printer) Notice(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone {
		return
	}
	p.buf = append(p.buf, "(prox: "...)
	p.buf = append(p.buf, text...)
	p.buf = append(p.buf, ")\n"...)
}

// Flush writes out what QueueBatch gathered.
func (p *printer) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flushLocked()
}

// appendLine formats one line into the buffer. p.mu must be held.
func (p *printer) appendLine(prefix, line []byte) {
	p.buf = append(p.buf, prefix...)
	p.buf = append(p.buf, line...)
	p.buf = append(p.buf, '\n')
}

// flushLocked writes the buffer out. p.mu must be held.
func (p *printer) flushLocked() {
	if len(p.buf) == 0 {
		return
	}
	if _, err := p.w.Write(p.buf); errors.Is(err, syscall.EPIPE) {
		// The reader is gone for good: stop formatting lines for it.
		p.gone, p.buf = true, nil
		if p.onGone != nil {
			go p.onGone(err)
		}
		return
	}
	if cap(p.buf) > 2*printBufferSize {
		p.buf = nil // a huge line passed: do not keep its buffer
		return
	}
	p.buf = p.buf[:0]
}

// prefix returns the line prefix of the named process.
func (p *printer) prefix(process string) []byte {
	if prefix, ok := p.prefixes[process]; ok {
		return prefix
	}
	return []byte(process + " | ")
}
