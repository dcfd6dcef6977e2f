package scenario

import (
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/prox-dev/prox/bench/internal/peers"
	"github.com/prox-dev/prox/bench/internal/workload"
	"golang.org/x/sys/unix"
)

func s4(p Params) *Scenario {
	return &Scenario{
		Name: "s4",
		Title: fmt.Sprintf("S4 crash loop: a process exits 1 at once, restart always with the smallest delay; starts in %s and the gap between starts",
			p.S4Duration),
		Peers:    []string{"baseline", "supervisord", "prox"},
		Baseline: "baseline",
		Metrics: []Metric{
			{Key: "restarts", Title: fmt.Sprintf("restarts in %s", p.S4Duration), Digits: 0},
			{Key: "gap_median_ms", Title: "restart gap median ms", Digits: 2},
			{Key: "gap_max_ms", Title: "restart gap max ms", Digits: 1},
		},
		run: runS4,
	}
}

func runS4(e *Env, p peers.Peer, r *Result) error {
	starts := filepath.Join(r.Dir, "starts.txt")
	spec := &peers.Spec{
		Processes:   []peers.Process{{Name: "crash", Argv: []string{e.Load, "crash", "-log", starts}}},
		Restart:     true,
		StopTimeout: e.Params.StopTimeout,
	}
	s, _, err := e.launch(p, r, spec, "")
	if err != nil {
		return err
	}
	window := e.Params.S4Duration
	pause(s, window+500*time.Millisecond)
	if st := s.State(); st.Exited {
		return early(s, r, "during the crash loop")
	}
	if _, err := s.Signal(unix.SIGTERM); err != nil {
		return err
	}
	r.Watch = s.Finish(time.Minute, e.grace())
	times, err := workload.ReadStarts(starts)
	if err != nil {
		return err
	}
	if len(times) == 0 {
		return fmt.Errorf("the process never started")
	}
	var in []time.Time
	for _, t := range times {
		if t.Sub(times[0]) < window {
			in = append(in, t)
		}
	}
	r.set("restarts", float64(len(in)-1))
	r.set("starts_total", float64(len(times)))
	if len(in) < 2 {
		return nil
	}
	gaps := make([]float64, len(in)-1)
	for i := range gaps {
		gaps[i] = in[i+1].Sub(in[i]).Seconds() * 1000
	}
	sort.Float64s(gaps)
	r.set("gap_median_ms", median(gaps))
	r.set("gap_min_ms", gaps[0])
	r.set("gap_max_ms", gaps[len(gaps)-1])
	return nil
}

// median returns the median of sorted values.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
