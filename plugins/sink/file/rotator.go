package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// bufferSize is how many bytes a file buffers before writing them out.
// Buffers are also written out at the end of every batch. Each file keeps
// its buffer: with 256 KiB, the four files of the S1 benchmark held 1 MiB
// of the sink's heap (1.1 MB more PSS at its peak) for no gain in CPU;
// 64 KiB is already one write(2) per 650 lines of 100 bytes.
const bufferSize = 64 << 10

// rotator is one log file with size-based rotation: before a batch would
// make the file larger than maxSize, the file is renamed PATH.1 (PATH.1
// becomes PATH.2, and so on up to maxBackups; the oldest is removed) and
// a new file is started. Rotation happens only between batches, so a line
// is never split across files and a batch's lines for the file are in one
// file, where a resent batch finds them (see state.go); a batch larger
// than maxSize gets a file of its own. Everything is synchronous: when a
// call returns, the files on disk are in their final state.
//
// A rotator is not safe for concurrent use.
type rotator struct {
	path       string
	maxSize    int64 // 0: never rotate
	maxBackups int
	maxAge     time.Duration // 0: backups never expire
	now        func() time.Time

	f *os.File
	// size is the file's size including the bytes still in buf.
	size int64
	// dev and ino identify the open file (0 where unknown).
	dev, ino uint64
	// buf holds records not yet written to f. Records are appended to it
	// directly by the caller after reserve.
	buf []byte
	// inBatch is set while the current batch writes to the file; pending
	// is then how many bytes it writes to it in all.
	inBatch bool
	pending int64
	// unsynced is set once bytes were written to f since its last sync:
	// a sync of a file with nothing new costs an fsync for nothing.
	unsynced bool
	// fsync commits f; (*os.File).Sync, or a test's counter.
	fsync func(*os.File) error
	// write writes to f; (*os.File).Write, or a test's failing writer.
	write func(*os.File, []byte) (int, error)
	// special is set when the path is not a regular file (a device such
	// as /dev/stdout or /dev/null, a named pipe): it is written to, never
	// rotated (renaming /dev/null would replace it with a regular file for
	// the whole machine), never synced and has no backups.
	special bool
}

// open opens (or creates) the file for appending, creating its directory,
// and removes expired backups.
func (r *rotator) open() error {
	dir := filepath.Dir(r.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("failed to create directory %s: %w", dir, err)
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("failed to open log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("failed to open log file: %w", err)
	}
	r.f, r.size, r.unsynced = f, fi.Size(), false
	r.dev, r.ino = fileID(fi)
	r.special = !fi.Mode().IsRegular()
	if r.special {
		return nil
	}
	return r.removeExpired()
}

// ensureOpen opens the file if it is not open.
func (r *rotator) ensureOpen() error {
	if r.f != nil {
		return nil
	}
	return r.open()
}

// rotateFor rotates the file when n more bytes would make it larger than
// maxSize, unless it is empty: a batch's bytes for the file, n, then go
// into one file. The buffer must be empty.
func (r *rotator) rotateFor(n int64) error {
	if r.maxSize > 0 && !r.special && r.size > 0 && r.size+n > r.maxSize {
		return r.rotate()
	}
	return nil
}

// reserve makes room for a record of n bytes in the buffer, writing it
// out when the record would overflow it. The caller then appends exactly
// n bytes to r.buf.
func (r *rotator) reserve(n int) error {
	if len(r.buf) > 0 && len(r.buf)+n > bufferSize {
		if err := r.flush(); err != nil {
			return err
		}
	}
	if r.buf == nil {
		r.buf = make([]byte, 0, min(max(n, 4<<10), bufferSize))
	}
	r.size += int64(n)
	return nil
}

// flush writes the buffer to the file.
func (r *rotator) flush() error {
	if len(r.buf) == 0 {
		return nil
	}
	write := r.write
	if write == nil {
		write = (*os.File).Write
	}
	_, err := write(r.f, r.buf)
	r.buf = r.buf[:0]
	r.unsynced = true
	if err != nil {
		// The file's true size is unknown now; reopen on the next record.
		r.closeFile()
		return fmt.Errorf("failed to write log file: %w", err)
	}
	return nil
}

// sync writes the buffer out and commits the file to stable storage.
func (r *rotator) sync() error {
	if r.f == nil {
		return nil
	}
	if err := r.flush(); err != nil {
		return err
	}
	if !r.unsynced || r.special {
		return nil
	}
	fsync := r.fsync
	if fsync == nil {
		fsync = (*os.File).Sync
	}
	if err := fsync(r.f); err != nil {
		return fmt.Errorf("failed to sync log file: %w", err)
	}
	r.unsynced = false
	return nil
}

// discard drops the buffered bytes of the current batch.
func (r *rotator) discard() {
	r.size -= int64(len(r.buf))
	r.buf = r.buf[:0]
}

// close writes the buffer out and closes the file.
func (r *rotator) close() error {
	if r.f == nil {
		return nil
	}
	err := r.sync()
	if r.f != nil {
		if cerr := r.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("failed to close log file: %w", cerr)
		}
		r.f = nil
	}
	return err
}

func (r *rotator) closeFile() {
	_ = r.f.Close()
	r.f = nil
	r.size = 0
	r.buf = r.buf[:0]
}

// rotate moves the current file to PATH.1, shifting older backups up and
// dropping those beyond maxBackups, and starts a new file.
//
// The renames go from the oldest backup down, and only up to the first
// missing backup: the backups above a gap stay where they are. So a
// rotation cut short (the plugin killed between two renames) is completed,
// not repeated, by the next one: the gap it left is where the shift stops,
// and no backup is removed twice.
func (r *rotator) rotate() error {
	if err := r.flush(); err != nil {
		return err
	}
	if err := r.f.Close(); err != nil {
		r.f = nil
		return fmt.Errorf("failed to close log file for rotation: %w", err)
	}
	r.f = nil
	if r.maxBackups == 0 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("failed to rotate log file: %w", err)
		}
		return r.open()
	}
	gap := 1
	for ; gap <= r.maxBackups; gap++ {
		if _, err := os.Lstat(r.backup(gap)); errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if gap > r.maxBackups {
		gap = r.maxBackups
		if err := os.Remove(r.backup(gap)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("failed to remove old log file: %w", err)
		}
	}
	for i := gap - 1; i >= 1; i-- {
		if err := os.Rename(r.backup(i), r.backup(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("failed to rotate log file: %w", err)
		}
	}
	if err := os.Rename(r.path, r.backup(1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("failed to rotate log file: %w", err)
	}
	return r.open()
}

// backup returns the path of the i-th backup, PATH.i.
func (r *rotator) backup(i int) string {
	return r.path + "." + strconv.Itoa(i)
}

// removeExpired removes the backups last modified more than maxAge ago.
func (r *rotator) removeExpired() error {
	if r.maxAge <= 0 {
		return nil
	}
	cutoff := r.now().Add(-r.maxAge)
	var errs []error
	for i := 1; i <= r.maxBackups; i++ {
		p := r.backup(i)
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if fi.ModTime().Before(cutoff) {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("failed to remove expired log file: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}
