// Package scenario runs the benchmark's scenarios against one supervisor
// at a time: S1 to S4 of docs/performance.md (log throughput, start
// fan-out, stubborn shutdown and grandchildren, crash loop) and prox's own (time to the first
// process with 1 and 6 plugins, idle cost). Each run writes its supervisor's
// configuration into a folder of its own, runs it under procwatch, and
// returns its figures as a Result.
package scenario

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/bench/internal/lines"
	"github.com/prox-dev/prox/bench/internal/peers"
	"github.com/prox-dev/prox/bench/internal/procwatch"
	"golang.org/x/sys/unix"
)

// WorkloadComm is the command name of the workload program, proxload.
const WorkloadComm = "proxload"

// Params size the scenarios.
type Params struct {
	// S1Procs writers each write S1Lines records of S1Size bytes.
	S1Procs, S1Lines, S1Size int
	// S2Procs idle processes are started and stopped.
	S2Procs int
	// S3Procs processes ignore SIGTERM; StopTimeout is their stop timeout.
	S3Procs     int
	StopTimeout time.Duration
	// S4Duration is the crash loop's counting window.
	S4Duration time.Duration
	// StartPlugins lists the plugin counts of the start scenarios.
	StartPlugins []int
	// IdleProcs idle processes are watched for IdleDuration.
	IdleProcs    int
	IdleDuration time.Duration
}

// DefaultParams are the sizes of the scenarios docs/performance.md reports.
func DefaultParams() Params {
	return Params{
		S1Procs: 4, S1Lines: 500000, S1Size: 100,
		S2Procs: 200,
		S3Procs: 20, StopTimeout: 2 * time.Second,
		S4Duration:   10 * time.Second,
		StartPlugins: []int{1, 6},
		IdleProcs:    50, IdleDuration: 60 * time.Second,
	}
}

// Env is what every run needs.
type Env struct {
	// Load is the proxload binary.
	Load string
	// NoopSink is the no-op sink plugin (bench/cmd/noopsink), needed by
	// the floor scenario only.
	NoopSink string
	// Params size the scenarios.
	Params Params
	// Grace is how long a supervisor's processes may take to go after it
	// exited before they count as survivors; default 3s.
	Grace time.Duration
	// Keep keeps S1's captured output (200 MB a run by default).
	Keep bool
	// Log receives progress; default none.
	Log hclog.Logger
}

func (e *Env) grace() time.Duration {
	if e.Grace > 0 {
		return e.Grace
	}
	return 3 * time.Second
}

// Kind says how a figure is summarised.
type Kind int

// The kinds of figures.
const (
	// Ratio figures are shown with their ratio to the references.
	Ratio Kind = iota
	// Count figures are shown as they are.
	Count
	// Flag figures are 1 or 0 (yes or no).
	Flag
)

// Metric describes one figure of a scenario.
type Metric struct {
	// Key names the figure in Result.Metrics, e.g. "wall_s".
	Key string
	// Title heads its column, e.g. "wall s".
	Title string
	// Digits is the number of decimals shown.
	Digits int
	Kind   Kind
}

// Scenario is one benchmark scenario.
type Scenario struct {
	// Name is short, e.g. "s1"; Title says what it measures.
	Name, Title string
	// Peers lists the peers that run it, in order.
	Peers []string
	// Baseline is the peer the ratios divide by ("" for none).
	Baseline string
	// Metrics are its figures, in column order.
	Metrics []Metric
	run     func(e *Env, p peers.Peer, r *Result) error
}

// Result is one run of a scenario by one peer.
type Result struct {
	// Scenario, Peer and Round say which run this is; Start when it began
	// and Dir where its files are.
	Scenario string    `json:"scenario"`
	Peer     string    `json:"peer"`
	Round    int       `json:"round"`
	Start    time.Time `json:"start"`
	Dir      string    `json:"dir"`
	// Metrics are the figures, by Metric.Key (and a few more).
	Metrics map[string]float64 `json:"metrics"`
	// Error says why the run failed; "" when it completed.
	Error string `json:"error,omitempty"`
	// Notes are remarks on a completed run (survivors, a kill).
	Notes []string `json:"notes,omitempty"`
	// Check is S1's verification of the captured lines.
	Check *lines.Report `json:"check,omitempty"`
	// Watch is the launcher's report, Sample the last reading of the
	// supervisor's processes, when the scenario took one.
	Watch  *procwatch.Report `json:"watch,omitempty"`
	Sample *procwatch.Sample `json:"sample,omitempty"`

	// scrapes counts the answered scrapes of a peer with Setup.Scrape.
	scrapes atomic.Int64
}

// OK reports whether the run completed.
func (r *Result) OK() bool { return r.Error == "" }

func (r *Result) set(key string, v float64) { r.Metrics[key] = v }

