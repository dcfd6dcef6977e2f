package exec

import (
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Containment without cgroups: the runner is a child subreaper.
//
// A descendant whose parent dies is reparented to its nearest ancestor that
// is a child subreaper (PR_SET_CHILD_SUBREAPER) rather than to init, so
// whatever escaped a process's group (setsid) and lost its parent (a double
// fork, or the leader's own exit) becomes a child of the plugin: an
// orphan. When a process ends, the runner kills, together, every member of
// its group, every orphan that belongs to it, and every descendant of
// those; it stops them first (SIGSTOP) and walks /proc again until no new
// descendant shows up, so that none can fork its way out between the walk
// and the kill.
//
// Nothing tells which process an orphan came from: its parent is gone.
// The runner keeps, for every orphan it has seen, the processes it may
// belong to: an orphan in a process's group belongs to that process;
// otherwise to any process that had started before it (its owner is one
// of them). An orphan is killed once every process it may belong to has
// ended, never while its owner runs. So a descendant that left its group
// and was orphaned while other processes ran may live until those end too,
// at the latest until the runner shuts down.
//
// Only children of this process that are not leaders of the runner's
// processes are orphans: this assumes that nothing else in the plugin
// forks (the exec runner is the only component of its plugin process).

// forkMu is held for reading from a fork until its child is registered in
// leaders, and for writing while orphans are told from leaders: a child
// just forked is never taken for an orphan.
var forkMu sync.RWMutex

// leaders are the runner's processes whose leader has not been reaped, by
// PID, across runners (the subreaper is the whole plugin process).
var leaders = struct {
	sync.Mutex
	m map[int]*Process
}{m: make(map[int]*Process)}

func registerLeader(p *Process) {
	leaders.Lock()
	leaders.m[p.pid] = p
	leaders.Unlock()
}

func unregisterLeader(p *Process) {
	leaders.Lock()
	if leaders.m[p.pid] == p {
		delete(leaders.m, p.pid)
	}
	leaders.Unlock()
}

// subreaper is the plugin's orphan tracker, set up once.
var subreaper struct {
	once sync.Once
	err  error
	on   atomic.Pointer[orphanTracker]
}

// enableSubreaper makes this process a child subreaper and starts reaping
// the orphans that exit. Calling it again returns the first call's result.
func enableSubreaper() (*orphanTracker, error) {
	subreaper.once.Do(func() {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			subreaper.err = os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err)
			return
		}
		t := &orphanTracker{orphans: make(map[int]*orphan)}
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGCHLD)
		go func() {
			for range ch {
				t.reapExited()
			}
		}()
		subreaper.on.Store(t)
	})
	return subreaper.on.Load(), subreaper.err
}

// subreaperOn returns the orphan tracker once the plugin is a subreaper,
// nil before.
func subreaperOn() *orphanTracker { return subreaper.on.Load() }

// orphanTracker knows the orphans seen so far and whom they may belong to.
type orphanTracker struct {
	mu      sync.Mutex
	orphans map[int]*orphan
}

// orphan is a child of the plugin that no process leads.
type orphan struct {
	start  uint64                // start time, telling a PID's reuse apart
	owners map[*Process]struct{} // the processes it may belong to
}

// processEnded kills what belongs to p, whose leader was reaped: its
// group, its orphans, and their descendants. It returns once they are
// gone (or after a bound).
func (t *orphanTracker) processEnded(p *Process) {
	t.collect([]*Process{p})
}

// collect kills the groups of the ended processes, the orphans that
// belong to no process still running, and their descendants.
func (t *orphanTracker) collect(ended []*Process) {
	forkMu.Lock()
	defer forkMu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()

	leaders.Lock()
	live := make(map[int]*Process, len(leaders.m)+len(ended))
	for pid, p := range leaders.m {
		live[pid] = p
	}
	leaders.Unlock()
	endedSet := make(map[*Process]struct{}, len(ended))
	groups := make(map[int]bool, len(ended))
	for _, p := range ended {
		endedSet[p] = struct{}{}
		groups[p.pid] = true
	}

	procs := scanProcs()
	self := os.Getpid()
	targets := make(map[int]bool)
	for pid, pi := range procs {
		if pi.state == 'Z' {
			continue
		}
		if groups[pi.pgid] {
			targets[pid] = true
			continue
		}
		if pi.ppid != self || live[pid] != nil {
			continue
		}
		o := t.orphans[pid]
		if o == nil || o.start != pi.start {
			o = newOrphan(pi, live, ended)
			t.orphans[pid] = o
		}
		if ownersEnded(o, endedSet) {
			targets[pid] = true
			delete(t.orphans, pid)
			continue
		}
		for _, p := range ended {
			delete(o.owners, p)
		}
	}
	if len(targets) > 0 {
		killTrees(targets, procs)
	}
	t.reapLocked()
}

// newOrphan records a new orphan: it belongs to the process whose group
// it is in, else to one of the processes that had started before it.
func newOrphan(pi procInfo, live map[int]*Process, ended []*Process) *orphan {
	o := &orphan{start: pi.start, owners: make(map[*Process]struct{})}
	all := append(mapValues(live), ended...)
	for _, p := range all {
		if p.pid == pi.pgid {
			o.owners[p] = struct{}{}
			return o
		}
	}
	for _, p := range all {
		if p.start <= pi.start {
			o.owners[p] = struct{}{}
		}
	}
	return o
}

