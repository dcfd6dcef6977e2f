package sdk

import "sync"

// CappedOutput collects the output of a command run by an Execer: it
// keeps the first Limit bytes written to it and drops the rest, never
// failing a write (so the command is never blocked or broken by a full
// buffer). It is safe for concurrent use, e.g. as both stdout and stderr.
type CappedOutput struct {
	// Limit is the number of bytes kept.
	Limit int

	mu  sync.Mutex
	buf []byte
}

// Write implements io.Writer.
func (b *CappedOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.Limit - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// Bytes returns a copy of what was kept.
func (b *CappedOutput) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}
