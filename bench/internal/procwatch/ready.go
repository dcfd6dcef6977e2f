package procwatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// readyWatcher counts the files renamed into (or written and closed in) a
// folder, through inotify: workload processes announce themselves there.
// A file named after a number is a process ID, which onPID receives.
type readyWatcher struct {
	f     *os.File
	onPID func(int)

	mu    sync.Mutex
	names map[string]bool
	done  chan struct{}
}

func newReadyWatcher(dir string, onPID func(int)) (*readyWatcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	// Non-blocking, so the runtime's poller serves reads and Close ends them.
	w := &readyWatcher{f: os.NewFile(uintptr(fd), "inotify"), onPID: onPID, names: map[string]bool{}, done: make(chan struct{})}
	go w.loop()
	// Files that arrived before the watch.
	if names, err := readNames(dir); err == nil {
		for _, n := range names {
			w.add(n)
		}
	}
	return w, nil
}

func readNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

func (w *readyWatcher) loop() {
	defer close(w.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			continue
		}
		b := buf[:n]
		for len(b) >= unix.SizeofInotifyEvent {
			nameLen := int(binary.NativeEndian.Uint32(b[12:16])) // struct inotify_event.len
			end := unix.SizeofInotifyEvent + nameLen
			if end > len(b) {
				break
			}
			name := b[unix.SizeofInotifyEvent:end]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			w.add(string(name))
			b = b[end:]
		}
	}
}

// add counts name once; temporary files (a leading dot) do not count.
func (w *readyWatcher) add(name string) {
	if name == "" || name[0] == '.' {
		return
	}
	w.mu.Lock()
	seen := w.names[name]
	w.names[name] = true
	w.mu.Unlock()
	if seen {
		return
	}
	if pid, err := strconv.Atoi(name); err == nil && w.onPID != nil {
		w.onPID(pid)
	}
}

func (w *readyWatcher) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.names)
}

func (w *readyWatcher) close() {
	_ = w.f.Close()
	<-w.done
}
