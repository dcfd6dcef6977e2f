package lines

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// minFragmentRun is how many consecutive letters of the fill's cycle make a
// line without a header the remains of a cut record.
const minFragmentRun = 8

// Report is what a Checker found.
type Report struct {
	// Files and Bytes count the input read; Lines its lines.
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	Lines int64 `json:"lines"`
	// Records counts the headers of known tags found.
	Records int64 `json:"records"`
	// Expected is the number of distinct records the writers wrote; Unique
	// how many of them arrived intact at least once; Missing the rest.
	Expected int64 `json:"expected"`
	Unique   int64 `json:"unique"`
	Missing  int64 `json:"missing"`
	// Duplicates counts intact records seen again.
	Duplicates int64 `json:"duplicates"`
	// OutOfOrder counts intact records that arrived after a record of the
	// same tag with a higher sequence number.
	OutOfOrder int64 `json:"out_of_order"`
	// Merged counts lines holding more than one record.
	Merged int64 `json:"merged"`
	// Cut counts records that end early (at the end of the line or at the
	// next record).
	Cut int64 `json:"cut"`
	// Corrupt counts records whose fill is wrong or too long.
	Corrupt int64 `json:"corrupt"`
	// Fragments counts lines without a header that hold a piece of fill:
	// the tail of a cut record.
	Fragments int64 `json:"fragments"`
	// Unknown counts headers of a tag or sequence number no writer wrote.
	Unknown int64 `json:"unknown"`
	// Unterminated counts files whose last line has no newline.
	Unterminated int64 `json:"unterminated"`
	// Other counts the remaining lines: a supervisor's own lines.
	Other int64 `json:"other"`
	// Intact is true when every record arrived exactly once, whole, on a
	// line of its own, in order per tag.
	Intact bool `json:"intact"`
}

// tagState tracks one writer's records.
type tagState struct {
	n      uint64
	seen   []uint64 // bitmap of intact records
	maxSeq int64
}

// Checker verifies captured output against what the writers wrote. It is
// not safe for concurrent use.
type Checker struct {
	size  int
	tags  map[string]*tagState
	fills map[int][]byte // by fill length: the alphabet repeated
	r     Report
}

// NewChecker returns a Checker of records of size bytes, for writers that
// each wrote records 0 to n-1 under the tags of counts (tag → n).
func NewChecker(size int, counts map[string]int) (*Checker, error) {
	c := &Checker{size: size, tags: make(map[string]*tagState), fills: make(map[int][]byte)}
	for tag, n := range counts {
		if !ValidTag(tag) {
			return nil, fmt.Errorf("invalid tag %q", tag)
		}
		if size < MinSize(tag) {
			return nil, fmt.Errorf("size %d too small for tag %q", size, tag)
		}
		if n < 0 {
			return nil, fmt.Errorf("negative count %d for tag %q", n, tag)
		}
		c.tags[tag] = &tagState{n: uint64(n), seen: make([]uint64, (n+63)/64), maxSeq: -1}
		c.r.Expected += int64(n)
		fl := size - HeaderLength(tag) - 1
		if _, ok := c.fills[fl]; !ok {
			b := make([]byte, 0, fl+len(alphabet))
			for len(b) < fl+len(alphabet) {
				b = append(b, alphabet...)
			}
			c.fills[fl] = b[:fl+len(alphabet)]
		}
	}
	return c, nil
}

// CheckFile reads the file at path.
func (c *Checker) CheckFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	defer f.Close()
	if err := c.Check(f); err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	return nil
}

