package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/prox-dev/prox/bench/internal/peers"
	"golang.org/x/sys/unix"
)

// machine describes the machine and the software measured, as markdown.
func machine(o *options, available map[string]peers.Peer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## prox benchmark, %s\n\n", time.Now().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- command: `go run ./bench %s`\n", strings.Join(o.args, " "))
	fmt.Fprintf(&b, "- machine: %d CPUs (nproc), %s, %s RAM, Linux %s, %s\n",
		runtime.NumCPU(), cpuModel(), memTotal(), kernel(), runtime.Version())
	fmt.Fprintf(&b, "- load average at the start: %s (other work on the machine skews absolute figures; compare ratios)\n", loadAvg())
	fmt.Fprintf(&b, "- rounds: %d, interleaved (every round runs each peer once per scenario, in a rotating order)\n", o.rounds)
	names := make([]string, 0, len(available))
	for n := range available {
		names = append(names, n)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	for _, n := range names {
		v := available[n].Version()
		if seen[v] {
			continue
		}
		seen[v] = true
		fmt.Fprintf(&b, "- %s: %s\n", n, v)
	}
	return b.String()
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// memTotal returns MemTotal of /proc/meminfo in GiB.
func memTotal() string {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); err == nil {
			return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
		}
	}
	return "?"
}

// loadAvg returns the 1, 5 and 15 minute load averages of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func kernel() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "?"
	}
	return unix.ByteSliceToString(u.Release[:])
}
