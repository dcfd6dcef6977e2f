package scenario

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/prox-dev/prox/bench/internal/peers"
	"golang.org/x/sys/unix"
)

func start(n int) *Scenario {
	what := "1 process"
	if n != 1 {
		what = fmt.Sprintf("%d processes", n)
	}
	return &Scenario{
		Name: fmt.Sprintf("start-%d", n),
		Title: fmt.Sprintf("Plugin start with %d plugin(s): %s, for prox each on its own runner plugin and no sink; time from launch to the first and to the last process running",
			n, what),
		Peers:    []string{"baseline", "supervisord", "prox"},
		Baseline: "baseline",
		Metrics: []Metric{
			{Key: "first_s", Title: "first running s", Digits: 3},
			{Key: "ready_s", Title: "all running s", Digits: 3},
			{Key: "rss_mb", Title: "supervisor RSS MB", Digits: 1},
			{Key: "procs", Title: "supervisor processes", Kind: Count},
		},
		run: func(e *Env, p peers.Peer, r *Result) error { return runStart(e, p, r, n) },
	}
}

func runStart(e *Env, p peers.Peer, r *Result, n int) error {
	ready := filepath.Join(r.Dir, "ready")
	spec := &peers.Spec{Processes: e.idleProcs("a", "idle", n, ready), Runners: n, NoSink: true}
	s, _, err := e.launch(p, r, spec, ready)
	if err != nil {
		return err
	}
	if err := e.waitReady(s, r, ready, n, time.Minute); err != nil {
		return err
	}
	pause(s, time.Second)
	smp := s.Sample(false)
	r.Sample = &smp
	r.set("rss_mb", float64(smp.RSS)/(1<<20))
	r.set("procs", float64(len(smp.Procs)))
	return e.stopAndTime(s, r, unix.SIGTERM, time.Minute)
}
