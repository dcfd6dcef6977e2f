package wire

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// sharedSeals are the seals of a shared batch region: its size is fixed,
// so that neither side can make the other's mapping fault (SIGBUS).
const sharedSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL

// NewRegion creates a sealed memfd of size bytes and maps it read-write;
// the caller closes the file once the plugin has it.
func NewRegion(size int) ([]byte, *os.File, error) {
	fd, err := unix.MemfdCreate("prox-sink-batches", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, nil, err
	}
	f := os.NewFile(uintptr(fd), "prox-sink-batches")
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		f.Close()
		return nil, nil, err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, sharedSeals); err != nil {
		f.Close()
		return nil, nil, err
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return mem, f, nil
}

// MapRegion maps the host's region f read-only, once it has checked that
// it is size bytes and cannot shrink.
func MapRegion(f *os.File, size uint64) ([]byte, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, err
	}
	if size == 0 || size > 1<<30 || uint64(st.Size) != size {
		return nil, fmt.Errorf("region of %d bytes, offered as %d", st.Size, size)
	}
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, err
	}
	if seals&unix.F_SEAL_SHRINK == 0 {
		return nil, fmt.Errorf("region is not sealed against shrinking")
	}
	return unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
}

// UnmapRegion releases a mapping made by NewRegion or MapRegion.
func UnmapRegion(mem []byte) { _ = unix.Munmap(mem) }
