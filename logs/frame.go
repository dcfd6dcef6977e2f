package logs

import (
	"errors"
	"io"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// readSize is the size of one read from a process's output.
const readSize = 64 << 10

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
	// Emit receives each entry. Its Line is only valid during the call:
	// copy it to keep it. Emit may block; reading then pauses.
	Emit func(LogEntry)
	// Now returns the time stamped on entries; default time.Now. It is
	// called once per read, not per line.
	Now func() time.Time
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
	bufSize := readSize
	if maxLen+1 > bufSize {
		bufSize = maxLen + 1
	}
	buf := make([]byte, bufSize)
	start, end := 0, 0 // buf[start:end] holds bytes not yet emitted
	entry := LogEntry{Process: f.Process, Stream: f.Stream}
	for {
		if start > 0 && (end == len(buf) || start == end) {
			end = copy(buf, buf[start:end])
			start = 0
		}
		n, err := r.Read(buf[end:])
		if n > 0 {
			entry.Timestamp = now()
			scan := end
			end += n
			for i := scan; i < end; i++ {
				if buf[i] == '\n' {
					f.emitLong(&entry, buf[start:i], maxLen)
					start = i + 1
				}
			}
			// A pending line longer than the maximum is cut now; one of
			// exactly the maximum waits for its newline.
			for end-start > maxLen {
				entry.Line = buf[start : start+maxLen]
				f.Emit(entry)
				start += maxLen
			}
		}
		if err != nil {
			if start < end {
				if n == 0 {
					entry.Timestamp = now()
				}
				f.emitLong(&entry, buf[start:end], maxLen)
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// emitLong emits line, split into pieces of at most maxLen bytes.
func (f *Framer) emitLong(entry *LogEntry, line []byte, maxLen int) {
	for len(line) > maxLen {
		entry.Line = line[:maxLen]
		f.Emit(*entry)
		line = line[maxLen:]
	}
	entry.Line = line
	f.Emit(*entry)
}
