package logs

import (
	"sync"
	"sync/atomic"
)

// Block is a Framer's read buffer once lines are handed over in it: the
// lines of the ring buffers, of the sink queues and of batch subscribers
// point into it, without a copy. It counts the entries that hold its
// lines, the Framer reading into it counting as one, and once none is
// left a buffer of the busy read size goes back to a pool for the next
// busy read. A busy stream thus reads into the same few buffers instead of
// allocating (and zeroing, and collecting) one per 256 KiB read.
//
// Whoever keeps a line of a Block after the call that handed it over
// holds the Block for it and releases it once the line is dropped; a line
// kept without holding its Block may be written over. Only package logs
// holds and releases Blocks: a Block passes through other packages as an
// opaque handle, from Framer.Emit to Manager.WriteStableBatch. A nil
// *Block stands for lines that are no buffer's: they are never reused.
type Block struct {
	buf  []byte
	refs atomic.Int64
}

// blockPool keeps Blocks of busyReadSize that nothing holds.
var blockPool sync.Pool // of *Block

// newBlock returns a Block of size bytes held once, by its reader: one
// from the pool for the busy size.
func newBlock(size int) *Block {
	if size == busyReadSize {
		if b, ok := blockPool.Get().(*Block); ok {
			b.refs.Store(1)
			return b
		}
	}
	b := &Block{buf: make([]byte, size)}
	b.refs.Store(1)
	return b
}

// hold counts n more entries that keep lines of b. b may be nil.
func (b *Block) hold(n int) {
	if b != nil && n != 0 {
		b.refs.Add(int64(n))
	}
}

// release counts n entries of b dropped; the last one returns a busy
// buffer to the pool. b may be nil.
func (b *Block) release(n int) {
	if b == nil || n == 0 {
		return
	}
	switch refs := b.refs.Add(-int64(n)); {
	case refs == 0 && len(b.buf) == busyReadSize:
		blockPool.Put(b)
	case refs < 0:
		// A line of b may have been written over already: nothing to
		// keep running for.
		panic("logs: a read buffer was released more often than held")
	}
}

// releaser releases the owners of a run of entries, one atomic operation
// per run of entries of the same Block rather than per entry. Its zero
// value is ready; call flush once done.
type releaser struct {
	b *Block
	n int
}

// add counts one entry of b dropped.
func (r *releaser) add(b *Block) {
	if b != r.b {
		r.flush()
		r.b = b
	}
	r.n++
}

// flush releases what add counted.
func (r *releaser) flush() {
	r.b.release(r.n)
	r.b, r.n = nil, 0
}

// releaseAll releases the owner of each entry of owners and clears it.
func releaseAll(owners []*Block) {
	var r releaser
	for i, b := range owners {
		r.add(b)
		owners[i] = nil
	}
	r.flush()
}
