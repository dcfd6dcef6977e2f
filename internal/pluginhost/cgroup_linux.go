package pluginhost

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// localCgroupTimeout bounds the wait for a killed cgroup to empty.
const localCgroupTimeout = 5 * time.Second

// localCgroupParentPrefix names the folder a runner makes for its
// processes' cgroups (the exec runner's "prox-PID-RANDOM"): removed with
// its last cgroup, when its plugin died. Another folder is left alone.
const localCgroupParentPrefix = "prox-"

// removeLocalCgroup kills every process in the cgroup v2 folder dir
// (cgroup.kill), waits up to localCgroupTimeout until it is empty, and
// removes it, and then its parent folder if it is a runner's and empty. A
// dir that is not an absolute, clean path on a cgroup2 file system is left
// alone: the host writes nowhere else on a plugin's word.
func removeLocalCgroup(dir string) {
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir {
		return
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return
	}
	if f, err := os.OpenFile(filepath.Join(dir, "cgroup.kill"), os.O_WRONLY, 0); err == nil {
		_, _ = f.WriteString("1")
		_ = f.Close()
	}
	if events, err := os.Open(filepath.Join(dir, "cgroup.events")); err == nil {
		waitCgroupEmpty(events, localCgroupTimeout)
		_ = events.Close()
	}
	if err := unix.Rmdir(dir); err != nil {
		return
	}
	if parent := filepath.Dir(dir); strings.HasPrefix(filepath.Base(parent), localCgroupParentPrefix) {
		_ = unix.Rmdir(parent) // fails, harmlessly, while it holds another cgroup
	}
}

// waitCgroupEmpty waits, up to timeout, until the cgroup.events file f
// says "populated 0"; a change of the file wakes poll(2) with POLLPRI.
func waitCgroupEmpty(f *os.File, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 256)
	for {
		n, err := f.ReadAt(buf, 0)
		if err != nil && err != io.EOF {
			return
		}
		if !bytes.Contains(buf[:n], []byte("populated 1")) {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLPRI}}
		if _, err := unix.Poll(fds, int(left/time.Millisecond)+1); err != nil && err != unix.EINTR {
			return
		}
	}
}
