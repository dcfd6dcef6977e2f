//go:build unix

package file

import (
	"errors"
	"os"
	"syscall"
)

// stateSupported is true where the sink keeps a state file.
const stateSupported = true

// errWouldBlock is lockFile's error for a lock another holds.
var errWouldBlock = syscall.EWOULDBLOCK

// lockFile takes an exclusive flock on f without waiting. The lock goes
// with the file's last descriptor: when the plugin dies, it is free.
func lockFile(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		for {
			lerr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if !errors.Is(lerr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	return lerr
}

// fileID returns the device and inode of fi.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	return uint64(st.Dev), uint64(st.Ino)
}
