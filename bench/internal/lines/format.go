// Package lines defines the benchmark's line format and verifies captured
// output against it.
//
// A record is one line of exactly Size bytes, newline included:
//
//	"<" TAG ":" SEQ ">" FILL "\n"
//
// TAG names the writing process (letters, digits, '-' and '_', at most
// MaxTagLength bytes), SEQ is the line's sequence number as ten decimal
// digits, and FILL is the alphabet "a".."z" repeated, starting at letter
// SEQ mod 26, up to the line's size. A supervisor may put anything before a
// record (a timestamp, "name | ") and after it, so the Checker finds records
// by their header. Because the fill depends on the sequence number and has a
// known length, a line that was cut, merged with another, corrupted, lost or
// duplicated is told apart from an intact one.
package lines

import (
	"fmt"
)

const (
	// MaxTagLength is the longest tag a record may carry.
	MaxTagLength = 32
	// seqDigits is the width of the sequence number.
	seqDigits = 10
	// alphabet is the fill's cycle.
	alphabet = "abcdefghijklmnopqrstuvwxyz"
)

// HeaderLength returns the length of a record's header for tag:
// "<", the tag, ":", ten digits and ">".
func HeaderLength(tag string) int { return len(tag) + seqDigits + 3 }

// MinSize returns the smallest record size for tag: the header, one byte of
// fill and the newline.
func MinSize(tag string) int { return HeaderLength(tag) + 2 }

// ValidTag reports whether tag can label records.
func ValidTag(tag string) bool {
	if tag == "" || len(tag) > MaxTagLength {
		return false
	}
	for i := 0; i < len(tag); i++ {
		if !isTagByte(tag[i]) {
			return false
		}
	}
	return true
}

func isTagByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// Formatter builds the records of one tag and size. It reuses one buffer:
// the slice Record returns is valid until the next call.
type Formatter struct {
	tag  string
	size int
	line []byte
	// fills holds the alphabet repeated, so that the fill of any sequence
	// number is one slice of it.
	fills []byte
}

// NewFormatter returns a Formatter of records of size bytes for tag.
func NewFormatter(tag string, size int) (*Formatter, error) {
	if !ValidTag(tag) {
		return nil, fmt.Errorf("invalid tag %q: want 1 to %d letters, digits, '-' or '_'", tag, MaxTagLength)
	}
	if size < MinSize(tag) {
		return nil, fmt.Errorf("size %d too small for tag %q: at least %d", size, tag, MinSize(tag))
	}
	f := &Formatter{tag: tag, size: size, line: make([]byte, size)}
	fillLen := size - HeaderLength(tag) - 1
	f.fills = make([]byte, 0, fillLen+len(alphabet))
	for len(f.fills) < fillLen+len(alphabet) {
		f.fills = append(f.fills, alphabet...)
	}
	f.fills = f.fills[:fillLen+len(alphabet)]
	f.line[0] = '<'
	copy(f.line[1:], tag)
	f.line[1+len(tag)] = ':'
	f.line[HeaderLength(tag)-1] = '>'
	f.line[size-1] = '\n'
	return f, nil
}

// Size returns the size of a record, newline included.
func (f *Formatter) Size() int { return f.size }

// Record returns record seq, newline included.
func (f *Formatter) Record(seq uint64) []byte {
	digits := f.line[2+len(f.tag) : 2+len(f.tag)+seqDigits]
	v := seq
	for i := seqDigits - 1; i >= 0; i-- {
		digits[i] = byte('0' + v%10)
		v /= 10
	}
	h := HeaderLength(f.tag)
	off := int(seq % uint64(len(alphabet)))
	copy(f.line[h:f.size-1], f.fills[off:])
	return f.line
}

// AppendRecord appends record seq (newline included) to dst.
func (f *Formatter) AppendRecord(dst []byte, seq uint64) []byte {
	return append(dst, f.Record(seq)...)
}
