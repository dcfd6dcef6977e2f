package control

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultSocketAndPIDFile(t *testing.T) {
	assert.Equal(t, filepath.Join("proj", ".prox", "prox.sock"), DefaultSocket("proj/prox.hcl"))
	assert.Equal(t, filepath.Join(".prox", "prox.sock"), DefaultSocket("prox.hcl"))
	assert.Equal(t, "/run/x/prox.pid", PIDFile("/run/x/prox.sock"))
	assert.Equal(t, "/tmp/ctl.pid", PIDFile("/tmp/ctl"))
}

func TestListenPermissionsAndPIDFile(t *testing.T) {
	socket := filepath.Join(t.TempDir(), ".prox", "prox.sock")
	ln, err := Listen(socket)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), mode(t, filepath.Dir(socket)), "only the user may enter the socket's folder")
	fi, err := os.Lstat(socket)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeSocket, "a socket")
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	pid, err := os.ReadFile(PIDFile(socket))
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(os.Getpid()), strings.TrimSpace(string(pid)))
	assert.Equal(t, os.FileMode(0o600), mode(t, PIDFile(socket)))

	require.NoError(t, ln.Close())
	assert.NoFileExists(t, socket, "Close removes the socket")
	assert.NoFileExists(t, PIDFile(socket), "and the PID file")
	require.NoError(t, ln.Close(), "a second Close does nothing")
}

func TestListenNarrowsAnExistingProxFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".prox")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	ln, err := Listen(filepath.Join(dir, "prox.sock"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	assert.Equal(t, os.FileMode(0o700), mode(t, dir))
}

func TestSecondListenIsRefusedWithThePID(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "prox.sock")
	ln, err := Listen(socket)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })

	_, err = Listen(socket)
	require.ErrorIs(t, err, ErrAlreadyRunning)
	var are *AlreadyRunningError
	require.True(t, errors.As(err, &are))
	assert.Equal(t, os.Getpid(), are.PID)
	assert.Contains(t, err.Error(), "PID "+strconv.Itoa(os.Getpid()))
	assert.Contains(t, err.Error(), socket)

	// The first one still owns its socket.
	_, statErr := os.Lstat(socket)
	assert.NoError(t, statErr)
	require.NoError(t, ln.Close())
	ln2, err := Listen(socket)
	require.NoError(t, err, "free again once the first one closed")
	require.NoError(t, ln2.Close())
}

func TestStaleSocketIsReplaced(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "prox.sock")
	// A socket nobody listens on any more: what a crashed run leaves.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	require.NoError(t, err)
	old.SetUnlinkOnClose(false)
	require.NoError(t, old.Close())
	require.NoError(t, os.WriteFile(PIDFile(socket), []byte("999999\n"), 0o600))
	_, err = net.Dial("unix", socket)
	require.Error(t, err, "the old socket refuses connections")

	ln, err := Listen(socket)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	conn, err := net.Dial("unix", socket)
	require.NoError(t, err, "the new socket accepts connections")
	conn.Close()
	pid, err := os.ReadFile(PIDFile(socket))
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(os.Getpid()), strings.TrimSpace(string(pid)))
}

func TestLiveSocketWithoutLockIsNotTaken(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "prox.sock")
	other, err := net.Listen("unix", socket) // something else answers there
	require.NoError(t, err)
	t.Cleanup(func() { other.Close() })
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, err = Listen(socket)
	require.ErrorIs(t, err, ErrAlreadyRunning)
	_, statErr := os.Lstat(socket)
	assert.NoError(t, statErr, "the live socket is left alone")
}

func TestListenRefusesBadPaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err := Listen(file)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not a socket")

	long := filepath.Join(dir, strings.Repeat("x", 120), "prox.sock")
	_, err = Listen(long)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "more than the 107")
	assert.NoDirExists(t, filepath.Dir(long), "nothing is created for a path that cannot work")
}
