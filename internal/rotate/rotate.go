// Package rotate is a log file rotated by size: PATH, then PATH.1 (the
// newest old one) up to PATH.N, the oldest, which the next rotation
// removes. A detached prox writes its own log and its processes' output
// there (.prox/prox.log).
package rotate

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// Defaults of Options.
const (
	// DefaultMaxSize is Options.MaxSize's default: 10 MiB.
	DefaultMaxSize = 10 << 20
	// DefaultBackups is Options.Backups's default: 3 old files, so at
	// most 40 MiB in all with DefaultMaxSize.
	DefaultBackups = 3
)

// Options configure a File.
type Options struct {
	// MaxSize is the size past which the file is rotated, in bytes;
	// default DefaultMaxSize. A single write is never split: the file may
	// pass MaxSize by one write, or hold one write larger than MaxSize.
	MaxSize int64
	// Backups is how many old files are kept; default DefaultBackups.
	Backups int
	// OnOpen, when set, is called with every file opened (the first one
	// and each after a rotation), under the file's lock.
	OnOpen func(*os.File)
}

// File is a log file rotated by size. Its methods are safe for
// concurrent use; every Write reaches the file whole, in one write(2), so
// writes of whole lines never mix and a rotation falls between lines.
type File struct {
	path string
	opts Options

	mu   sync.Mutex
	f    *os.File
	size int64
}

// New returns the File at path. Nothing is opened until the first Write.
func New(path string, opts Options) *File {
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	if opts.Backups <= 0 {
		opts.Backups = DefaultBackups
	}
	return &File{path: path, opts: opts}
}

// Path returns the file's path.
func (r *File) Path() string { return r.path }

// Write appends p to the file, first rotating it when p would take it
// past MaxSize.
func (r *File) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	if r.size > 0 && r.size+int64(len(p)) > r.opts.MaxSize {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// open opens (or creates, mode 0600: the log may hold what processes
// print) the file for appending. r.mu must be held.
func (r *File) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open the log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open the log file: %w", err)
	}
	r.f, r.size = f, fi.Size()
	if r.opts.OnOpen != nil {
		r.opts.OnOpen(f)
	}
	return nil
}

// rotate closes the file, shifts PATH.N-1 to PATH.N ... PATH to PATH.1
// (the oldest is overwritten) and opens a new PATH. r.mu must be held.
func (r *File) rotate() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("rotate the log file: %w", err)
	}
	r.f = nil
	for i := r.opts.Backups - 1; i >= 0; i-- {
		err := os.Rename(r.backup(i), r.backup(i+1))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate the log file: %w", err)
		}
	}
	return r.open()
}

// backup returns the name of the i-th old file; 0 is the file itself.
func (r *File) backup(i int) string {
	if i == 0 {
		return r.path
	}
	return r.path + "." + strconv.Itoa(i)
}

// Close closes the file; a later Write opens it again.
func (r *File) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
