// Package profile records how much a prox process costs, for performance
// work: when the environment variable named by EnvDir is set, Start begins
// a pprof CPU profile of the current process and the function it returns
// writes that profile, an allocation profile and the process's resource
// usage into the directory. Both `prox up` and `prox plugin-serve` call it,
// and plugins inherit prox's environment, so one variable profiles prox
// and every built-in plugin of a run.
//
// Without the variable, Start does nothing and costs nothing.
package profile

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EnvDir is the environment variable naming the directory profiles are
// written to. It is created if missing.
const EnvDir = "PROX_PROFILE_DIR"

// Start starts profiling the current process, whose files are named
// NAME.PID.*, when EnvDir is set:
//
//   - NAME.PID.cpu.pprof: the CPU profile from Start to stop;
//   - NAME.PID.allocs.pprof: the allocation profile (every allocation
//     since the process started, sampled);
//   - NAME.PID.rusage: one line, "user_s=… sys_s=… maxrss_kb=… wall_s=…",
//     the process's own CPU time and peak RSS (getrusage(RUSAGE_SELF));
//   - NAME.PID.heap-N.pprof: the live heap when the process received its
//     N-th SIGUSR1 (for the memory of a steady state, such as 200 idle
//     processes, rather than of the end), and NAME.PID.memory-N.txt: the
//     Go runtime's memory classes then (runtime/metrics /memory/classes/*,
//     one "name bytes" line each: heap objects, free and released heap,
//     goroutine stacks, runtime metadata), which add up to what the Go
//     runtime holds of the process's anonymous memory.
//
// The returned stop writes them, once (later calls return the same
// result); call it as the process ends. When
// EnvDir is not set, stop does nothing.
func Start(name string) (stop func() error, err error) {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		return func() error { return nil }, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	base := filepath.Join(dir, name+"."+strconv.Itoa(os.Getpid()))
	cpu, err := os.Create(base + ".cpu.pprof")
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		_ = cpu.Close()
		return nil, fmt.Errorf("profile: start the CPU profile: %w", err)
	}
	started := time.Now()
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for n := 1; ; n++ {
			if _, ok := <-usr1; !ok {
				return
			}
			_ = writeHeap(fmt.Sprintf("%s.heap-%d.pprof", base, n))
			_ = writeMemoryClasses(fmt.Sprintf("%s.memory-%d.txt", base, n))
		}
	}()
	return sync.OnceValue(func() error {
		signal.Stop(usr1)
		close(usr1)
		pprof.StopCPUProfile()
		errs := []error{cpu.Close()}
		errs = append(errs, writeAllocs(base+".allocs.pprof"))
		errs = append(errs, writeUsage(base+".rusage", time.Since(started)))
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("profile: %w", err)
		}
		return nil
	}), nil
}

// writeAllocs writes the allocation profile to path.
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // up-to-date statistics
	err = pprof.Lookup("allocs").WriteTo(f, 0)
	return errors.Join(err, f.Close())
}

// writeHeap writes the live heap profile to path.
func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // up-to-date statistics
	err = pprof.Lookup("heap").WriteTo(f, 0)
	return errors.Join(err, f.Close())
}

// writeMemoryClasses writes every /memory/classes/ metric of the runtime,
// one "name bytes" line each.
func writeMemoryClasses(path string) error {
	var samples []metrics.Sample
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/memory/classes/") && d.Kind == metrics.KindUint64 {
			samples = append(samples, metrics.Sample{Name: d.Name})
		}
	}
	metrics.Read(samples)
	var b strings.Builder
	for _, s := range samples {
		fmt.Fprintf(&b, "%s %d\n", s.Name, s.Value.Uint64())
	}
	// Renamed into place, so that a reader never sees half of it.
	if err := os.WriteFile(path+".tmp", []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// writeUsage writes the process's CPU time and peak RSS to path.
func writeUsage(path string, wall time.Duration) error {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return fmt.Errorf("getrusage: %w", err)
	}
	line := fmt.Sprintf("user_s=%.3f sys_s=%.3f maxrss_kb=%d wall_s=%.3f\n",
		seconds(ru.Utime), seconds(ru.Stime), ru.Maxrss, wall.Seconds())
	return os.WriteFile(path, []byte(line), 0o644)
}

func seconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}
