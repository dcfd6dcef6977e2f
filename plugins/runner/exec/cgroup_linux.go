package exec

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Containment in cgroups.
//
// Where a cgroup v2 hierarchy is writable, every process runs in a cgroup of
// its own, which its descendants cannot leave (only a process allowed to
// write elsewhere in the hierarchy can move one): a descendant that left
// the process group with setsid, or was orphaned by a double fork, is still
// there. The final kill is cgroup.kill, which kills the whole tree at once,
// and "populated 0" in cgroup.events means that the whole tree is gone.
//
// The layout, under this process's own cgroup (the v2 root on a hybrid
// system, a delegated subtree where systemd hands one out):
//
//	<own cgroup>/prox-<plugin PID>-<random>/       the runner's (no process in it)
//	<own cgroup>/prox-<plugin PID>-<random>/<name>-<n>/   one per process
//
// The plugin itself stays where it is, so the runner's folder never holds
// a process and children may be made in it whatever controllers are
// enabled. A process's folder is removed once it is empty, the runner's once
// it holds no process folder.

// cgroupPrefix starts the name of a runner's cgroup folder. prox, when a
// plugin died, removes the folder that holds a process's cgroup only under
// this name.
const cgroupPrefix = "prox-"

// cgroupEmptyTimeout bounds the wait for a killed cgroup to empty.
const cgroupEmptyTimeout = 5 * time.Second

// cgroupRoot is the runner's cgroup folder, made at its first process and
// removed when its last process cgroup is.
type cgroupRoot struct {
	parent string // this process's own cgroup, where dir is made

	mu   sync.Mutex
	dir  string // "" while not made
	live int    // process cgroups in dir
	next uint64 // numbers the process cgroups

	// swept counts the process cgroups of runners that are gone that
	// newCgroupRoot emptied.
	swept int
}

// ownCgroupDir returns the folder of this process's cgroup in the cgroup v2
// hierarchy, from /proc/self/cgroup and /proc/self/mountinfo.
func ownCgroupDir() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	own, found := "", false
	for line := range strings.SplitSeq(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			own, found = p, true
		}
	}
	if !found || !strings.HasPrefix(own, "/") {
		return "", errors.New("this process is in no cgroup v2 hierarchy (no 0:: line in /proc/self/cgroup)")
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	mounts, err := cgroup2Mounts(f)
	if err != nil {
		return "", err
	}
	for _, m := range mounts {
		rel, ok := underRoot(own, m.root)
		if !ok {
			continue
		}
		dir := filepath.Join(m.point, rel)
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no mounted cgroup2 file system shows this process's cgroup %s", own)
}

// mount is a cgroup2 mount: the hierarchy's folder mounted (root) and where.
type mount struct{ root, point string }

// cgroup2Mounts returns the cgroup2 mounts listed in a mountinfo file.
func cgroup2Mounts(r io.Reader) ([]mount, error) {
	var out []mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// ID parent major:minor root point options [optional...] - fstype source super
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, fs := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(fs) < 1 || fs[0] != "cgroup2" {
			continue
		}
		out = append(out, mount{root: unescapeMount(f[3]), point: unescapeMount(f[4])})
	}
	return out, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// underRoot returns path relative to root, when path is root or below it.
func underRoot(path, root string) (string, bool) {
	if root == "/" {
		return path, true
	}
	if path == root {
		return "/", true
	}
	if rel, ok := strings.CutPrefix(path, root+"/"); ok {
		return "/" + rel, true
	}
	return "", false
}

// newCgroupRoot checks that the runner can make its cgroups under this
// process's own cgroup: it makes its folder (then removes it again, until
// the first process) and checks that it offers cgroup.kill (Linux 5.14).
func newCgroupRoot() (*cgroupRoot, error) {
	parent, err := ownCgroupDir()
	if err != nil {
		return nil, err
	}
	r := &cgroupRoot{parent: parent}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.makeLocked(); err != nil {
		return nil, err
	}
	_, statErr := os.Stat(filepath.Join(r.dir, "cgroup.kill"))
	r.removeLocked()
	if statErr != nil {
		return nil, fmt.Errorf("cgroup %s has no cgroup.kill (Linux 5.14 or later is needed): %w", parent, statErr)
	}
	r.swept = sweepStale(parent)
	return r, nil
}

// sweepStale kills and removes the folders that runners which are gone
// left under parent: prox-PID-* whose PID no longer runs. They are what a
// kill -9 of both prox and its exec runner leaves behind, processes
// included (nothing was left to empty them). It returns how many process
// cgroups it emptied. A PID that runs again (reused) keeps its folder.
func sweepStale(parent string) int {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return 0
	}
	swept := 0
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), cgroupPrefix)
		pidText, _, found := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || !found || err != nil || !e.IsDir() || pid == os.Getpid() || unix.Kill(pid, 0) != unix.ESRCH {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		children, _ := os.ReadDir(dir)
		for _, child := range children {
			if !child.IsDir() {
				continue
			}
			c := &cgroup{dir: filepath.Join(dir, child.Name())}
			if populated, err := c.isPopulated(); err == nil && populated {
				swept++
			}
			_ = c.killAndWait(cgroupEmptyTimeout)
			_ = unix.Rmdir(c.dir)
		}
		_ = unix.Rmdir(dir)
	}
	return swept
}

