package metrics

import (
	"github.com/prox-dev/prox/internal/procstat"
	"github.com/prox-dev/prox/supervisor"
)

// ProcessUsage reads a running process's CPU time and memory from this
// machine, with package procstat (as the exec runner's Stats do): from its
// cgroup when its runner reported one, else from /proc for the process
// alone. A process on another machine (ssh, or a runner that reports no
// local PID) is not read: ok is false. It is the fallback for a process
// whose runner has no Stats.
func ProcessUsage(p supervisor.ProcessInfo) (Usage, bool) {
	if p.PID <= 0 || !local(p) {
		return Usage{}, false
	}
	u, err := procstat.Read(p.PID, p.Cgroup)
	if err != nil {
		return Usage{}, false
	}
	return Usage{CPUSeconds: u.CPU.Seconds(), MemoryBytes: float64(u.MemoryBytes)}, true
}

// local reports whether p's PID is one of this machine's: its runner
// reported a containment (only local runners do).
func local(p supervisor.ProcessInfo) bool {
	return p.Containment != "" || p.Cgroup != ""
}
