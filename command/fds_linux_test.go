package command

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// openInheritable opens a file without close-on-exec, as a parent that
// forgot to set it would, at a low descriptor and at a high one (dup2).
func openInheritable(t *testing.T) []int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "inherited")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	fd, err := syscall.Open(path, syscall.O_RDONLY, 0)
	require.NoError(t, err)
	const high = 900
	require.NoError(t, unix.Dup2(fd, high))
	t.Cleanup(func() {
		syscall.Close(fd)
		syscall.Close(high)
	})
	for _, fd := range []int{fd, high} {
		require.False(t, closeOnExec(t, fd), "fd %d starts inheritable", fd)
	}
	return []int{fd, high}
}

func closeOnExec(t *testing.T, fd int) bool {
	t.Helper()
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	require.NoError(t, err)
	return flags&unix.FD_CLOEXEC != 0
}

func TestMarkInheritedCloseOnExec(t *testing.T) {
	for name, mark := range map[string]func() error{
		"close_range":   closeRangeCloexec,
		"/proc/self/fd": cloexecFromProc,
		"either":        markInheritedCloseOnExec,
	} {
		t.Run(name, func(t *testing.T) {
			var std [3]bool
			for fd := range std {
				std[fd] = closeOnExec(t, fd)
			}
			fds := openInheritable(t)
			require.NoError(t, mark())
			for _, fd := range fds {
				assert.True(t, closeOnExec(t, fd), "fd %d", fd)
			}
			for fd, was := range std {
				assert.Equal(t, was, closeOnExec(t, fd), "fd %d is left as it was", fd)
			}
		})
	}
}