// isPopulated reports whether a process is left in the cgroup.
func (c *cgroup) isPopulated() (bool, error) {
	f, err := os.Open(filepath.Join(c.dir, "cgroup.events"))
	if err != nil {
		return false, err
	}
	defer f.Close()
	return readPopulated(f)
}

// makeLocked makes the runner's folder.
func (r *cgroupRoot) makeLocked() error {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	dir := filepath.Join(r.parent, cgroupPrefix+strconv.Itoa(os.Getpid())+"-"+hex.EncodeToString(b))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("make a cgroup: %w", err)
	}
	r.dir = dir
	return nil
}

// removeLocked removes the runner's folder, which must hold no cgroup.
func (r *cgroupRoot) removeLocked() {
	if r.dir != "" {
		_ = unix.Rmdir(r.dir)
		r.dir = ""
	}
}

// cgroup is one process's cgroup.
type cgroup struct {
	root *cgroupRoot
	dir  string
}

// newCgroup makes the cgroup of a process called name.
func (r *cgroupRoot) newCgroup(name string) (*cgroup, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dir == "" {
		if err := r.makeLocked(); err != nil {
			return nil, err
		}
	}
	r.next++
	dir := filepath.Join(r.dir, cgroupName(name, r.next))
	if err := os.Mkdir(dir, 0o755); err != nil {
		if r.live == 0 {
			r.removeLocked()
		}
		return nil, fmt.Errorf("make a cgroup: %w", err)
	}
	r.live++
	return &cgroup{root: r, dir: dir}, nil
}

// cgroupName is the folder name of process name's nth cgroup: the name's
// letters, digits, '-' and '_' (others become '_'), at most 64 of them.
func cgroupName(name string, n uint64) string {
	b := []byte(name)
	if len(b) > 64 {
		b = b[:64]
	}
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b) + "-" + strconv.FormatUint(n, 10)
}

// openDir opens the cgroup's folder, for clone3's CLONE_INTO_CGROUP.
func (c *cgroup) openDir() (int, error) {
	return unix.Open(c.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// add moves pid into the cgroup: the fallback where clone3 cannot place a
// child in it.
func (c *cgroup) add(pid int) error {
	return writeFile(filepath.Join(c.dir, "cgroup.procs"), strconv.Itoa(pid))
}

// kill kills every process in the cgroup (cgroup.kill).
func (c *cgroup) kill() error {
	return writeFile(filepath.Join(c.dir, "cgroup.kill"), "1")
}

// readPopulated reads cgroup.events from its start.
func readPopulated(f *os.File) (bool, error) {
	buf := make([]byte, 256)
	n, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return false, err
	}
	for line := range bytes.SplitSeq(buf[:n], []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("populated ")); ok {
			return string(v) != "0", nil
		}
	}
	return false, fmt.Errorf("no populated line in %s", f.Name())
}

// killAndWait kills whatever is left in the cgroup and waits, up to
// timeout, until it is empty.
func (c *cgroup) killAndWait(timeout time.Duration) error {
	f, err := os.Open(filepath.Join(c.dir, "cgroup.events"))
	if err != nil {
		return err
	}
	defer f.Close()
	populated, err := readPopulated(f)
	if err != nil || !populated {
		return err
	}
	if err := c.kill(); err != nil {
		return err
	}
	return waitUnpopulated(f, timeout)
}

// waitUnpopulated waits until the cgroup.events file f says "populated 0".
// A change of the file wakes poll(2) with POLLPRI.
func waitUnpopulated(f *os.File, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		populated, err := readPopulated(f)
		if err != nil || !populated {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("cgroup %s still populated after %s", filepath.Dir(f.Name()), timeout)
		}
		fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLPRI}}
		if _, err := unix.Poll(fds, int(left/time.Millisecond)+1); err != nil && err != unix.EINTR {
			return fmt.Errorf("poll %s: %w", f.Name(), err)
		}
	}
}

// remove removes the empty cgroup, and the runner's folder with its last
// cgroup.
func (c *cgroup) remove() error {
	err := unix.Rmdir(c.dir)
	if err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove cgroup %s: %w", c.dir, err)
	}
	r := c.root
	r.mu.Lock()
	r.live--
	if r.live == 0 {
		r.removeLocked()
	}
	r.mu.Unlock()
	return nil
}

// writeFile writes s to the existing file path, as one write.
func writeFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// shutdown kills and removes the process cgroups left in the runner's
// folder (those whose removal failed), then the folder.
func (r *cgroupRoot) shutdown() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dir == "" {
		return nil
	}
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c := &cgroup{root: r, dir: filepath.Join(r.dir, e.Name())}
		if err := c.killAndWait(cgroupEmptyTimeout); err != nil {
			errs = append(errs, err)
		}
		if err := unix.Rmdir(c.dir); err != nil && err != unix.ENOENT {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", c.dir, err))
			continue
		}
		r.live--
	}
	if len(errs) == 0 {
		r.live = 0
		r.removeLocked()
	}
	return errors.Join(errs...)
}
