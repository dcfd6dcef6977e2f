package file

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The state file makes a resent batch land exactly once.
//
// Before it writes the first byte of a batch, the sink records in its
// state file the batch's Seq and, for every regular file the batch writes
// to, the file's identity (device and inode), its size before the batch
// (start) and its size after it (end). Rotation happens before that
// record, so the offsets are those of the file the batch goes into. When a
// batch with the recorded Seq comes again (prox resends a batch whose
// Write failed or went unanswered, to the same plugin or to a relaunched
// one), each of its files is truncated back to start before the batch is
// written again: whatever part of it the earlier attempt wrote, nothing,
// a cut record or all of it, is written once. A batch with another Seq
// finds the earlier attempts of earlier batches complete (prox sends the
// next batch only once the previous one was acknowledged) and appends.
//
// The record is overwritten in place at offset 0 (one pwrite per batch,
// nothing else) and is checked by a length and a CRC-32C: a record cut by
// a kill during its own write reads as no record, which is right, since
// then no byte of its batch was written yet. Neither the record nor the
// log files are fsynced per batch: the guarantee holds across a crash or
// kill of the plugin (the kernel keeps what was written), not across one
// of the machine; Flush and Close fsync the log files.
//
// A truncation is made only when the file is the one recorded and its
// size is between start and end; anything else means another program
// touched the file (rotated, truncated or appended to it), and the batch
// is then appended, with a warning. A record is only taken from disk when
// it was written under the same prox process (its PID, the plugin's
// parent): a Seq of an earlier run of prox never matches. A record of an
// earlier prox whose batch is only partly in a file (that prox was killed
// while its plugin wrote) gets the cut line at the end of the file
// removed, and nothing else: prox will not send that batch again.
//
// The state file lives beside the logs (see statePath) and is locked
// (flock) while the sink uses it; a second sink with the same path (another
// sink block, another prox) finds it locked and writes at least once.

