package scenario

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prox-dev/prox/bench/internal/lines"
	"github.com/prox-dev/prox/bench/internal/peers"
	"github.com/prox-dev/prox/bench/internal/procwatch"
	"github.com/prox-dev/prox/bench/internal/workload"
	"golang.org/x/sys/unix"
)

// s1Idle is how long the capture files must keep their size for the
// output to count as complete.
const s1Idle = 300 * time.Millisecond

func s1(p Params) *Scenario {
	return &Scenario{
		Name: "s1",
		Title: fmt.Sprintf("S1 log throughput: %d processes each write %d lines of %d bytes as fast as they can; wall = start to last byte on disk",
			p.S1Procs, p.S1Lines, p.S1Size),
		// prox-scraped runs only when asked for (-peers prox,prox-scraped).
		Peers:    []string{"baseline", "baseline-pipe", "supervisord", "prox", peers.ScrapedName},
		Baseline: "baseline-pipe",
		Metrics: []Metric{
			{Key: "wall_s", Title: "wall s", Digits: 3},
			{Key: "mlines_per_s", Title: "M lines/s", Digits: 2},
			{Key: "cpu_s", Title: "supervisor CPU s", Digits: 2},
			{Key: "rss_mb", Title: "supervisor peak RSS MB", Digits: 1},
			{Key: "pss_mb", Title: "supervisor peak PSS MB", Digits: 1},
			{Key: "intact", Title: "intact", Kind: Flag},
		},
		run: runS1,
	}
}

func runS1(e *Env, p peers.Peer, r *Result) error {
	n, size, procs := e.Params.S1Lines, e.Params.S1Size, e.Params.S1Procs
	reports := filepath.Join(r.Dir, "reports")
	spec := &peers.Spec{StopTimeout: e.Params.StopTimeout}
	counts := map[string]int{}
	for i := 1; i <= procs; i++ {
		name := "p" + strconv.Itoa(i)
		counts[name] = n
		spec.Processes = append(spec.Processes, peers.Process{Name: name, Argv: []string{
			e.Load, "lines", "-tag", name, "-n", strconv.Itoa(n), "-size", strconv.Itoa(size),
			"-report", filepath.Join(reports, name+".json"),
		}})
	}
	s, setup, err := e.launch(p, r, spec, reports)
	if err != nil {
		return err
	}
	s.SampleEvery(50 * time.Millisecond)
	st, err := s.Until(10*time.Minute, func(st procwatch.State) bool { return st.Ready >= procs || st.Exited })
	if st.Ready < procs {
		// The supervisor may have exited before inotify told of the last
		// report: the folder is the authority.
		st.Ready = workload.CountReady(reports)
	}
	if st.Ready < procs {
		if err == nil {
			return early(s, r, "before every writer finished")
		}
		s.Kill()
		r.Watch = s.Finish(time.Second, time.Second)
		return fmt.Errorf("the writers did not finish: %w", err)
	}
	last, err := waitStable(setup.LogFiles(), s1Idle, 5*time.Minute)
	if err != nil {
		s.Kill()
		r.Watch = s.Finish(time.Second, time.Second)
		return err
	}
	wall := last.Sub(s.Started()).Seconds()
	if !last.After(s.Started()) {
		wall = 0
		r.note("nothing was captured")
	}
	// A supervisor may have exited by itself once its processes were done.
	_, _ = s.Signal(unix.SIGTERM)
	rep := s.Finish(30*time.Second, e.grace())
	r.Watch = rep
	if n := r.scrapes.Load(); n > 0 {
		r.set("scrapes", float64(n))
	}

	check, err := lines.NewChecker(size, counts)
	if err != nil {
		return err
	}
	for _, f := range setup.LogFiles() {
		if err := check.CheckFile(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	cr := check.Report()
	r.Check = &cr
	writers, err := workload.ReadReports(reports)
	if err != nil {
		return err
	}
	var writersCPU float64
	for _, w := range writers {
		writersCPU += w.CPUSeconds()
	}
	if wall > 0 {
		r.set("wall_s", wall)
		r.set("mlines_per_s", float64(cr.Unique)/wall/1e6)
	}
	r.set("cpu_s", rep.TreeCPU()-writersCPU)
	r.set("rss_mb", float64(rep.HWM)/(1<<20))
	r.set("rss_sampled_mb", float64(rep.PeakRSS)/(1<<20))
	r.set("pss_mb", float64(rep.PeakPSS)/(1<<20))
	r.set("writers_cpu_s", writersCPU)
	if cr.Intact {
		r.set("intact", 1)
	} else {
		r.set("intact", 0)
	}
	if !e.Keep {
		for _, f := range setup.LogFiles() {
			keepHead(f, 4096)
		}
	}
	return nil
}

// waitStable waits until the files' sizes have not changed for idle and
// returns the latest modification time among them.
func waitStable(files []string, idle, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	var sizes []int64
	changed := time.Now()
	for {
		now := make([]int64, len(files))
		for i, f := range files {
			if fi, err := os.Stat(f); err == nil {
				now[i] = fi.Size()
			}
		}
		if !equal(now, sizes) {
			sizes, changed = now, time.Now()
		} else if time.Since(changed) >= idle {
			break
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("the captured output kept growing for %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var last time.Time
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.ModTime().After(last) {
			last = fi.ModTime()
		}
	}
	return last, nil
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// keepHead truncates the file at path to its first n bytes.
func keepHead(path string, n int64) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > n {
		_ = os.Truncate(path, n)
	}
}
