package container

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// killLocalExec SIGKILLs the process group of an exec'd command whose
// host PID the engine reported, when that process is visible here and
// belongs to the container whose ID is containerID (its cgroup names it):
// the engine runs on this machine and this plugin may signal it. The
// runtimes (runc, crun) start an exec'd command in a session, and so a
// process group, of its own; the group is killed only when the process
// leads it. It reports whether it sent the signal.
func killLocalExec(pid int, containerID string) bool {
	if pid <= 1 || containerID == "" {
		return false
	}
	proc := "/proc/" + strconv.Itoa(pid)
	cgroup, err := os.ReadFile(proc + "/cgroup")
	if err != nil || !bytes.Contains(cgroup, []byte(containerID)) {
		return false
	}
	if pgid, ok := processGroup(proc); ok && pgid == pid {
		return syscall.Kill(-pid, syscall.SIGKILL) == nil
	}
	return syscall.Kill(pid, syscall.SIGKILL) == nil
}

// processGroup reads the process group ID from proc/stat.
func processGroup(proc string) (int, bool) {
	stat, err := os.ReadFile(proc + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name is in parentheses and may contain anything: the
	// fields after it are "state ppid pgrp ...".
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 3 {
		return 0, false
	}
	pgid, err := strconv.Atoi(fields[2])
	return pgid, err == nil
}
