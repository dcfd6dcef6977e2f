package tui

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// usage is a process's CPU time and memory, as prox's /metrics report
// them: from its runner's Stats (exec: its cgroup or /proc; container: the
// engine's stats API; ssh: the remote /proc), or, for a process on prox's
// machine whose runner has none, its cgroup or /proc; none otherwise.
type usage struct {
	cpuSeconds float64
	memBytes   float64
	hasCPU     bool
	hasMem     bool
}

// The /metrics series the table reads.
const (
	metricCPU    = "prox_process_cpu_seconds_total"
	metricMemory = "prox_process_memory_bytes"
)

// parseUsage reads the CPU and memory series of /metrics (Prometheus's
// text format), by process name: an instance of a process with replicas
// is NAME.REPLICA, as in the API.
func parseUsage(text []byte) map[string]usage {
	out := map[string]usage{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var cpu bool
		switch {
		case strings.HasPrefix(line, metricCPU+"{"):
			cpu, line = true, line[len(metricCPU):]
		case strings.HasPrefix(line, metricMemory+"{"):
			line = line[len(metricMemory):]
		default:
			continue
		}
		labels, rest, ok := parseLabels(line)
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil || labels["process"] == "" {
			continue
		}
		name := labels["process"]
		if r := labels["replica"]; r != "" {
			name += "." + r
		}
		u := out[name]
		if cpu {
			u.cpuSeconds, u.hasCPU = v, true
		} else {
			u.memBytes, u.hasMem = v, true
		}
		out[name] = u
	}
	return out
}

// parseLabels reads `{a="x",b="y"}` at the start of s, with the text
// format's escapes (\\, \", \n) in values, and returns the rest.
func parseLabels(s string) (map[string]string, string, bool) {
	if !strings.HasPrefix(s, "{") {
		return nil, s, false
	}
	labels := map[string]string{}
	i := 1
	for {
		for i < len(s) && (s[i] == ',' || s[i] == ' ') {
			i++
		}
		if i < len(s) && s[i] == '}' {
			return labels, s[i+1:], true
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 || i+eq+1 >= len(s) || s[i+eq+1] != '"' {
			return nil, s, false
		}
		key := strings.TrimSpace(s[i : i+eq])
		i += eq + 2
		var v strings.Builder
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					v.WriteByte('\n')
				default:
					v.WriteByte(s[i])
				}
				continue
			}
			v.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, s, false
		}
		labels[key] = v.String()
		i++ // the closing quote
	}
}

// usageSample is the usage read at a time, to compute a CPU percentage
// from two of them.
type usageSample struct {
	at time.Time
	u  usage
}

// cpuPercent is the CPU a process used between two samples, in percent
// of one core; ok false without two samples of it.
func cpuPercent(prev, cur usageSample) (float64, bool) {
	if !prev.u.hasCPU || !cur.u.hasCPU {
		return 0, false
	}
	d := cur.at.Sub(prev.at).Seconds()
	if d <= 0 {
		return 0, false
	}
	return max(cur.u.cpuSeconds-prev.u.cpuSeconds, 0) / d * 100, true
}

// percentText prints a CPU percentage in at most 5 cells.
func percentText(p float64) string {
	if p < 99.95 {
		return fmt.Sprintf("%.1f", p)
	}
	return fmt.Sprintf("%.0f", p)
}

// bytesText prints a size in at most 5 cells: 512K, 12.3M, 1.2G.
func bytesText(b float64) string {
	units := []string{"B", "K", "M", "G", "T"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if b < 10 && i > 0 {
		return fmt.Sprintf("%.1f%s", b, units[i])
	}
	return fmt.Sprintf("%.0f%s", b, units[i])
}
