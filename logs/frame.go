package logs

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// Framer turns a process's output stream into lines. Lines are split at
// '\n' (the newline is not part of the entry; a '\r' before it is kept, as
// written); a line longer than MaxLineLength becomes several entries of at
// most that length, never dropped or merged; a final line without a
// newline is emitted when the stream ends. Bytes pass through untouched, so
// invalid UTF-8 survives.
type Framer struct {
	// Process and Stream label every entry.
	Process string
	Stream  sdk.Stream
	// MaxLineLength defaults to DefaultMaxLineLength.
	MaxLineLength int
	// Emit receives, in order, every entry framed from one read at once,
	// and the Block their lines point into. The slice is only valid during
	// the call, and the callee may overwrite its entries. With a nil
	// Block the lines are the callee's to keep: the framer never writes
	// over their bytes. With a Block, a line is valid after the call only
	// while the Block is held for it (Manager.WriteStableBatch stores them
	// so, without another copy): once nothing holds it, a busy read
	// buffer is read into again. After a read that produced many lines,
	// the read buffer itself is handed over with them: later reads go to
	// the rest of it, their lines stay in it too, and once less than a
	// quarter of it is left the next read goes to another one. After a
	// read of a few lines into a buffer that holds no line, they are
	// copied into a small arena instead (and the Block is nil), so a
	// quiet process does not pin a read buffer per line. Emit may block;
	// reading then pauses.
	Emit func([]LogEntry, *Block)
	// Now returns the time stamped on entries; default time.Now. It is
	// called once per read, not per line.
	Now func() time.Time

	arena arena // where the lines of small reads are copied
}

// ReadWaiter is implemented by readers that can wait for data without a
// buffer to read it into, such as the pipes a runner hands over to prox
// (sdk): between the bursts of a quiet stream the Framer then holds no
// read buffer at all, so hundreds of idle processes cost no buffers, and a
// process that was busy once does not keep a large one (its spares are
// held weakly, until the next garbage collection: see Block).
type ReadWaiter interface {
	// Readable reports, without waiting, whether a Read would not block
	// (data, EOF or an error); false when it cannot tell.
	Readable() bool
	// WaitReadable returns once a Read would not block, or with an error
	// when it cannot tell.
	WaitReadable() error
}

// Run reads r until EOF or an error and emits its lines. It returns nil at
// EOF and the read error otherwise (after emitting the partial line).
func (f *Framer) Run(r io.Reader) error {
	maxLen := f.MaxLineLength
	if maxLen <= 0 {
		maxLen = DefaultMaxLineLength
	}
	now := f.Now
	if now == nil {
		now = time.Now
	}
	waiter, _ := r.(ReadWaiter)
	var buf readBuffer
	defer buf.close()
	var lines []LogEntry // the entries of the current read
	entry := LogEntry{Process: f.Process, Stream: f.Stream}
	for {
		buf.compact()
		if waiter != nil && buf.quiet() && !waiter.Readable() {
			// Nothing pending and nothing to read: hold no buffer while
			// the stream is quiet, and start small again when it speaks
			// (or with a spare busy buffer, if the GC has left it).
			buf.release()
			if err := waiter.WaitReadable(); err != nil {
				waiter = nil // the read reports the problem, or simply waits
			}
		}
		space := buf.space(maxLen)
		scanned := len(buf.pending()) // pending bytes hold no newline
		readStart := buf.start
		n, err := r.Read(space)
		buf.filled(n)
		if n > 0 || (err != nil && len(buf.pending()) > 0) {
			entry.Timestamp = now()
			var took int
			lines, took = splitLines(lines, entry, buf.pending(), scanned, maxLen, err != nil)
			buf.consume(took)
		}
		lines = f.emit(&buf, lines, readStart)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// emit hands lines, framed from buf since readStart, to Emit, and returns
// the slice emptied for the next read. The lines point into buf, which the
// next read may move: buf is handed over with them, or they are copied
// into the arena.
func (f *Framer) emit(buf *readBuffer, lines []LogEntry, readStart int) []LogEntry {
	if len(lines) == 0 {
		return lines
	}
	var owner *Block
	if buf.keep(readStart) {
		owner = buf.owner()
	} else {
		for i := range lines {
			lines[i].Line = f.arena.copy(lines[i].Line)
		}
	}
	f.Emit(lines, owner)
	clear(lines)
	return lines[:0]
}

// splitLines appends to lines the entries framed from data, the bytes read
// and not yet emitted, of which data[:scanned] is known to hold no
// newline: an entry per line ended by '\n' (without it), a line longer than
// maxLen cut in pieces of maxLen, and a pending rest longer than maxLen cut
// too (one of exactly maxLen waits for its newline). With final (the
// stream ends) the rest is emitted as well. The entries are copies of entry
// with their Line pointing into data, its capacity cut to its length (an
// append never reaches the next line). splitLines returns them and how many
// bytes of data they took.
func splitLines(lines []LogEntry, entry LogEntry, data []byte, scanned, maxLen int, final bool) ([]LogEntry, int) {
	start := 0
	for {
		i := bytes.IndexByte(data[scanned:], '\n')
		if i < 0 {
			break
		}
		i += scanned
		for line := data[start:i:i]; ; line = line[maxLen:] {
			if len(line) <= maxLen {
				entry.Line = line
				lines = append(lines, entry)
				break
			}
			entry.Line = line[:maxLen:maxLen]
			lines = append(lines, entry)
		}
		start, scanned = i+1, i+1
	}
	for len(data)-start > maxLen {
		entry.Line = data[start : start+maxLen : start+maxLen]
		lines = append(lines, entry)
		start += maxLen
	}
	if final && start < len(data) {
		entry.Line = data[start:len(data):len(data)]
		lines = append(lines, entry)
		start = len(data)
	}
	return lines, start
}
