package sdktest

import (
	"os"
	"strconv"
	"strings"
)

// procAvailable reports whether /proc describes this machine's processes
// (Linux).
func procAvailable() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// procAlive reports whether pid runs on this machine. A zombie does not
// run: it is dead and only waits to be reaped by its parent (which, for an
// orphan, may take a while).
func procAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "PID (COMM) STATE ...": COMM may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(s[i+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}
