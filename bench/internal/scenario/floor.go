package scenario

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/prox-dev/prox/bench/internal/peers"
	"github.com/prox-dev/prox/bench/internal/procwatch"
	"golang.org/x/sys/unix"
)

// NoopSinkComm is the command name of the no-op sink plugin
// (bench/cmd/noopsink), NoopSinkKind the kind of the sink it serves.
const (
	NoopSinkComm = "noopsink"
	NoopSinkKind = "noop"
)

// floor measures the memory under every prox figure: prox with one idle
// process, its built-in exec runner, and the smallest sink plugin the SDK
// makes, each split into anonymous memory (heap, stacks) and the rest
// (mostly the pages of its binary). Three idle Go plugin-protocol
// processes take this much before any work; S1's and S2's RSS figures sit
// on top of it.
func floor() *Scenario {
	return &Scenario{
		Name: "floor",
		Title: "Memory floor: prox with 1 idle process, its built-in exec runner and a no-op sink plugin (bench/cmd/noopsink, " +
			"the smallest plugin the SDK makes); PSS (what the machine pays: pages shared by the processes count once) and RSS, " +
			"of the sum and of each, and the sum's anonymous part and the rest (binary pages)",
		Peers: []string{"prox"},
		Metrics: []Metric{
			{Key: "pss_mb", Title: "total PSS MB", Digits: 1},
			{Key: "host_pss_mb", Title: "prox PSS MB", Digits: 1},
			{Key: "runner_pss_mb", Title: "exec runner PSS MB", Digits: 1},
			{Key: "sink_pss_mb", Title: "no-op sink PSS MB", Digits: 1},
			{Key: "rss_mb", Title: "total RSS MB", Digits: 1},
			{Key: "file_mb", Title: "of which binary pages MB", Digits: 1},
			{Key: "anon_mb", Title: "of which anonymous MB", Digits: 1},
			{Key: "host_mb", Title: "prox RSS MB", Digits: 1},
			{Key: "runner_mb", Title: "exec runner RSS MB", Digits: 1},
			{Key: "sink_mb", Title: "no-op sink RSS MB", Digits: 1},
		},
		run: runFloor,
	}
}

// errNoNoopSink is the floor's error when the bench did not build the
// no-op sink.
var errNoNoopSink = errors.New("the floor scenario needs the no-op sink plugin (Env.NoopSink)")

func runFloor(e *Env, p peers.Peer, r *Result) error {
	if e.NoopSink == "" {
		return errNoNoopSink
	}
	ready := filepath.Join(r.Dir, "ready")
	spec := &peers.Spec{
		Processes:  e.idleProcs("f", "idle", 1, ready),
		SinkPlugin: &peers.SinkPlugin{Plugin: NoopSinkComm, Path: e.NoopSink, Kind: NoopSinkKind},
	}
	s, _, err := e.launch(p, r, spec, ready)
	if err != nil {
		return err
	}
	if err := e.waitReady(s, r, ready, 1, time.Minute); err != nil {
		return err
	}
	pause(s, settleRunning)
	smp := s.Sample(false)
	r.Sample = &smp
	if err := setFloor(r, smp); err != nil {
		s.Kill()
		r.Watch = s.Finish(time.Second, time.Second)
		return err
	}
	return e.stopAndTime(s, r, unix.SIGTERM, time.Minute)
}

// setFloor sets the floor's figures from a sample of prox and its two
// plugins: the host is the process whose parent is not in the sample, the
// sink is the no-op sink, the runner is the other one.
func setFloor(r *Result, smp procwatch.Sample) error {
	if len(smp.Procs) != 3 {
		return fmt.Errorf("want prox and 2 plugin processes, found %d: %+v", len(smp.Procs), smp.Procs)
	}
	in := map[int]bool{}
	for _, pr := range smp.Procs {
		in[pr.PID] = true
	}
	mb := func(b int64) float64 { return float64(b) / (1 << 20) }
	found := map[string]bool{}
	for _, pr := range smp.Procs {
		key := "runner_mb"
		switch {
		case !in[pr.Parent]:
			key = "host_mb"
		case pr.Comm == NoopSinkComm:
			key = "sink_mb"
		}
		if found[key] {
			return fmt.Errorf("two processes count as %s: %+v", key, smp.Procs)
		}
		found[key] = true
		r.set(key, mb(pr.RSS))
		r.set(strings.TrimSuffix(key, "_mb")+"_pss_mb", mb(pr.PSS))
	}
	r.set("pss_mb", mb(smp.PSS))
	r.set("rss_mb", mb(smp.RSS))
	r.set("anon_mb", mb(smp.Anon))
	r.set("file_mb", mb(smp.RSS-smp.Anon))
	return nil
}
