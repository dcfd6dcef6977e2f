package scenario

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/prox-dev/prox/bench/internal/peers"
	"github.com/prox-dev/prox/bench/internal/procwatch"
	"github.com/prox-dev/prox/bench/internal/workload"
	"golang.org/x/sys/unix"
)

// settleRunning is how long a fleet runs before its memory is read.
const settleRunning = 2 * time.Second

func s2(p Params) *Scenario {
	return &Scenario{
		Name:     "s2",
		Title:    fmt.Sprintf("S2 start fan-out: %d idle processes; time until all run, SIGTERM until all gone, supervisor RSS with all running", p.S2Procs),
		Peers:    []string{"baseline", "supervisord", "prox"},
		Baseline: "baseline",
		Metrics: []Metric{
			{Key: "ready_s", Title: "all running s", Digits: 3},
			{Key: "stop_s", Title: "stop all s", Digits: 3},
			{Key: "rss_mb", Title: "supervisor RSS MB", Digits: 1},
			{Key: "anon_mb", Title: "of which anonymous MB", Digits: 1},
			{Key: "pss_mb", Title: "supervisor PSS MB", Digits: 1},
			{Key: "survivors", Title: "survivors", Kind: Count},
		},
		run: runS2,
	}
}

func runS2(e *Env, p peers.Peer, r *Result) error {
	n := e.Params.S2Procs
	ready := filepath.Join(r.Dir, "ready")
	spec := &peers.Spec{Processes: e.idleProcs("s", "idle", n, ready)}
	s, _, err := e.launch(p, r, spec, ready)
	if err != nil {
		return err
	}
	if err := e.waitReady(s, r, ready, n, 5*time.Minute); err != nil {
		return err
	}
	pause(s, settleRunning)
	smp := s.Sample(false)
	r.Sample = &smp
	r.set("rss_mb", float64(smp.RSS)/(1<<20))
	r.set("anon_mb", float64(smp.Anon)/(1<<20))
	r.set("pss_mb", float64(smp.PSS)/(1<<20))
	return e.stopAndTime(s, r, unix.SIGTERM, time.Minute)
}

// waitReady waits until n processes have marked themselves ready and sets
// first_s and ready_s (the first and the last, from the supervisor's
// start).
func (e *Env) waitReady(s *procwatch.Session, r *Result, ready string, n int, timeout time.Duration) error {
	st, err := s.Until(timeout, func(st procwatch.State) bool { return st.Ready >= n || st.Exited })
	if st.Ready < n {
		// inotify may lag the supervisor's exit: the folder is the authority.
		st.Ready = workload.CountReady(ready)
	}
	if st.Ready < n {
		if err == nil {
			return early(s, r, fmt.Sprintf("with %d of %d processes ready", st.Ready, n))
		}
		s.Kill()
		r.Watch = s.Finish(time.Second, time.Second)
		return fmt.Errorf("%w: %d of %d in %s", errNotReady, st.Ready, n, timeout)
	}
	times, err := workload.ReadyTimes(ready)
	if err != nil || len(times) == 0 {
		s.Kill()
		r.Watch = s.Finish(time.Second, time.Second)
		return fmt.Errorf("ready times: %w", err)
	}
	r.set("first_s", times[0].Sub(s.Started()).Seconds())
	r.set("ready_s", times[len(times)-1].Sub(s.Started()).Seconds())
	return nil
}
