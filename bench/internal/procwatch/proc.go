package procwatch

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is the kernel's USER_HZ, the unit of CPU times in /proc.
const clockTicks = 100

var pageSize = int64(os.Getpagesize())

// procStat is what one read of /proc/PID/stat tells.
type procStat struct {
	comm    string
	state   byte
	ppid    int
	threads int
	cpu     float64 // user + system seconds, the process's own
	rss     int64   // bytes
}

// readStat reads /proc/PID/stat into buf and parses it.
func readStat(pid int, buf []byte) (procStat, error) {
	b, err := readInto("/proc/"+strconv.Itoa(pid)+"/stat", buf)
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// parseStat parses the contents of /proc/PID/stat (see proc(5)).
func parseStat(b []byte) (procStat, error) {
	var st procStat
	l, r := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if l < 0 || r < l || r+2 >= len(b) {
		return st, fmt.Errorf("malformed stat %q", b)
	}
	st.comm = string(b[l+1 : r])
	// Fields after the comm, numbered as in proc(5) from 3 (state).
	fields := bytes.Fields(b[r+2:])
	if len(fields) < 22 {
		return st, fmt.Errorf("malformed stat %q", b)
	}
	num := func(field int) int64 {
		v, _ := strconv.ParseInt(string(fields[field-3]), 10, 64)
		return v
	}
	st.state = fields[0][0]
	st.ppid = int(num(4))
	st.cpu = float64(num(14)+num(15)) / clockTicks
	st.threads = int(num(20))
	st.rss = num(24) * pageSize
	return st, nil
}

// memStatus is what /proc/PID/status tells of a process's memory.
type memStatus struct {
	hwm  int64 // peak resident set (VmHWM), bytes
	anon int64 // resident anonymous memory (RssAnon), bytes: heap, stacks
}

// readStatus reads the memory lines of /proc/PID/status.
func readStatus(pid int, buf []byte) (memStatus, error) {
	b, err := readInto("/proc/"+strconv.Itoa(pid)+"/status", buf)
	if err != nil {
		return memStatus{}, err
	}
	return parseStatus(b)
}

// parseStatus parses the VmHWM and RssAnon lines of a /proc/PID/status.
func parseStatus(b []byte) (memStatus, error) {
	var st memStatus
	var err error
	if st.hwm, err = kbField(b, "VmHWM:"); err != nil {
		return st, err
	}
	if st.anon, err = kbField(b, "RssAnon:"); err != nil {
		return st, err
	}
	return st, nil
}

// kbField returns the value, in bytes, of the "NAME:  N kB" line of a
// /proc status or smaps file.
func kbField(b []byte, name string) (int64, error) {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte(name))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			break
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %w", name, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no %s line", strings.TrimSuffix(name, ":"))
}

// readPSS returns the proportional set size of pid in bytes: its resident
// pages, each shared one divided by the number of processes mapping it
// (Pss in /proc/PID/smaps_rollup). Unlike RSS, the pages of one binary
// mapped by several processes (prox and its plugins) count once in total.
func readPSS(pid int, buf []byte) (int64, error) {
	b, err := readInto("/proc/"+strconv.Itoa(pid)+"/smaps_rollup", buf)
	if err != nil {
		return 0, err
	}
	return parsePSS(b)
}

// parsePSS parses the Pss line of a smaps_rollup.
func parsePSS(b []byte) (int64, error) { return kbField(b, "Pss:") }

// children returns the children of every thread of pid.
func children(pid int, buf []byte) []int {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	tids, err := d.Readdirnames(-1)
	_ = d.Close()
	if err != nil {
		return nil
	}
	var out []int
	for _, tid := range tids {
		b, err := readInto(dir+"/"+tid+"/children", buf)
		if err != nil {
			continue
		}
		for _, f := range bytes.Fields(b) {
			if c, err := strconv.Atoi(string(f)); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// readInto reads the small file at path into buf, growing it if needed.
func readInto(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n := 0
	for {
		m, err := f.Read(buf[n:])
		n += m
		if err != nil || m == 0 {
			break
		}
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
	}
	return buf[:n], nil
}