const (
	// stateMagic starts a state record; its last byte is the format's
	// version.
	stateMagic = "proxfs\x00\x01"
	// stateHeader is the magic, the body's length and its CRC-32C.
	stateHeader = len(stateMagic) + 8
	// maxStateSize bounds what is read of a state file.
	maxStateSize = 16 << 20
	// lockWait bounds the wait for the state file's lock: the plugin this
	// one replaces may take a moment to die.
	lockWait = 2 * time.Second
	// stateSuffix ends the name of a state file.
	stateSuffix = ".prox-state"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// stateEntry is one file of a recorded batch.
type stateEntry struct {
	path       string
	dev, ino   uint64
	start, end int64
}

// stateRecord is the record of one batch.
type stateRecord struct {
	seq uint64
	// host is the PID of the prox process that sent the batch.
	host  uint64
	files []stateEntry
	valid bool
}

// appendTo appends the encoded record to b.
func (r *stateRecord) appendTo(b []byte) []byte {
	at := len(b)
	b = append(b, stateMagic...)
	b = append(b, make([]byte, 8)...)
	body := len(b)
	b = binary.AppendUvarint(b, r.seq)
	b = binary.AppendUvarint(b, r.host)
	b = binary.AppendUvarint(b, uint64(len(r.files)))
	for _, f := range r.files {
		b = binary.AppendUvarint(b, f.dev)
		b = binary.AppendUvarint(b, f.ino)
		b = binary.AppendUvarint(b, uint64(f.start))
		b = binary.AppendUvarint(b, uint64(f.end))
		b = binary.AppendUvarint(b, uint64(len(f.path)))
		b = append(b, f.path...)
	}
	binary.LittleEndian.PutUint32(b[at+len(stateMagic):], uint32(len(b)-body))
	binary.LittleEndian.PutUint32(b[at+len(stateMagic)+4:], crc32.Checksum(b[body:], castagnoli))
	return b
}

// errNoRecord is decodeState's error for bytes that hold no whole record.
var errNoRecord = errors.New("no valid record")

// decodeState decodes a record from the start of b; bytes after it are
// ignored (what is left of a longer, older record).
func decodeState(b []byte) (stateRecord, error) {
	var r stateRecord
	if len(b) < stateHeader || string(b[:len(stateMagic)]) != stateMagic {
		return r, errNoRecord
	}
	n := binary.LittleEndian.Uint32(b[len(stateMagic):])
	sum := binary.LittleEndian.Uint32(b[len(stateMagic)+4:])
	b = b[stateHeader:]
	if uint64(n) > uint64(len(b)) || crc32.Checksum(b[:n], castagnoli) != sum {
		return r, errNoRecord
	}
	d := decoder{b: b[:n]}
	r.seq = d.uvarint()
	r.host = d.uvarint()
	count := d.uvarint()
	for i := uint64(0); i < count && d.err == nil; i++ {
		var f stateEntry
		f.dev = d.uvarint()
		f.ino = d.uvarint()
		f.start = int64(d.uvarint())
		f.end = int64(d.uvarint())
		f.path = d.string()
		r.files = append(r.files, f)
	}
	if d.err != nil || len(d.b) != 0 {
		return stateRecord{}, errNoRecord
	}
	for _, f := range r.files {
		if f.start < 0 || f.end < f.start || f.path == "" {
			return stateRecord{}, errNoRecord
		}
	}
	r.valid = true
	return r, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errNoRecord
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errNoRecord
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// statePath returns the state file of the sink writing path: in the
// folder of the path's fixed part (the folder of the file, or for
// per-process files the folder before "{process}"), named "." + the rest
// of the path ("/" written %2F, "%" written %25) + ".prox-state". E.g.
// logs/.app.log.prox-state for logs/app.log, and
// logs/.{process}.log.prox-state for logs/{process}.log.
func statePath(path string, perProcess bool) string {
	dir := filepath.Dir(path)
	if perProcess {
		dir = filepath.Dir(path[:strings.Index(path, ProcessPlaceholder)] + "x")
	}
	rest, err := filepath.Rel(dir, path)
	if err != nil {
		rest = filepath.Base(path)
	}
	rest = strings.NewReplacer("%", "%25", "/", "%2F").Replace(rest)
	return filepath.Join(dir, "."+rest+stateSuffix)
}

// stateFile is an open, locked state file.
type stateFile struct {
	f *os.File
	// write writes a record at offset 0; tests replace it.
	write func(f *os.File, b []byte) error
}

// errLocked reports a state file that another sink holds.
var errLocked = errors.New("locked by another sink writing the same files (another sink block with this path, or another prox)")

// openStateFile opens (creating it) and locks the state file at path,
// waiting up to lockWait for the lock. It returns the bytes it holds.
func openStateFile(ctx context.Context, path string) (*stateFile, []byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, err
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := lockFile(f)
		if err == nil {
			break
		}
		if !errors.Is(err, errWouldBlock) || time.Now().After(deadline) {
			_ = f.Close()
			if errors.Is(err, errWouldBlock) {
				err = errLocked
			}
			return nil, nil, err
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, nil, fmt.Errorf("waiting for the lock of %s: %w", path, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxStateSize))
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return &stateFile{f: f}, data, nil
}

// store writes the encoded record b over the previous one.
func (st *stateFile) store(b []byte) error {
	if st.write != nil {
		return st.write(st.f, b)
	}
	_, err := st.f.WriteAt(b, 0)
	return err
}

func (st *stateFile) close() error {
	return st.f.Close()
}

// maxTail bounds how far back from the end of a file cutTornTail looks
// for the end of the last whole line: more than the longest line (64 KiB)
// with its prefixes.
const maxTail = 1 << 20

// cutTornTail removes the incomplete line at the end of a file that the
// recorded batch was only partly written to: it truncates the file after
// the last newline the batch wrote (or to the batch's start). It does
// nothing to a file that is not the one recorded or whose size is not
// strictly between the batch's start and end.
func cutTornTail(e *stateEntry) (int64, error) {
	f, err := os.OpenFile(e.path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	dev, ino := fileID(fi)
	size := fi.Size()
	if dev != e.dev || ino != e.ino || size <= e.start || size >= e.end {
		return 0, nil
	}
	from := max(e.start, size-maxTail)
	buf := make([]byte, size-from)
	if _, err := f.ReadAt(buf, from); err != nil {
		return 0, err
	}
	if buf[len(buf)-1] == '\n' {
		return 0, nil
	}
	cut := e.start
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		cut = from + int64(i) + 1
	}
	if err := f.Truncate(cut); err != nil {
		return 0, err
	}
	return size - cut, nil
}

// truncateBack undoes an earlier attempt of the recorded batch on one of
// its files: it truncates the file to the size it had before the batch.
// It reports what it did not do, and why, as a warning.
func truncateBack(e *stateEntry) (truncated int64, warning string, err error) {
	f, err := os.OpenFile(e.path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, "the log file is gone: the batch starts a new one", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("failed to open log file to take back a batch's earlier attempt: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, "", fmt.Errorf("failed to open log file to take back a batch's earlier attempt: %w", err)
	}
	dev, ino := fileID(fi)
	size := fi.Size()
	switch {
	case dev != e.dev || ino != e.ino:
		return 0, "the log file was replaced since the batch's earlier attempt: the batch is appended, its lines may repeat", nil
	case size < e.start:
		return 0, "the log file is shorter than before the batch's earlier attempt (truncated by another program?): the batch is appended", nil
	case size > e.end:
		return 0, "the log file is longer than the batch's earlier attempt made it (written by another program?): the batch is appended, its lines may repeat", nil
	case size == e.start:
		return 0, "", nil
	}
	if err := f.Truncate(e.start); err != nil {
		return 0, "", fmt.Errorf("failed to take back a batch's earlier attempt: %w", err)
	}
	return size - e.start, "", nil
}
