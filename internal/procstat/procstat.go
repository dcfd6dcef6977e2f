// Package procstat reads a process's CPU time and resident memory on this
// machine, from its cgroup v2 folder or from /proc, and parses the /proc
// files that hold them (also when they were read on another machine, as
// the ssh runner does). It is the one place prox reads these figures: the
// exec runner's Stats, and /metrics for a local process whose runner has
// no Stats of its own.
package procstat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ClockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const ClockTicks = 100

// Usage is a process's resource use.
type Usage struct {
	// CPU is the CPU time used, user and system.
	CPU time.Duration
	// MemoryBytes is the resident memory, in bytes.
	MemoryBytes uint64
}

// Read reads a running process's usage: from its cgroup when cgroup is
// not "" and can be read (the whole tree: cpu.stat's usage_usec;
// memory.current where the memory controller is enabled, else the
// resident sets of cgroup.procs), else from /proc for the process alone
// (utime, stime and its reaped children's; VmRSS).
func Read(pid int, cgroup string) (Usage, error) {
	if cgroup != "" {
		if u, err := Cgroup(cgroup); err == nil {
			return u, nil
		}
	}
	return Process(pid)
}

// Cgroup reads the usage of a cgroup v2 folder's whole tree.
func Cgroup(dir string) (Usage, error) {
	stat, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	sc := bufio.NewScanner(bytes.NewReader(stat))
	found := false
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "usage_usec "); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return Usage{}, fmt.Errorf("%s: usage_usec: %w", filepath.Join(dir, "cpu.stat"), err)
			}
			u.CPU, found = time.Duration(n)*time.Microsecond, true
		}
	}
	if !found {
		return Usage{}, fmt.Errorf("%s: no usage_usec", filepath.Join(dir, "cpu.stat"))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "memory.current")); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			u.MemoryBytes = n
			return u, nil
		}
	}
	procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return Usage{}, err
	}
	for _, f := range strings.Fields(string(procs)) {
		if pid, err := strconv.Atoi(f); err == nil {
			u.MemoryBytes += rss(pid)
		}
	}
	return u, nil
}

// Process reads the usage of one process from /proc: its CPU time and its
// reaped children's, and its resident set.
func Process(pid int) (Usage, error) {
	if pid <= 0 {
		return Usage{}, fmt.Errorf("no process %d", pid)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Usage{}, err
	}
	cpu, err := ParseStat(b)
	if err != nil {
		return Usage{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return Usage{CPU: cpu, MemoryBytes: rss(pid)}, nil
}

// ParseStat returns the CPU time in the text of a /proc/PID/stat file:
// utime, stime, cutime and cstime (the process's and its reaped
// children's), at ClockTicks.
func ParseStat(b []byte) (time.Duration, error) {
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing parenthesis (field 3, state, first).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no command name in parentheses")
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 15 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 15", len(fields))
	}
	var ticks uint64
	for _, f := range fields[11:15] { // utime, stime, cutime, cstime
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu times: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / ClockTicks, nil
}

// ParseStatm returns the resident memory in the text of a /proc/PID/statm
// file (its second field, in pages of pageSize bytes).
func ParseStatm(b []byte, pageSize uint64) (uint64, error) {
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("%d fields, want at least 2", len(f))
	}
	n, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("resident pages: %w", err)
	}
	return n * pageSize, nil
}

// rss is a process's resident set in bytes (VmRSS), 0 if unknown.
func rss(pid int) uint64 {
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
					return n * 1024
				}
			}
		}
	}
	return 0
}
