package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/bench/internal/peers"
	"github.com/prox-dev/prox/bench/internal/report"
	"github.com/prox-dev/prox/bench/internal/scenario"
)

// options are the command's flags.
type options struct {
	args      []string
	rounds    int
	scenarios string
	peers     string
	work      string
	prox      string
	load      string
	proxSink  string
	grace     time.Duration
	keep      bool
	logLevel  string
	params    scenario.Params
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{args: args, params: scenario.DefaultParams()}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./bench [flags]\n\nRuns prox's benchmark scenarios (see docs/performance.md).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; each runs every peer once per scenario, in a rotating order")
	fs.StringVar(&o.scenarios, "scenarios", "all", "comma-separated scenarios: s1, s2, s3 (s3a, s3b, s3c), s4, start (start-1, start-6), idle, or all")
	fs.StringVar(&o.peers, "peers", "", "comma-separated peers to run (baseline, baseline-pipe, supervisord, supervisord-tuned, prox, prox-scraped: prox with /metrics scraped every 100ms, S1 only, when named); default all available")
	fs.StringVar(&o.work, "work", filepath.Join(os.TempDir(), "prox-bench"), "work folder: binaries, run folders, results")
	fs.StringVar(&o.prox, "prox", "", "prox binary to measure; default: build it from the repository")
	fs.StringVar(&o.load, "proxload", "", "workload binary; default: build bench/cmd/proxload from the repository")
	fs.StringVar(&o.proxSink, "prox-sink", "auto", `prox's output capture: "on" (the file sink), "off" (prox's stdout), "auto" (the file sink if this prox has it)`)
	fs.DurationVar(&o.grace, "grace", 3*time.Second, "after a supervisor exits, how long its processes may take to go before they count as survivors")
	fs.BoolVar(&o.keep, "keep", false, "keep S1's captured output (otherwise cut to its first 4 KiB)")
	fs.StringVar(&o.logLevel, "log-level", "info", "progress log level on stderr: debug, info, warn, error")
	p := &o.params
	fs.IntVar(&p.S1Procs, "s1-procs", p.S1Procs, "S1: writer processes")
	fs.IntVar(&p.S1Lines, "s1-lines", p.S1Lines, "S1: lines per writer")
	fs.IntVar(&p.S1Size, "s1-size", p.S1Size, "S1: bytes per line, newline included")
	fs.IntVar(&p.S2Procs, "s2-procs", p.S2Procs, "S2: processes")
	fs.IntVar(&p.S3Procs, "s3-procs", p.S3Procs, "S3a: processes that ignore SIGTERM")
	fs.DurationVar(&p.StopTimeout, "stop-timeout", p.StopTimeout, "stop timeout of every process (S3's)")
	fs.DurationVar(&p.S4Duration, "s4-duration", p.S4Duration, "S4: crash loop counting window")
	fs.IntVar(&p.IdleProcs, "idle-procs", p.IdleProcs, "idle: processes")
	fs.DurationVar(&p.IdleDuration, "idle-duration", p.IdleDuration, "idle: measuring window")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.rounds < 1 {
		return nil, errors.New("-rounds must be at least 1")
	}
	switch o.proxSink {
	case "auto", "on", "off":
	default:
		return nil, fmt.Errorf("-prox-sink must be auto, on or off; got %q", o.proxSink)
	}
	if p.S1Procs < 1 || p.S1Lines < 1 || p.S2Procs < 1 || p.S3Procs < 1 || p.IdleProcs < 1 {
		return nil, errors.New("process and line counts must be at least 1")
	}
	if p.S4Duration <= 0 || p.IdleDuration <= 0 || p.StopTimeout <= 0 {
		return nil, errors.New("durations must be positive")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "bench", Output: stderr, Level: hclog.LevelFromString(o.logLevel)})
	if err := bench(o, log, stdout); err != nil {
		log.Error("failed", "error", err)
		return 1
	}
	return 0
}

