package loader

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/prox-dev/prox/sdk"
	"golang.org/x/sys/unix"
)

// Signals to local process groups. A process of the built-in exec runner
// leads its own process group on this machine, as a child of the runner
// plugin, and the runner's Signal is kill(-pgid, sig). prox makes that
// system call itself: a stop then costs no gRPC round trip per process
// (with 200 processes, those took the stop signals about 0.1 s to go out
// on a 2-core machine). The runner needs no word of it: it learns of the
// exit by reaping its child, as it would have.
//
// A group ID is the leader's PID, reusable once the leader was reaped. So
// prox holds a pidfd of the leader, opened when the process started and
// checked then to name a child of the plugin that leads its own group, and
// signals the group only while that pidfd says the leader has not exited
// (an unreaped leader keeps its PID, and so the group's ID, from reuse).
// Once the leader has exited, a signal goes through the plugin, which knows
// whether its group may still be signalled. Only built-in runners are
// trusted with this: another runner's Signal may do more than kill.
//
// SIGKILL to a process that runs in a cgroup of its own (the exec runner's
// StartResponse.local_cgroup, checked to be a cgroup2 folder) is also
// cgroup.kill: the whole tree, descendants that left the group included.
// A cgroup's path is never reused (the runner numbers them), so this needs
// no pidfd.

// localGroupProcess is a process whose signals prox delivers to its group
// itself, while its leader lives.
type localGroupProcess struct {
	sdk.Process
	pgid   int
	cgroup string // "" if none

	mu    sync.Mutex
	pidfd *os.File // nil once the leader is known to have exited
}

var (
	_ sdk.Process           = (*localGroupProcess)(nil)
	_ sdk.ProcessExecer     = (*localGroupProcess)(nil)
	_ sdk.ProcessStatter    = (*localGroupProcess)(nil)
	_ sdk.OutputCloser      = (*localGroupProcess)(nil)
	_ sdk.LocalProcessGroup = (*localGroupProcess)(nil)
	_ sdk.LocalCgroup       = (*localGroupProcess)(nil)
	_ sdk.Containment       = (*localGroupProcess)(nil)
)

// signalLocally wraps p so that its signals go straight to its process
// group, when p leads a local group as a direct child of the plugin
// process pluginPID; otherwise it returns p as it is.
func signalLocally(p sdk.Process, pluginPID int) sdk.Process {
	lg, ok := p.(sdk.LocalProcessGroup)
	if !ok || pluginPID <= 0 {
		return p
	}
	pgid := lg.LocalProcessGroup()
	if pgid <= 0 || pgid != p.PID() {
		return p // not the leader of its own group
	}
	fd, err := unix.PidfdOpen(pgid, 0)
	if err != nil {
		return p // gone already, or no pidfds on this kernel
	}
	pidfd := os.NewFile(uintptr(fd), "pidfd")
	// The check reads /proc/PID: it is about the pidfd's process only if
	// that process is still alive after it.
	ppid, pgrp, err := procParent(pgid)
	if err != nil || ppid != pluginPID || pgrp != pgid || exited(pidfd) {
		_ = pidfd.Close()
		return p
	}
	lp := &localGroupProcess{Process: p, pgid: pgid, pidfd: pidfd}
	if lc, ok := p.(sdk.LocalCgroup); ok && isCgroup2Dir(lc.LocalCgroup()) {
		lp.cgroup = lc.LocalCgroup()
	}
	return lp
}

// Signal implements sdk.Process: kill(-pgid, sig) while the leader lives,
// through the plugin otherwise (or when the system call fails). SIGKILL to
// a process with a cgroup is cgroup.kill: the whole tree, leader included.
func (p *localGroupProcess) Signal(sig os.Signal) error {
	if sig == syscall.SIGKILL && p.cgroup != "" && killCgroup(p.cgroup) == nil {
		return nil
	}
	if s, ok := sig.(syscall.Signal); ok && p.signalGroup(s) {
		return nil
	}
	return p.Process.Signal(sig)
}

// LocalProcessGroup implements sdk.LocalProcessGroup.
func (p *localGroupProcess) LocalProcessGroup() int { return p.pgid }

// LocalCgroup implements sdk.LocalCgroup: the process's cgroup, "" if it
// has none.
func (p *localGroupProcess) LocalCgroup() string { return p.cgroup }

// Containment implements sdk.Containment, as the runner reported it.
func (p *localGroupProcess) Containment() string {
	if c, ok := p.Process.(sdk.Containment); ok {
		return c.Containment()
	}
	return ""
}

// isCgroup2Dir reports whether dir is an absolute, clean path of a folder
// on a cgroup2 file system.
func isCgroup2Dir(dir string) bool {
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir {
		return false
	}
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// killCgroup kills every process in the cgroup folder dir (cgroup.kill).
func killCgroup(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, "cgroup.kill"), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString("1")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// signalGroup sends sig to the group and reports whether it did.
func (p *localGroupProcess) signalGroup(sig syscall.Signal) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pidfd == nil {
		return false
	}
	if exited(p.pidfd) {
		p.releaseLocked()
		return false
	}
	return unix.Kill(-p.pgid, sig) == nil
}

// Wait implements sdk.Process; once the plugin has reported the exit, the
// leader is reaped and the pidfd is of no more use.
func (p *localGroupProcess) Wait() error {
	err := p.Process.Wait()
	p.mu.Lock()
	p.releaseLocked()
	p.mu.Unlock()
	return err
}

func (p *localGroupProcess) releaseLocked() {
	if p.pidfd != nil {
		_ = p.pidfd.Close()
		p.pidfd = nil
	}
}

// Exec implements sdk.ProcessExecer through the plugin's process.
func (p *localGroupProcess) Exec(ctx context.Context, command []string) (sdk.ExecResult, error) {
	ex, ok := p.Process.(sdk.ProcessExecer)
	if !ok {
		return sdk.ExecResult{}, fmt.Errorf("exec: %w", sdk.ErrUnimplemented)
	}
	return ex.Exec(ctx, command)
}

// Stats implements sdk.ProcessStatter through the plugin's process.
func (p *localGroupProcess) Stats(ctx context.Context) (sdk.ProcessStats, error) {
	st, ok := p.Process.(sdk.ProcessStatter)
	if !ok {
		return sdk.ProcessStats{}, fmt.Errorf("stats: %w", sdk.ErrUnimplemented)
	}
	return st.Stats(ctx)
}

// CloseOutput implements sdk.OutputCloser through the plugin's process.
func (p *localGroupProcess) CloseOutput() {
	if oc, ok := p.Process.(sdk.OutputCloser); ok {
		oc.CloseOutput()
	}
}

// exited reports whether the process of pidfd has exited: its pidfd is
// readable from then on.
func exited(pidfd *os.File) bool {
	raw, err := pidfd.SyscallConn()
	if err != nil {
		return true
	}
	readable := true
	_ = raw.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, 0)
			if err == unix.EINTR {
				continue
			}
			readable = err != nil || (n > 0 && fds[0].Revents != 0)
			return
		}
	})
	return readable
}

// procParent returns the parent PID and process group of pid, from
// /proc/PID/stat.
func procParent(pid int) (ppid, pgrp int, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 {
		return 0, 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	if ppid, err = strconv.Atoi(f[1]); err == nil {
		pgrp, err = strconv.Atoi(f[2])
	}
	return ppid, pgrp, err
}
