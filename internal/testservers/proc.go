package testservers

import (
	"os"
	"strconv"
	"strings"
)

// The servers run on this machine: the tests look at the processes they
// start (remote logins, containers' processes) through /proc.

// ProcStat is the part of /proc/PID/stat the tests use.
type ProcStat struct {
	// State is the state letter ("R", "S", "Z", ...).
	State string
	// PPID is the parent's PID.
	PPID int
	// PGID is the process group.
	PGID int
	// StartTime is the start time in clock ticks since boot, as written:
	// with the PID it names a process robustly to PID reuse.
	StartTime string
}

// ReadStat reads /proc/PID/stat; false when the process is gone.
func ReadStat(pid int) (ProcStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ProcStat{}, false
	}
	// "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime priority nice threads
	// itrealvalue starttime ..."; comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ProcStat{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ProcStat{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgid, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return ProcStat{}, false
	}
	return ProcStat{State: f[0], PPID: ppid, PGID: pgid, StartTime: f[19]}, true
}

// PIDs lists the processes in /proc.
func PIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// GroupMembers returns the live (non-zombie) processes of group pgid.
func GroupMembers(pgid int) []int {
	var out []int
	for _, pid := range PIDs() {
		if st, ok := ReadStat(pid); ok && st.PGID == pgid && st.State != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

// Children returns the live (non-zombie) children of pid.
func Children(pid int) []int {
	var out []int
	for _, p := range PIDs() {
		if st, ok := ReadStat(p); ok && st.PPID == pid && st.State != "Z" {
			out = append(out, p)
		}
	}
	return out
}

// Descendants returns every live descendant of pid.
func Descendants(pid int) []int {
	var out []int
	for _, c := range Children(pid) {
		out = append(out, c)
		out = append(out, Descendants(c)...)
	}
	return out
}

// Comm returns the command name of pid ("" when it is gone).
func Comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// Cmdline returns the argv of pid joined by spaces.
func Cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// UIDOf returns the real UID of pid, or -1.
func UIDOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Uid:" {
			uid, err := strconv.Atoi(f[1])
			if err == nil {
				return uid
			}
		}
	}
	return -1
}
