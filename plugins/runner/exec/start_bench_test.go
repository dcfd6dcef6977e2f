package exec

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
	"golang.org/x/sys/unix"
)

// BenchmarkStart measures what a process's containment costs: one
// operation starts `true`, reads its two pipes to their end and waits for
// it, in a cgroup of its own (made before, removed after) or in its process
// group only. The difference is the cgroup's price per process. With
// "alone", `true` is the runner's only process, so the runner's own cgroup
// folder is made and removed with it too; otherwise another process keeps
// it, as in a prox that runs more than one.
func BenchmarkStart(b *testing.B) {
	for _, bc := range []struct {
		name    string
		cgroups bool
		alone   bool
	}{{"cgroup", true, false}, {"cgroup-alone", true, true}, {"process-group", false, false}} {
		b.Run(bc.name, func(b *testing.B) {
			r := newRunner(hclog.NewNullLogger(), false)
			r.noCgroups = !bc.cgroups
			b.Cleanup(func() { _ = r.Shutdown() })
			env := []string{"PATH=" + os.Getenv("PATH")}
			if !bc.alone {
				if _, err := r.Start(context.Background(), &sdk.ProcessConfig{Name: "sleep", Command: []string{"sleep", "3600"}, Env: env}); err != nil {
					b.Fatal(err)
				}
			}
			want := "process-group"
			if bc.cgroups {
				want = "cgroup"
			}
			cfg := &sdk.ProcessConfig{Name: "true", Command: []string{"true"}, Env: env}
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				p, err := r.Start(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				if got := p.(*Process).Containment(); got != want {
					b.Skipf("containment %q, not %q", got, want)
				}
				_, _ = io.Copy(io.Discard, p.Stdout())
				_, _ = io.Copy(io.Discard, p.Stderr())
				if err := p.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
		})
	}
}

// cpuMeter measures the CPU time (user and system) of this process and of
// its reaped children: on a busy machine, a steadier figure than the wall
// time.
type cpuMeter struct{ self, children time.Duration }

func cpuTimes() (self, children time.Duration) {
	var s, c unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &s)
	_ = unix.Getrusage(unix.RUSAGE_CHILDREN, &c)
	tv := func(t unix.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(s.Utime) + tv(s.Stime), tv(c.Utime) + tv(c.Stime)
}

func startCPU() cpuMeter {
	s, c := cpuTimes()
	return cpuMeter{s, c}
}

// report adds cpu-ns/op (this process and its children) to b's results.
func (m cpuMeter) report(b *testing.B) {
	s, c := cpuTimes()
	b.ReportMetric(float64(s-m.self+c-m.children)/float64(b.N), "cpu-ns/op")
}

// BenchmarkCgroupLifecycle measures the cgroup's own work per process,
// without the fork: make the cgroup, open it (for clone3), close it, read
// cgroup.events at the end and remove it, with the runner's folder kept by
// another cgroup.
func BenchmarkCgroupLifecycle(b *testing.B) {
	root, err := newCgroupRoot()
	if err != nil {
		b.Skipf("no cgroups: %v", err)
	}
	keep, err := root.newCgroup("keep")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = keep.remove() })
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		cg, err := root.newCgroup("bench")
		if err != nil {
			b.Fatal(err)
		}
		fd, err := cg.openDir()
		if err != nil {
			b.Fatal(err)
		}
		_ = unix.Close(fd)
		if err := cg.killAndWait(cgroupEmptyTimeout); err != nil {
			b.Fatal(err)
		}
		if err := cg.remove(); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b)
}