func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// Run runs sc once with p in the folder dir (created; emptied first).
func (sc *Scenario) Run(e *Env, p peers.Peer, dir string, round int) *Result {
	r := &Result{Scenario: sc.Name, Peer: p.Name(), Round: round, Start: time.Now(), Dir: dir, Metrics: map[string]float64{}}
	err := os.RemoveAll(dir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = sc.run(e, p, r)
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// launch prepares spec for p in r.Dir, lets the machine settle and starts
// the supervisor under measurement.
func (e *Env) launch(p peers.Peer, r *Result, spec *peers.Spec, readyDir string) (*procwatch.Session, *peers.Setup, error) {
	setup, err := p.Prepare(r.Dir, spec)
	if err != nil {
		return nil, nil, err
	}
	if readyDir != "" {
		if err := os.MkdirAll(readyDir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("ready folder: %w", err)
		}
	}
	settle()
	s, err := procwatch.Start(procwatch.Options{
		Argv:     setup.Argv,
		Dir:      r.Dir,
		Stdout:   filepath.Join(r.Dir, peers.StdoutFile),
		Stderr:   filepath.Join(r.Dir, peers.StderrFile),
		ReadyDir: readyDir,
		Workload: []string{WorkloadComm},
	})
	if err != nil {
		return nil, nil, err
	}
	if setup.Scrape != "" {
		go scrape(setup.Scrape, r)
	}
	return s, setup, nil
}

// scrape GETs url every peers.ScrapeEvery, as Prometheus would, until it
// stops answering after having answered (the supervisor is gone), or for
// at most 15 minutes; it counts the scrapes that succeeded in r's
// "scrapes" (written when it ends, which the report may miss: it is a
// side note).
func scrape(url string, r *Result) {
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(15 * time.Minute)
	answered := false
	t := time.NewTicker(peers.ScrapeEvery)
	defer t.Stop()
	for range t.C {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			answered = true
			r.scrapes.Add(1)
		} else if answered || time.Now().After(deadline) {
			return
		}
	}
}

// settle writes dirty pages back and pauses, so that one run's writeback
// does not land in the next.
func settle() {
	unix.Sync()
	time.Sleep(300 * time.Millisecond)
}

// pause waits d, or until the supervisor exits.
func pause(s *procwatch.Session, d time.Duration) {
	_, _ = s.Until(d, func(st procwatch.State) bool { return st.Exited })
}

// early is the error of a supervisor that exited before it should have.
func early(s *procwatch.Session, r *Result, what string) error {
	rep := s.Finish(time.Second, time.Second)
	r.Watch = rep
	return fmt.Errorf("the supervisor exited (%s) %s; its stderr ends: %s", rep.ExitStatus, what, tail(filepath.Join(r.Dir, peers.StderrFile), 600))
}

// tail returns the last n bytes of a file, on one line.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "(" + err.Error() + ")"
	}
	off := st.Size() - n
	if off < 0 {
		off = 0
	}
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil {
		return "(" + err.Error() + ")"
	}
	s := strings.Join(strings.Fields(string(b)), " ")
	if s == "" {
		return "(nothing)"
	}
	return s
}

// stopAndTime sends sig to the supervisor and measures how long it takes
// until it and every watched workload process are gone; survivors are
// counted after the grace period.
func (e *Env) stopAndTime(s *procwatch.Session, r *Result, sig unix.Signal, exitTimeout time.Duration) error {
	sent, err := s.Signal(sig)
	if err != nil {
		return err
	}
	_, exitErr := s.Until(exitTimeout, func(st procwatch.State) bool { return st.Exited })
	st, goneErr := s.Until(e.grace(), func(st procwatch.State) bool { return st.Exited && st.Alive == 0 })
	rep := s.Finish(time.Second, e.grace())
	r.Watch = rep
	r.set("survivors", float64(len(rep.Survivors)))
	if exitErr != nil {
		r.note("the supervisor did not exit within %s of %s: killed", exitTimeout, unix.SignalName(sig))
		return nil
	}
	if goneErr != nil {
		r.note("%d workload process(es) outlived the supervisor by more than %s", st.Alive, e.grace())
		return nil
	}
	exit, _ := s.Exit()
	gone := exit
	if last := s.LastWorkloadExit(); last.After(gone) {
		gone = last
	}
	r.set("stop_s", gone.Sub(sent).Seconds())
	return nil
}

// idleProcs returns n processes "NAME01".. running proxload idle (or the
// given mode), announcing themselves in ready.
func (e *Env) idleProcs(prefix, mode string, n int, ready string) []peers.Process {
	procs := make([]peers.Process, n)
	width := len(fmt.Sprint(n))
	for i := range procs {
		procs[i] = peers.Process{
			Name: fmt.Sprintf("%s%0*d", prefix, width, i+1),
			Argv: []string{e.Load, mode, "-ready", ready},
		}
	}
	return procs
}

// All returns every scenario, in the order they run.
func All(p Params) []*Scenario {
	out := []*Scenario{s1(p), s2(p), s3a(p), s3b(), s3c(), s4(p)}
	for _, n := range p.StartPlugins {
		out = append(out, start(n))
	}
	return append(out, idle(p), floor())
}

// Select returns the scenarios of all named in names (comma-separated;
// "" or "all" for all).
func Select(all []*Scenario, names string) ([]*Scenario, error) {
	if names == "" || names == "all" {
		return all, nil
	}
	byName := map[string]*Scenario{}
	var known []string
	for _, s := range all {
		byName[s.Name] = s
		known = append(known, s.Name)
	}
	var out []*Scenario
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		var group []*Scenario
		for _, s := range all {
			// "s3" selects s3a, s3b and s3c; "start" every start-N.
			if s.Name == n || strings.HasPrefix(s.Name, n) && n != "" && (n == "s3" || n == "start") {
				group = append(group, s)
			}
		}
		if len(group) == 0 {
			sort.Strings(known)
			return nil, fmt.Errorf("unknown scenario %q (known: %s)", n, strings.Join(known, ", "))
		}
		out = append(out, group...)
	}
	return out, nil
}

var errNotReady = errors.New("not every process became ready")