// Check reads r to its end as one file.
func (c *Checker) Check(r io.Reader) error {
	c.r.Files++
	br := bufio.NewReaderSize(r, 1<<20)
	var long []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...)
			continue
		}
		line := chunk
		if long != nil {
			line = append(long, chunk...)
			long = nil
		}
		if len(line) > 0 {
			c.r.Bytes += int64(len(line))
			if line[len(line)-1] == '\n' {
				line = line[:len(line)-1]
			} else {
				c.r.Unterminated++
			}
			c.Line(line)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Line checks one line, given without its newline.
func (c *Checker) Line(line []byte) {
	c.r.Lines++
	headers := 0
	pos := 0
	for pos < len(line) {
		i := bytes.IndexByte(line[pos:], '<')
		if i < 0 {
			break
		}
		start := pos + i
		tag, seq, hlen, ok := parseHeader(line[start:])
		if !ok {
			pos = start + 1
			continue
		}
		headers++
		pos = start + hlen + c.record(tag, seq, hlen, line[start+hlen:])
	}
	switch {
	case headers > 1:
		c.r.Merged++
	case headers == 0 && hasFillRun(line):
		c.r.Fragments++
	case headers == 0:
		c.r.Other++
	}
}

// record checks the record tag/seq whose fill starts body; it returns how
// many bytes of body belong to the record.
func (c *Checker) record(tag []byte, seq uint64, hlen int, body []byte) int {
	st := c.tags[string(tag)] // no allocation: a map index
	if st == nil || seq >= st.n {
		c.r.Unknown++
		return 0
	}
	c.r.Records++
	fillLen := c.size - hlen - 1
	off := int(seq % uint64(len(alphabet)))
	want := c.fills[fillLen][off : off+fillLen]
	if len(body) >= fillLen && bytes.Equal(body[:fillLen], want) {
		if len(body) > fillLen && isLetter(body[fillLen]) {
			c.r.Corrupt++ // too long
			return fillLen
		}
		c.intact(st, seq)
		return fillLen
	}
	k := 0
	for k < len(body) && k < fillLen && body[k] == want[k] {
		k++
	}
	if k == len(body) || body[k] == '<' {
		c.r.Cut++
	} else {
		c.r.Corrupt++
	}
	return k
}

func (c *Checker) intact(st *tagState, seq uint64) {
	w, bit := seq/64, uint64(1)<<(seq%64)
	if st.seen[w]&bit != 0 {
		c.r.Duplicates++
		return
	}
	st.seen[w] |= bit
	c.r.Unique++
	if int64(seq) < st.maxSeq {
		c.r.OutOfOrder++
	} else {
		st.maxSeq = int64(seq)
	}
}

// Report returns the findings so far.
func (c *Checker) Report() Report {
	r := c.r
	r.Missing = r.Expected - r.Unique
	r.Intact = r.Missing == 0 && r.Duplicates == 0 && r.OutOfOrder == 0 && r.Merged == 0 &&
		r.Cut == 0 && r.Corrupt == 0 && r.Fragments == 0 && r.Unknown == 0 && r.Unterminated == 0
	return r
}

// parseHeader parses "<TAG:DDDDDDDDDD>" at the start of b.
func parseHeader(b []byte) (tag []byte, seq uint64, n int, ok bool) {
	if len(b) < 3 || b[0] != '<' {
		return nil, 0, 0, false
	}
	i := 1
	for i < len(b) && i <= MaxTagLength && isTagByte(b[i]) {
		i++
	}
	if i == 1 || i >= len(b) || b[i] != ':' {
		return nil, 0, 0, false
	}
	tagEnd := i
	i++
	if len(b) < i+seqDigits+1 {
		return nil, 0, 0, false
	}
	for _, d := range b[i : i+seqDigits] {
		if d < '0' || d > '9' {
			return nil, 0, 0, false
		}
		seq = seq*10 + uint64(d-'0')
	}
	i += seqDigits
	if b[i] != '>' {
		return nil, 0, 0, false
	}
	return b[1:tagEnd], seq, i + 1, true
}

// hasFillRun reports whether line holds minFragmentRun letters in a row
// that follow the fill's cycle.
func hasFillRun(line []byte) bool {
	run := 0
	for i := 0; i < len(line); i++ {
		c := line[i]
		if !isLetter(c) {
			run = 0
			continue
		}
		if run > 0 && c == next(line[i-1]) {
			run++
		} else {
			run = 1
		}
		if run >= minFragmentRun {
			return true
		}
	}
	return false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' }

func next(c byte) byte {
	if c == 'z' {
		return 'a'
	}
	return c + 1
}
