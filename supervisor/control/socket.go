package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MaxSocketPath is the longest unix socket path Linux accepts (sun_path
// is 108 bytes, with its terminating NUL).
const MaxSocketPath = 107

// probeTimeout bounds the connection attempt that tells a live socket
// from a stale one.
const probeTimeout = 2 * time.Second

// lockAttempts bounds the retries when the PID file is replaced while
// being locked.
const lockAttempts = 5

// DefaultSocket returns the socket of the configuration file at
// configPath when nothing else is set: .prox/prox.sock in the file's
// folder.
func DefaultSocket(configPath string) string {
	return filepath.Join(filepath.Dir(configPath), ".prox", "prox.sock")
}

// PIDFile returns the PID file that guards socket: in the same folder,
// named after it with ".pid" instead of ".sock" (.prox/prox.pid for the
// default socket).
func PIDFile(socket string) string {
	return strings.TrimSuffix(socket, ".sock") + ".pid"
}

// checkSocketPath rejects a path a unix socket cannot have.
func checkSocketPath(socket string) error {
	if socket == "" {
		return errors.New("no socket path")
	}
	if len(socket) > MaxSocketPath {
		return fmt.Errorf("the socket path %s is %d bytes long, more than the %d a unix socket allows: choose a shorter one with -socket or PROX_SOCKET", socket, len(socket), MaxSocketPath)
	}
	return nil
}

// Listener is a claimed control socket: the PID file beside it is locked
// (and holds this process's PID) and the socket is bound with mode 0600.
// Close releases both and removes the files.
type Listener struct {
	path    string
	ln      *net.UnixListener
	sock    os.FileInfo // the socket file, to remove only our own
	lock    *os.File
	pidPath string
	once    sync.Once
	err     error
}

// Listen claims socket for this process. The socket's folder is created
// with mode 0700 when missing (an existing folder named .prox is narrowed
// to 0700; another existing folder is left as it is). A second instance on
// the same socket gets an *AlreadyRunningError naming the running
// instance's PID; a socket left behind by an instance that died (nothing
// accepts connections on it) is removed and replaced.
func Listen(socket string) (*Listener, error) {
	socket = filepath.Clean(socket)
	if err := checkSocketPath(socket); err != nil {
		return nil, err
	}
	if err := prepareDir(filepath.Dir(socket)); err != nil {
		return nil, err
	}
	l := &Listener{path: socket, pidPath: PIDFile(socket)}
	lock, err := lockPIDFile(l.pidPath, socket)
	if err != nil {
		return nil, err
	}
	l.lock = lock
	if err := l.bind(); err != nil {
		l.releaseLock()
		return nil, err
	}
	if err := l.writePID(); err != nil {
		_ = l.Close()
		return nil, err
	}
	return l, nil
}

// Path returns the socket's path.
func (l *Listener) Path() string { return l.path }

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) { return l.ln.Accept() }

// Addr implements net.Listener.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops listening, removes the socket (if it is still this
// listener's) and the PID file, and releases the lock. Calling it again
// does nothing.
func (l *Listener) Close() error {
	l.once.Do(func() {
		var errs []error
		if err := l.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
		if fi, err := os.Lstat(l.path); err == nil && os.SameFile(fi, l.sock) {
			errs = append(errs, os.Remove(l.path))
		}
		l.releaseLock()
		l.err = errors.Join(errs...)
	})
	return l.err
}

// releaseLock removes the PID file, which is ours while locked, and
// closes it, which releases the lock.
func (l *Listener) releaseLock() {
	_ = os.Remove(l.pidPath)
	_ = l.lock.Close()
}

// prepareDir creates the socket's folder, only the user may enter it.
func prepareDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create the socket's folder: %w", err)
		}
		return os.Chmod(dir, 0o700) // whatever the umask
	case err != nil:
		return fmt.Errorf("socket folder: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("socket folder %s is not a folder", dir)
	}
	if filepath.Base(dir) == ".prox" && fi.Mode().Perm()&0o077 != 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == os.Getuid() {
			if err := os.Chmod(dir, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("restrict the socket's folder: %w", err)
			}
		}
	}
	return nil
}

// lockPIDFile opens and locks the PID file; if another process holds the
// lock it returns an *AlreadyRunningError with that process's PID.
func lockPIDFile(path, socket string) (*os.File, error) {
	for range lockAttempts {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open the PID file: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			pid := readPID(f)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				if pid == 0 {
					pid = askPID(socket)
				}
				return nil, &AlreadyRunningError{Socket: socket, PID: pid}
			}
			return nil, fmt.Errorf("lock the PID file %s: %w", path, err)
		}
		// The file may have been removed (and another created) by an
		// instance that was exiting between our open and our lock: the
		// lock counts only on the file the path names now.
		held, err1 := f.Stat()
		named, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, named) {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("lock the PID file %s: it keeps being replaced", path)
}

// readPID reads the PID written in f, 0 if none.
func readPID(f *os.File) int {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 64))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// askPID asks the instance on socket for its PID, 0 if it does not say.
func askPID(socket string) int {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	c := NewClient(socket)
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return 0
	}
	return st.PID
}

// bind removes a stale socket and binds a new one with mode 0600. It binds
// under a temporary name, sets the mode, then renames it into place, so
// the socket is never reachable with a wider mode.
func (l *Listener) bind() error {
	if err := removeStale(l.path); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(l.path), fmt.Sprintf(".prox-%d.tmp", os.Getpid()))
	direct := len(tmp) > MaxSocketPath
	name := tmp
	if direct {
		name = l.path
	} else {
		_ = os.Remove(tmp) // left by a crashed process with our PID
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	if err != nil {
		return fmt.Errorf("listen on %s: %w", l.path, err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(name, 0o600); err != nil {
		ln.Close()
		_ = os.Remove(name)
		return fmt.Errorf("set the socket's mode: %w", err)
	}
	if !direct {
		if err := os.Rename(tmp, l.path); err != nil {
			ln.Close()
			_ = os.Remove(tmp)
			return fmt.Errorf("move the socket into place: %w", err)
		}
	}
	fi, err := os.Lstat(l.path)
	if err != nil {
		ln.Close()
		return fmt.Errorf("socket: %w", err)
	}
	l.ln, l.sock = ln, fi
	return nil
}

// removeStale removes the socket at path if nothing accepts connections
// on it. Something that answers is another instance (one that does not
// lock the PID file): refused.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket: remove it, or choose another socket with -socket or PROX_SOCKET", path)
	}
	conn, err := net.DialTimeout("unix", path, probeTimeout)
	if err == nil {
		conn.Close()
		return &AlreadyRunningError{Socket: path, PID: askPID(path)}
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("probe the existing socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the stale socket %s: %w", path, err)
	}
	return nil
}

// writePID writes this process's PID into the locked PID file.
func (l *Listener) writePID() error {
	if err := l.lock.Truncate(0); err != nil {
		return fmt.Errorf("write the PID file: %w", err)
	}
	if _, err := l.lock.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return fmt.Errorf("write the PID file: %w", err)
	}
	return nil
}
