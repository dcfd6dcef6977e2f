package wire

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestMapRegionChecksTheRegion(t *testing.T) {
	memfd := func(t *testing.T, size int64, seals int) *os.File {
		fd, err := unix.MemfdCreate("test", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
		require.NoError(t, err)
		f := os.NewFile(uintptr(fd), "test")
		t.Cleanup(func() { f.Close() })
		require.NoError(t, unix.Ftruncate(fd, size))
		if seals != 0 {
			_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals)
			require.NoError(t, err)
		}
		return f
	}
	_, err := MapRegion(memfd(t, 4096, 0), 4096)
	require.ErrorContains(t, err, "not sealed against shrinking")
	_, err = MapRegion(memfd(t, 4096, sharedSeals), 8192)
	require.ErrorContains(t, err, "region of 4096 bytes, offered as 8192")
	mem, err := MapRegion(memfd(t, 4096, sharedSeals), 4096)
	require.NoError(t, err)
	assert.Len(t, mem, 4096)
	UnmapRegion(mem)
}
