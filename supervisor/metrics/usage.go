package metrics

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/prox-dev/prox/supervisor"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// ProcessUsage reads a running process's CPU time and memory from this
// machine: from its cgroup when its runner reported one (the whole tree:
// cpu.stat's usage_usec; memory.current where the memory controller is
// enabled, else the resident sets of cgroup.procs), else from /proc for
// the process alone (utime, stime and its reaped children's; VmRSS). A
// process on another machine (ssh, or a runner that reports no local
// PID) is not read: ok is false. A runner's own Stats, once the SDK has
// them, are the better source.
func ProcessUsage(p supervisor.ProcessInfo) (Usage, bool) {
	if p.PID <= 0 || !local(p) {
		return Usage{}, false
	}
	if p.Cgroup != "" {
		if u, ok := cgroupUsage(p.Cgroup); ok {
			return u, true
		}
	}
	return procUsage(p.PID)
}

// local reports whether p's PID is one of this machine's: its runner
// reported a containment (only local runners do).
func local(p supervisor.ProcessInfo) bool {
	return p.Containment != "" || p.Cgroup != ""
}

func cgroupUsage(dir string) (Usage, bool) {
	stat, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return Usage{}, false
	}
	var u Usage
	sc := bufio.NewScanner(bytes.NewReader(stat))
	found := false
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "usage_usec "); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return Usage{}, false
			}
			u.CPUSeconds, found = float64(n)/1e6, true
		}
	}
	if !found {
		return Usage{}, false
	}
	if b, err := os.ReadFile(filepath.Join(dir, "memory.current")); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			u.MemoryBytes = float64(n)
			return u, true
		}
	}
	procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return Usage{}, false
	}
	for _, f := range strings.Fields(string(procs)) {
		if pid, err := strconv.Atoi(f); err == nil {
			u.MemoryBytes += rss(pid)
		}
	}
	return u, true
}

func procUsage(pid int) (Usage, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Usage{}, false
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing parenthesis (field 3, state, first).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Usage{}, false
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 15 {
		return Usage{}, false
	}
	var ticks uint64
	for _, f := range fields[11:15] { // utime, stime, cutime, cstime
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return Usage{}, false
		}
		ticks += n
	}
	return Usage{CPUSeconds: float64(ticks) / clockTicks, MemoryBytes: rss(pid)}, true
}

// rss is a process's resident set in bytes (VmRSS), 0 if unknown.
func rss(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseUint(f[0], 10, 64)
				if err == nil {
					return float64(n) * 1024
				}
			}
		}
	}
	return 0
}
