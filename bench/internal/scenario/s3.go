package scenario

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/prox-dev/prox/bench/internal/peers"
	"golang.org/x/sys/unix"
)

var s3Peers = []string{"baseline", "supervisord", "supervisord-tuned", "prox"}

func s3a(p Params) *Scenario {
	return &Scenario{
		Name:     "s3a",
		Title:    fmt.Sprintf("S3a stubborn shutdown: %d processes ignore SIGTERM, stop timeout %s; SIGTERM to the supervisor until all dead", p.S3Procs, p.StopTimeout),
		Peers:    s3Peers,
		Baseline: "baseline",
		Metrics: []Metric{
			{Key: "stop_s", Title: "stop all s", Digits: 2},
			{Key: "survivors", Title: "survivors", Kind: Count},
		},
		run: runS3a,
	}
}

func runS3a(e *Env, p peers.Peer, r *Result) error {
	n := e.Params.S3Procs
	ready := filepath.Join(r.Dir, "ready")
	spec := &peers.Spec{Processes: e.idleProcs("stub", "ignore-term", n, ready), StopTimeout: e.Params.StopTimeout}
	s, _, err := e.launch(p, r, spec, ready)
	if err != nil {
		return err
	}
	if err := e.waitReady(s, r, ready, n, 2*time.Minute); err != nil {
		return err
	}
	pause(s, 500*time.Millisecond)
	return e.stopAndTime(s, r, unix.SIGTERM, 5*time.Minute)
}

func s3b() *Scenario {
	return &Scenario{
		Name:     "s3b",
		Title:    "S3b grandchild: one process with a child of its own; SIGTERM to the supervisor; does the grandchild survive it?",
		Peers:    s3Peers,
		Baseline: "baseline",
		Metrics: []Metric{
			{Key: "survivors", Title: "survivors", Kind: Count},
			{Key: "stop_s", Title: "stop all s", Digits: 3},
		},
		run: func(e *Env, p peers.Peer, r *Result) error { return runTree(e, p, r, unix.SIGTERM) },
	}
}

func s3c() *Scenario {
	return &Scenario{
		Name:     "s3c",
		Title:    "S3c supervisor killed: one process with a child of its own; SIGKILL to the supervisor; does anything survive it?",
		Peers:    []string{"baseline", "supervisord", "prox"},
		Baseline: "baseline",
		Metrics: []Metric{
			{Key: "survivors", Title: "survivors", Kind: Count},
			{Key: "stop_s", Title: "all gone s", Digits: 3},
		},
		run: func(e *Env, p peers.Peer, r *Result) error { return runTree(e, p, r, unix.SIGKILL) },
	}
}

func runTree(e *Env, p peers.Peer, r *Result, sig unix.Signal) error {
	ready := filepath.Join(r.Dir, "ready")
	spec := &peers.Spec{Processes: e.idleProcs("tree", "tree", 1, ready), StopTimeout: e.Params.StopTimeout}
	s, _, err := e.launch(p, r, spec, ready)
	if err != nil {
		return err
	}
	// The process and its child.
	if err := e.waitReady(s, r, ready, 2, time.Minute); err != nil {
		return err
	}
	pause(s, 500*time.Millisecond)
	return e.stopAndTime(s, r, sig, time.Minute)
}
