package container

import (
	"io"
	"sync"
)

// outputBufferSize bounds what an output stream holds that its reader has
// not read yet; past it the copy from the engine waits (backpressure).
const outputBufferSize = 1 << 20

// outputPipe is one output stream of a container: the demultiplexer writes
// frames into it, the host reads it. Unlike io.Pipe it buffers, so that a
// reader gets many frames per read and the demultiplexer rarely waits. It is
// safe for one writer and one reader.
type outputPipe struct {
	mu       sync.Mutex
	readable sync.Cond // signalled when data arrives or the writer closes
	writable sync.Cond // signalled when the reader frees room or aborts
	buf      []byte
	closed   bool  // no more writes; the reader sees err after the data
	err      error // what Read returns once drained (io.EOF by default)
	aborted  bool  // the stream is dropped: writes fail, reads return err
}

func newOutputPipe() *outputPipe {
	p := &outputPipe{}
	p.readable.L = &p.mu
	p.writable.L = &p.mu
	return p
}

// Write appends b, waiting for room while the buffer is full.
func (p *outputPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for len(b) > 0 {
		for len(p.buf) >= outputBufferSize && !p.aborted {
			p.writable.Wait()
		}
		if p.aborted || p.closed {
			return n, io.ErrClosedPipe
		}
		k := min(len(b), outputBufferSize-len(p.buf))
		p.buf = append(p.buf, b[:k]...)
		b = b[k:]
		n += k
		p.readable.Signal()
	}
	return n, nil
}

// Read returns buffered output, waiting for some; after the writer has
// closed and the buffer is drained it returns io.EOF (or the close error).
func (p *outputPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 && !p.closed && !p.aborted {
		p.readable.Wait()
	}
	if p.aborted {
		return 0, p.err
	}
	if len(p.buf) == 0 {
		return 0, p.err
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = nil // release a large drained buffer
	}
	p.writable.Signal()
	return n, nil
}

// closeWithError ends the stream: the reader gets the buffered output, then
// err (io.EOF when nil).
func (p *outputPipe) closeWithError(err error) {
	if err == nil {
		err = io.EOF
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.aborted {
		return
	}
	p.closed, p.err = true, err
	p.readable.Broadcast()
	p.writable.Broadcast()
}

// abort drops the stream at once: a waiting writer fails and the reader gets
// err (what was buffered is lost). It is for shutdown, when nobody reads.
func (p *outputPipe) abort(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.aborted {
		return
	}
	if !p.closed {
		p.err = err
	}
	p.aborted, p.buf = true, nil
	p.readable.Broadcast()
	p.writable.Broadcast()
}