// ownersEnded reports whether every process o may belong to has ended.
func ownersEnded(o *orphan, ended map[*Process]struct{}) bool {
	for p := range o.owners {
		if _, ok := ended[p]; !ok {
			return false
		}
	}
	return true
}

// reapExited reaps the orphans that have exited.
func (t *orphanTracker) reapExited() {
	forkMu.Lock()
	defer forkMu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reapLocked()
}

// reapLocked reaps every exited child of the plugin that leads none of
// the runner's processes (each leader is reaped by its own goroutine).
func (t *orphanTracker) reapLocked() {
	leaders.Lock()
	defer leaders.Unlock()
	for _, pid := range children() {
		if leaders.m[pid] != nil {
			continue
		}
		var ws unix.WaitStatus
		for {
			wpid, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if wpid == pid {
				delete(t.orphans, pid)
			}
			break
		}
	}
}

// killTrees stops the targets and all their descendants, until no new
// descendant shows up, then kills them all and waits, up to a bound, until
// they have exited.
func killTrees(targets map[int]bool, procs map[int]procInfo) {
	stopped := make(map[int]*os.File)
	defer func() {
		for _, f := range stopped {
			_ = f.Close()
		}
	}()
	var unopened []int // no pidfd (old kernel): killed by PID
	for range 100 {
		addDescendants(targets, procs)
		fresh := false
		for pid := range targets {
			if _, ok := stopped[pid]; ok {
				continue
			}
			fresh = true
			fd, err := unix.PidfdOpen(pid, 0)
			if err != nil {
				if err != unix.ESRCH {
					unopened = append(unopened, pid)
				}
				stopped[pid] = nil
				continue
			}
			f := os.NewFile(uintptr(fd), "pidfd")
			// The PID was read before the pidfd was opened: it must still
			// be the same process.
			if pi, ok := readProc(pid); !ok || pi.start != procs[pid].start {
				_ = f.Close()
				stopped[pid] = nil
				continue
			}
			_ = unix.PidfdSendSignal(fd, unix.SIGSTOP, nil, 0)
			stopped[pid] = f
		}
		if !fresh {
			break
		}
		procs = scanProcs()
	}
	for _, pid := range unopened {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	var fds []unix.PollFd
	for _, f := range stopped {
		if f != nil {
			_ = unix.PidfdSendSignal(int(f.Fd()), unix.SIGKILL, nil, 0)
			fds = append(fds, unix.PollFd{Fd: int32(f.Fd()), Events: unix.POLLIN})
		}
	}
	waitAllReadable(fds, cgroupEmptyTimeout)
}

// waitAllReadable waits, up to timeout, until every pidfd is readable:
// until every process has exited.
func waitAllReadable(fds []unix.PollFd, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for len(fds) > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		n, err := unix.Poll(fds, int(left/time.Millisecond)+1)
		if err != nil && err != unix.EINTR {
			return
		}
		if n <= 0 {
			continue
		}
		rest := fds[:0]
		for _, fd := range fds {
			if fd.Revents == 0 {
				fd.Revents = 0
				rest = append(rest, fd)
			}
		}
		fds = rest
	}
}

// addDescendants adds to set every descendant of its members in procs.
func addDescendants(set map[int]bool, procs map[int]procInfo) {
	for {
		grew := false
		for pid, pi := range procs {
			if !set[pid] && set[pi.ppid] && pi.state != 'Z' {
				set[pid] = true
				grew = true
			}
		}
		if !grew {
			return
		}
	}
}

// procInfo is what the runner reads of a process in /proc/PID/stat.
type procInfo struct {
	state byte
	ppid  int
	pgid  int
	start uint64 // clock ticks after boot
}

// scanProcs reads every process's /proc/PID/stat.
func scanProcs() map[int]procInfo {
	entries, err := os.ReadDir("/proc")
	out := make(map[int]procInfo, len(entries))
	if err != nil {
		return out
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pi, ok := readProc(pid); ok {
			out[pid] = pi
		}
	}
	return out
}

// readProc reads /proc/PID/stat.
func readProc(pid int) (procInfo, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	return parseStat(string(b))
}

// parseStat parses a /proc/PID/stat line: "pid (comm) state ppid pgrp
// session ... starttime ...", where comm may hold spaces and parentheses.
func parseStat(s string) (procInfo, bool) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 || len(f[0]) != 1 {
		return procInfo{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgid, err2 := strconv.Atoi(f[2])
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procInfo{}, false
	}
	return procInfo{state: f[0][0], ppid: ppid, pgid: pgid, start: start}, true
}

// children returns the PIDs of this process's children: from
// /proc/self/task/*/children where the kernel has them, else from a scan
// of /proc.
func children() []int {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	if len(tasks) > 0 {
		var out []int
		for _, path := range tasks {
			b, err := os.ReadFile(path)
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					out = append(out, pid)
				}
			}
		}
		return out
	}
	self := os.Getpid()
	var out []int
	for pid, pi := range scanProcs() {
		if pi.ppid == self {
			out = append(out, pid)
		}
	}
	return out
}

func mapValues(m map[int]*Process) []*Process {
	out := make([]*Process, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	return out
}
