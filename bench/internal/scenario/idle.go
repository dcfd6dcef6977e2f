package scenario

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/prox-dev/prox/bench/internal/peers"
	"golang.org/x/sys/unix"
)

func idle(p Params) *Scenario {
	return &Scenario{
		Name:     "idle",
		Title:    fmt.Sprintf("Idle cost: %d idle processes; the supervisor's CPU over %s (percent of one core) and its RSS", p.IdleProcs, p.IdleDuration),
		Peers:    []string{"baseline", "supervisord", "prox"},
		Baseline: "baseline",
		Metrics: []Metric{
			{Key: "cpu_pct", Title: "CPU % of a core", Digits: 3},
			{Key: "rss_mb", Title: "supervisor RSS MB", Digits: 1},
		},
		run: runIdle,
	}
}

func runIdle(e *Env, p peers.Peer, r *Result) error {
	n := e.Params.IdleProcs
	ready := filepath.Join(r.Dir, "ready")
	spec := &peers.Spec{Processes: e.idleProcs("i", "idle", n, ready)}
	s, _, err := e.launch(p, r, spec, ready)
	if err != nil {
		return err
	}
	if err := e.waitReady(s, r, ready, n, 2*time.Minute); err != nil {
		return err
	}
	pause(s, settleRunning)
	before := s.Sample(false)
	pause(s, e.Params.IdleDuration)
	after := s.Sample(false)
	r.Sample = &after
	if st := s.State(); st.Exited {
		return early(s, r, "while idle")
	}
	if len(before.Procs) != len(after.Procs) {
		r.note("the supervisor had %d processes at the start of the window and %d at its end", len(before.Procs), len(after.Procs))
	}
	elapsed := after.At.Sub(before.At).Seconds()
	r.set("cpu_pct", (after.CPU-before.CPU)/elapsed*100)
	r.set("rss_mb", float64(after.RSS)/(1<<20))
	return e.stopAndTime(s, r, unix.SIGTERM, time.Minute)
}
