package pluginhost

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// handoverAddress names the host's hand-over socket in Linux's abstract
// namespace: nothing on disk to clean up, gone with the process. Anyone on
// the machine may connect; only a plugin given an offer's token gets an
// answer.
func handoverAddress() string {
	suffix := make([]byte, 8)
	_, _ = rand.Read(suffix)
	return "@prox-output-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(suffix)
}

// growPipe sets the capacity of the pipe f to size bytes and reports
// whether it could.
func growPipe(f *os.File, size int) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		_, ferr = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, size)
	}); err != nil {
		return false
	}
	return ferr == nil
}
