package memtrim

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// DropExecutablePages drops the resident pages of the executable's clean
// read-only mappings (code and read-only data) and returns how many bytes
// of mappings it advised. A mapping with any page copied on write, or a
// writable one, is left alone.
func DropExecutablePages() (int64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		return 0, fmt.Errorf("stat /proc/self/exe: %w", err)
	}
	file := fileID{dev: fmt.Sprintf("%02x:%02x", unix.Major(st.Dev), unix.Minor(st.Dev)), ino: st.Ino}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	maps, err := cleanReadOnly(f, file)
	if err != nil {
		return 0, err
	}
	var advised int64
	for _, m := range maps {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return advised, fmt.Errorf("madvise %x-%x: %w", m.start, m.end, errno)
		}
		advised += int64(m.end - m.start)
	}
	return advised, nil
}

// mapping is one address range of /proc/self/smaps.
type mapping struct {
	start, end uintptr
}

// fileID names a file as /proc/PID/smaps does: device ("fd:01") and inode.
type fileID struct {
	dev string
	ino uint64
}

// cleanReadOnly returns the mappings of smaps that belong to file, are not
// writable, are private, and hold no anonymous (copied on write) page.
func cleanReadOnly(smaps io.Reader, file fileID) ([]mapping, error) {
	var out []mapping
	var cur *mapping // the current mapping, while it is a candidate
	sc := bufio.NewScanner(smaps)
	for sc.Scan() {
		line := sc.Bytes()
		if m, ok := header(line, file); ok {
			if cur != nil {
				out = append(out, *cur)
			}
			cur = m
			continue
		}
		if cur == nil {
			continue
		}
		// A mapping's header line starts with its range; its fields are
		// "Name:   value kB". A page copied on write (relocated by the
		// loader, written by a debugger) is an anonymous page of the
		// mapping, and disqualifies it. (Private_Dirty would not do: it
		// also counts page cache pages not yet written back, as those of
		// a binary just built.)
		if v, ok := bytes.CutPrefix(line, []byte("Anonymous:")); ok && !zeroKB(v) {
			cur = nil
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out, sc.Err()
}

// header parses a mapping's header line ("start-end perms offset dev inode
// path") and returns the mapping when it is a candidate: r-xp or r--p, of
// file. ok is true for every header line, candidate or not (then m is
// nil).
func header(line []byte, file fileID) (m *mapping, ok bool) {
	fields := bytes.Fields(line)
	if len(fields) < 5 {
		return nil, false
	}
	rng, perms := fields[0], fields[1]
	start, end, found := bytes.Cut(rng, []byte("-"))
	if !found || len(perms) != 4 {
		return nil, false
	}
	lo, err1 := strconv.ParseUint(string(start), 16, 64)
	hi, err2 := strconv.ParseUint(string(end), 16, 64)
	if err1 != nil || err2 != nil {
		return nil, false // a field line such as "Rss:   12 kB"
	}
	if string(perms) != "r-xp" && string(perms) != "r--p" {
		return nil, true
	}
	if n, err := strconv.ParseUint(string(fields[4]), 10, 64); err != nil || n != file.ino || n == 0 || string(fields[3]) != file.dev {
		return nil, true
	}
	return &mapping{start: uintptr(lo), end: uintptr(hi)}, true
}

// zeroKB reports whether v is "   0 kB".
func zeroKB(v []byte) bool {
	return string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))) == "0"
}