func bench(o *options, log hclog.Logger, stdout io.Writer) error {
	all := scenario.All(o.params)
	selected, err := scenario.Select(all, o.scenarios)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return fmt.Errorf("work folder: %w", err)
	}
	wanted := map[string]bool{}
	if o.peers != "" {
		for _, p := range strings.Split(o.peers, ",") {
			wanted[strings.TrimSpace(p)] = true
		}
	}
	needProx := len(wanted) == 0 || wanted["prox"] || wanted[peers.ScrapedName]
	needNoop := false
	for _, sc := range selected {
		needNoop = needNoop || needProx && sc.Name == "floor"
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bins, err := build(ctx, o, needProx, needNoop, log)
	if err != nil {
		return err
	}
	var notes []string
	available := map[string]peers.Peer{
		"baseline":      peers.Shell{},
		"baseline-pipe": peers.Shell{Pipe: true},
	}
	if peers.SupervisordInstalled() {
		available["supervisord"] = peers.Supervisord{}
		available["supervisord-tuned"] = peers.Supervisord{Tuned: true}
	} else {
		notes = append(notes, "supervisord is not installed (Debian package supervisor): its rows and ratios are missing")
	}
	sinkOK := false
	if bins.prox != "" {
		sinkOK = o.proxSink == "on" || o.proxSink == "auto" && fileSinkAvailable(ctx, bins.prox, o.work)
		quiet := proxHasQuiet(ctx, bins.prox)
		available["prox"] = peers.Prox{Bin: bins.prox, Sink: sinkOK, Quiet: quiet}
		available[peers.ScrapedName] = peers.Prox{Bin: bins.prox, Sink: sinkOK, Quiet: quiet, Scrape: true}
		if !quiet {
			notes = append(notes, "this prox has no -quiet: it also prints every line on its stdout (to a file), which the other supervisors do not do")
		}
		if !sinkOK {
			notes = append(notes, "this prox has no file sink (or -prox-sink off): S1 is not run for prox; the other scenarios run prox without a sink")
		}
	}
	for name := range wanted {
		if _, ok := available[name]; !ok {
			return fmt.Errorf("peer %q is not available (known: baseline, baseline-pipe, supervisord, supervisord-tuned, prox, prox-scraped)", name)
		}
	}

	stamp := time.Now().Format("20060102-150405")
	jsonPath := filepath.Join(o.work, "results-"+stamp+".jsonl")
	mdPath := filepath.Join(o.work, "results-"+stamp+".md")
	jf, err := os.Create(jsonPath)
	if err != nil {
		return fmt.Errorf("results file: %w", err)
	}
	defer jf.Close()

	header := machine(o, available)
	log.Info("benchmark", "rounds", o.rounds, "results", jsonPath)

	var stop atomic.Bool
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		<-sigs
		log.Warn("interrupted: stopping after the current run (again to quit at once)")
		stop.Store(true)
		<-sigs
		os.Exit(130)
	}()

	env := &scenario.Env{Load: bins.load, NoopSink: bins.noopSink, Params: o.params, Grace: o.grace, Keep: o.keep, Log: log}
	var results []*scenario.Result
runs:
	for _, sc := range selected {
		var names []string
		for _, p := range sc.Peers {
			if _, ok := available[p]; !ok || len(wanted) > 0 && !wanted[p] {
				continue
			}
			if sc.Name == "s1" && (p == "prox" || p == peers.ScrapedName) && !sinkOK {
				continue
			}
			if p == peers.ScrapedName && !wanted[p] {
				continue
			}
			names = append(names, p)
		}
		for round := 1; round <= o.rounds; round++ {
			// Rotate the order so that no peer always runs first.
			for i := range names {
				if stop.Load() {
					break runs
				}
				name := names[(i+round-1)%len(names)]
				dir := filepath.Join(o.work, "run", sc.Name, fmt.Sprintf("%s-r%d", name, round))
				r := sc.Run(env, available[name], dir, round)
				results = append(results, r)
				if err := report.JSONLines(jf, r); err != nil {
					return err
				}
				logResult(log, r)
			}
		}
	}

	var b strings.Builder
	b.WriteString(header)
	fmt.Fprintf(&b, "- load average at the end: %s\n", loadAvg())
	if len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			b.WriteString("- " + n + "\n")
		}
	}
	b.WriteString("\n")
	report.Markdown(&b, selected, results)
	if _, err := io.WriteString(stdout, b.String()); err != nil {
		return err
	}
	if err := os.WriteFile(mdPath, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	log.Info("done", "results", jsonPath, "table", mdPath)
	return nil
}

func logResult(log hclog.Logger, r *scenario.Result) {
	args := []any{"scenario", r.Scenario, "peer", r.Peer, "round", r.Round}
	keys := make([]string, 0, len(r.Metrics))
	for k := range r.Metrics {
		keys = append(keys, k)
	}
	sortStrings(keys)
	for _, k := range keys {
		args = append(args, k, fmt.Sprintf("%.4g", r.Metrics[k]))
	}
	if r.Error != "" {
		log.Error("run failed", append(args, "error", r.Error)...)
		return
	}
	log.Info("run", args...)
}
