package logs

import (
	"sync"
	"sync/atomic"
	"weak"
)

// Block is a Framer's read buffer once lines are handed over in it: the
// lines of the ring buffers, of the sink queues and of batch subscribers
// point into it, without a copy. It counts the entries that hold its
// lines, the Framer reading into it counting as one, and once none is
// left a buffer of at least minSpareSize goes back to its Framer's spares,
// for its next reads. A busy stream thus reads into the same few buffers
// instead of allocating (and zeroing, and collecting) one per read of
// 64 or 256 KiB, and one per burst, even after a pause.
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
	// spares is where the Block goes once nothing holds it; nil: nowhere,
	// the GC takes it.
	spares *spareList
}

// newBlock returns a new Block of size bytes held once, by its reader,
// that goes back to spares once nothing holds it.
func newBlock(size int, spares *spareList) *Block {
	b := &Block{buf: make([]byte, size), spares: spares}
	b.refs.Store(1)
	return b
}

// hold counts n more entries that keep lines of b. b may be nil.
func (b *Block) hold(n int) {
	if b != nil && n != 0 {
		b.refs.Add(int64(n))
	}
}

// release counts n entries of b dropped; the last one gives b back to its
// reader's spares. b may be nil.
func (b *Block) release(n int) {
	if b == nil || n == 0 {
		return
	}
	switch refs := b.refs.Add(-int64(n)); {
	case refs == 0 && b.spares != nil:
		b.spares.put(b)
	case refs < 0:
		// A line of b may have been written over already: nothing to
		// keep running for.
		panic("logs: a read buffer was released more often than held")
	}
}

// maxSpares is how many Blocks that nothing holds a reader keeps for its
// next reads. A sink's acknowledgement releases the Blocks of a whole
// batch at once, more than the reader needs right then; with too few
// spares the rest are dropped and allocated again soon after. It bounds
// nothing else: a reader has no more Blocks than it needed at once, and
// the GC takes the spares it does not reuse. In S1, prox allocates 45 MB
// with 4, 31 MB with 8, 19 MB with 16.
const maxSpares = 16

// spareList is a reader's Blocks that nothing holds, ready to be read into
// again. Blocks come back to it from whichever goroutine drops their last
// line; the reader takes them. It keeps them only weakly: a spare the
// reader has not taken again by the next garbage collection is freed, so
// a stream that has gone quiet does not keep its buffers.
type spareList struct {
	mu     sync.Mutex
	blocks []weak.Pointer[Block] // oldest first
	closed bool
}

// put keeps b, in place of the oldest spare when the list is full; not
// once the list is closed: the GC takes it then.
func (s *spareList) put(b *Block) {
	s.mu.Lock()
	if !s.closed {
		if len(s.blocks) == maxSpares {
			s.blocks = append(s.blocks[:0], s.blocks[1:]...)
		}
		s.blocks = append(s.blocks, weak.Make(b))
	}
	s.mu.Unlock()
}

// get returns the newest spare Block of at least size bytes, held once,
// or nil when there is none. It forgets the spares the GC took.
func (s *spareList) get(size int) *Block {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.blocks) - 1; i >= 0; i-- {
		b := s.blocks[i].Value()
		if b != nil && len(b.buf) < size {
			continue
		}
		s.blocks = append(s.blocks[:i], s.blocks[i+1:]...)
		if b != nil {
			if !b.refs.CompareAndSwap(0, 1) {
				// Held again while a spare: released once too often
				// somewhere, and its lines may be written over.
				panic("logs: a spare read buffer is held")
			}
			return b
		}
	}
	return nil
}

// close drops the spares, and those that come back later: the reader is
// gone.
func (s *spareList) close() {
	s.mu.Lock()
	s.closed = true
	s.blocks = nil
	s.mu.Unlock()
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
