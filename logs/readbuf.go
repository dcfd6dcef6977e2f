package logs

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
	// minSpareSize is the least size of a buffer kept for reuse (see
	// Block): the first grown size.
	minSpareSize = initialReadSize * readGrowFactor
)

// Handing over a read buffer instead of copying its lines needs at least
// this share of it to be lines: 1/donateShare. A handed over buffer is read
// into until less than this share of it is left.
const donateShare = 4

// readBuffer is a Framer's read buffer: it grows while reads fill it,
// compacts the pending bytes to its start, and is handed over with the
// lines of a read that took a good share of it, never to be written over
// by this reader again (its Block is reused once nothing holds it). Its
// zero value holds no buffer. It is not safe for concurrent use.
type readBuffer struct {
	// blk is the Block of buf, held once by this reader while it reads
	// into it; nil with buf.
	blk        *Block
	spares     *spareList // nil until the stream is busy
	buf        []byte     // nil while a quiet stream waits (see ReadWaiter)
	start, end int        // buf[start:end] holds bytes read and not yet emitted
	fullReads  int        // reads in a row that filled the buffer
	// handedOver: lines emitted from buf point into it, so buf[:start] is
	// never written again; reads go to its free end.
	handedOver bool
}

// compact makes room before a read. A handed over buffer with less than
// 1/donateShare of it free is left to its lines: the pending bytes move to
// a new buffer of the same size. Otherwise the pending bytes move to the
// start of the buffer once it is full or they are none.
func (b *readBuffer) compact() {
	switch {
	case b.handedOver && len(b.buf)-b.end < len(b.buf)/donateShare:
		b.replace(b.newBlock(len(b.buf)))
	case !b.handedOver && b.start > 0 && (b.end == len(b.buf) || b.start == b.end):
		b.end = copy(b.buf, b.buf[b.start:b.end])
		b.start = 0
	}
}

// quiet reports whether nothing is pending and the last read did not fill
// the buffer: the buffer may then be released while the stream waits.
func (b *readBuffer) quiet() bool { return b.start == b.end && b.fullReads == 0 }

// release drops the buffer; the next space starts small again.
func (b *readBuffer) release() {
	b.blk.release(1)
	b.blk, b.buf, b.start, b.end, b.handedOver = nil, nil, 0, 0, false
}

// close releases the buffer and drops the spares: the reader is done.
func (b *readBuffer) close() {
	b.release()
	if b.spares != nil {
		b.spares.close()
		b.spares = nil
	}
}

// newBlock returns a Block of at least size bytes for the next reads: a
// spare one when there is one. Only Blocks of minSpareSize and more are
// kept as spares; smaller ones are the GC's.
func (b *readBuffer) newBlock(size int) *Block {
	if size < minSpareSize {
		return newBlock(size, nil)
	}
	if b.spares == nil {
		b.spares = &spareList{}
	}
	if blk := b.spare(size); blk != nil {
		return blk
	}
	return newBlock(size, b.spares)
}

// spare returns a spare Block of at least size bytes, held by this
// reader, or nil.
func (b *readBuffer) spare(size int) *Block {
	if b.spares == nil {
		return nil
	}
	return b.spares.get(size)
}

// replace moves the pending bytes to fresh, a Block held by this reader,
// and lets go of the current one: a spare at once if no line was handed
// over in it, once the last is dropped otherwise.
func (b *readBuffer) replace(fresh *Block) {
	n := copy(fresh.buf, b.buf[b.start:b.end])
	b.blk.release(1)
	b.blk, b.buf, b.start, b.end, b.handedOver = fresh, fresh.buf, 0, n, false
}

// space returns the free end of the buffer for the next read: a buffer of
// initialReadSize when there is none; doubled, up to maxLen+1, when one
// unfinished line fills it (it is at most maxLen long: longer ones were
// cut); grown by readGrowFactor, up to busyReadSize, after readGrowAfter
// full reads in a row. A grown buffer is a new one.
func (b *readBuffer) space(maxLen int) []byte {
	if b.buf == nil {
		// A spare busy buffer, while the GC has not taken it, costs
		// nothing more than a small one: a stream busy again after a
		// pause reads into it at once.
		if b.blk = b.spare(0); b.blk == nil {
			b.blk = b.newBlock(initialReadSize)
		}
		b.buf = b.blk.buf
	}
	grow := 0
	switch {
	case b.end == len(b.buf):
		grow = min(2*len(b.buf), maxLen+1)
	case b.fullReads >= readGrowAfter && len(b.buf) < busyReadSize:
		grow = min(readGrowFactor*len(b.buf), busyReadSize)
		b.fullReads = 0
	}
	if grow > len(b.buf) {
		b.replace(b.newBlock(grow))
	}
	return b.buf[b.end:]
}

// filled records that a read put n bytes into the last space.
func (b *readBuffer) filled(n int) {
	if n == len(b.buf)-b.end {
		b.fullReads++
	} else {
		b.fullReads = 0
	}
	b.end += n
}

// owner returns the Block that lines emitted from the buffer point
// into: valid while the reader holds it.
func (b *readBuffer) owner() *Block { return b.blk }

// pending returns the bytes read and not yet emitted.
func (b *readBuffer) pending() []byte { return b.buf[b.start:b.end] }

// consume marks the first n pending bytes as emitted.
func (b *readBuffer) consume(n int) { b.start += n }

// keep reports whether the lines emitted since readStart (the start
// before the last read) may stay where they are, not written over while
// held: the
// buffer is handed over already, or is now, when they take at least
// 1/donateShare of it. Otherwise the caller copies them before the next
// read.
func (b *readBuffer) keep(readStart int) bool {
	if !b.handedOver && (b.start-readStart)*donateShare >= len(b.buf) {
		b.handedOver = true
	}
	return b.handedOver
}
