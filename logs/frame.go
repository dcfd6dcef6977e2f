package logs

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// Read sizes: a stream starts with a buffer of initialReadSize, enough for
// the lines of a quiet process, so that hundreds of idle processes cost
// little. Once readGrowAfter reads in a row have filled the buffer, the
// process writes faster than it is read, and the buffer grows by
// readGrowFactor, up to busyReadSize: a busy process is read 256 KiB at a
// time, a quarter of the reads, and of the wake-ups, of reading a pipe's
// default capacity. A buffer filled by one unfinished line doubles, up to
// what a line of the maximum length needs.
const (
	initialReadSize = 4 << 10
	busyReadSize    = 256 << 10
	readGrowAfter   = 2
	readGrowFactor  = 16
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
	// Emit receives, in order, every entry framed from one read at once.
	// The slice is only valid during the call, and the callee may
	// overwrite its entries; the lines are the callee's to keep: the framer
	// never writes over their bytes (Manager.WriteStableBatch stores them
	// without another copy). After a read that produced many lines, the
	// read buffer itself is handed over with them: later reads go to the
	// rest of it, their lines stay in it too, and once less than a quarter
	// of it is left the next read goes to a new one. After a read of a few
	// lines into a buffer that holds no line, they are copied into a small
	// arena instead, so a quiet process does not pin a read buffer per line.
	// Emit may block; reading then pauses.
	Emit func([]LogEntry)
	// Now returns the time stamped on entries; default time.Now. It is
	// called once per read, not per line.
	Now   func() time.Time
	arena arena // where the lines of small reads are copied
}

// Handing over a read buffer instead of copying its lines
// needs at least this share of it to be lines: 1/donateShare. A handed
// over buffer is read into until less than this share of it is left.
const donateShare = 4

// ReadWaiter is implemented by readers that can wait for data without a
// buffer to read it into, such as the pipes a runner hands over to prox
// (sdk): between the bursts of a quiet stream the Framer then holds no
// read buffer at all, so hundreds of idle processes cost no buffers, and a
// process that was busy once does not keep a large one.
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
	var buf []byte // nil while waiting for a quiet stream (see ReadWaiter)
	waiter, _ := r.(ReadWaiter)
	start, end := 0, 0 // buf[start:end] holds bytes not yet emitted
	fullReads := 0     // reads in a row that filled the buffer
	entry := LogEntry{Process: f.Process, Stream: f.Stream}
	var batch []LogEntry // the entries of the current read
	emit := func(e LogEntry) { batch = append(batch, e) }
	readStart := 0 // the lines of the current read begin at buf[readStart]
	// handedOver: lines emitted from buf point into it, so
	// buf[:start] is never written again; reads go to its free end.
	handedOver := false
	flush := func() {
		if len(batch) == 0 {
			return
		}
		switch {
		case handedOver:
			// The buffer is the lines' already.
		case (start-readStart)*donateShare >= len(buf):
			// Enough lines to hand the whole buffer over with them.
			handedOver = true
		default:
			for i := range batch {
				batch[i].Line = f.arena.copy(batch[i].Line)
			}
		}
		f.Emit(batch)
		clear(batch)
		batch = batch[:0]
	}
	for {
		switch {
		case handedOver && len(buf)-end < len(buf)/donateShare:
			// Little room left after the lines: the pending bytes move to
			// a new buffer, the old one stays with its lines.
			fresh := make([]byte, len(buf))
			end = copy(fresh, buf[start:end])
			buf, start, handedOver = fresh, 0, false
		case !handedOver && start > 0 && (end == len(buf) || start == end):
			end = copy(buf, buf[start:end])
			start = 0
		}
		if start == end && fullReads == 0 && waiter != nil && !waiter.Readable() {
			// Nothing pending and nothing to read: hold no buffer while
			// the stream is quiet, and start small again when it speaks.
			buf, start, end, handedOver = nil, 0, 0, false
			if err := waiter.WaitReadable(); err != nil {
				waiter = nil // the read reports the problem, or simply waits
			}
		}
		if buf == nil {
			buf = make([]byte, initialReadSize)
		}
		grow := 0
		switch {
		case end == len(buf):
			// One unfinished line fills the buffer; it is at most maxLen
			// long (longer ones were cut), so this ends at maxLen+1.
			grow = min(2*len(buf), maxLen+1)
		case fullReads >= readGrowAfter && len(buf) < busyReadSize:
			grow = min(readGrowFactor*len(buf), busyReadSize)
			fullReads = 0
		}
		if grow > len(buf) {
			grown := make([]byte, grow)
			end = copy(grown, buf[start:end])
			buf, start, handedOver = grown, 0, false
		}
		readStart = start
		n, err := r.Read(buf[end:])
		if n == len(buf)-end {
			fullReads++
		} else {
			fullReads = 0
		}
		if n > 0 {
			entry.Timestamp = now()
			scan := end
			end += n
			for {
				i := bytes.IndexByte(buf[scan:end], '\n')
				if i < 0 {
					break
				}
				i += scan
				emitLong(emit, &entry, buf[start:i:i], maxLen)
				start, scan = i+1, i+1
			}
			// A pending line longer than the maximum is cut now; one of
			// exactly the maximum waits for its newline.
			for end-start > maxLen {
				entry.Line = buf[start : start+maxLen : start+maxLen]
				emit(entry)
				start += maxLen
			}
		}
		if err != nil {
			if start < end {
				if n == 0 {
					entry.Timestamp = now()
				}
				emitLong(emit, &entry, buf[start:end:end], maxLen)
			}
			flush()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		// The lines point into buf, which the next read may move.
		flush()
	}
}

// emitLong emits line, split into pieces of at most maxLen bytes.
func emitLong(emit func(LogEntry), entry *LogEntry, line []byte, maxLen int) {
	for len(line) > maxLen {
		entry.Line = line[:maxLen:maxLen]
		emit(*entry)
		line = line[maxLen:]
	}
	entry.Line = line
	emit(*entry)
}
