// Package metrics is prox's /metrics: a Prometheus collector that reads,
// at each scrape, what the supervisor, the log manager and the plugins
// already keep (process snapshots, output and sink counters, plugin
// relaunches) and the processes' CPU and memory from their runners'
// Stats, or, for a local process whose runner has none, from its cgroup or
// /proc. Nothing is counted on the hot path for it: the log manager's
// counters are added once per batch, and the rest is read when scraped.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor"
)

// Processes gives the supervisor's process snapshots.
type Processes interface {
	Processes() []supervisor.ProcessInfo
}

// Plugin is one plugin process as /metrics shows it.
type Plugin struct {
	// ID is "KIND.NAME" of the component it serves, e.g. "runner.exec",
	// "sink.file.all".
	ID string
	// Up says its process is alive.
	Up bool
	// Relaunches counts its relaunches after it died.
	Relaunches uint64
}

// Usage is a process's resource use.
type Usage struct {
	// CPUSeconds is the CPU time used, user and system.
	CPUSeconds float64
	// MemoryBytes is the memory in use (resident).
	MemoryBytes float64
}

// Source is what the collector reads at each scrape.
type Source struct {
	// Supervisor gives the processes; required.
	Supervisor Processes
	// Logs gives the output and sink counters; nil: none.
	Logs *logs.Manager
	// Plugins lists the plugin processes; nil: none.
	Plugins func() []Plugin
	// Version is prox's version, for prox_build_info.
	Version string
	// Usage returns a running process's resource use when its runner has
	// no Stats (or Supervisor is no Statter); ok false when it cannot be
	// read. Default ProcessUsage (a local process's cgroup, else /proc).
	Usage func(p supervisor.ProcessInfo) (Usage, bool)
}

// Statter is implemented by a Supervisor that reads a running process's
// figures from its runner's Stats (supervisor.Manager.ProcessStats): an
// error wrapping sdk.ErrUnimplemented means the runner has none.
type Statter interface {
	ProcessStats(ctx context.Context, name string) (sdk.ProcessStats, error)
}

// statsTimeout bounds a scrape's reads of the runners' Stats.
const statsTimeout = 5 * time.Second

// States are the states each process has a prox_process_state series
// for, in the supervisor's order.
var States = []supervisor.State{
	supervisor.StateStopped, supervisor.StateStarting, supervisor.StateRunning, supervisor.StateStopping,
	supervisor.StateCrashed, supervisor.StateBackoff, supervisor.StateFailed,
}

// HealthStatuses are the statuses a checked process has a
// prox_process_health series for.
var HealthStatuses = []string{string(sdk.StateHealthy), string(sdk.StateUnhealthy), string(sdk.StateHealthUnknown)}

var (
	// procLabel are the labels of a process's series: its block's name
	// and, for an instance of a block with replicas, its index ("" for a
	// process of one instance, which Prometheus stores as no label).
	procLabel = []string{"process", "replica"}

	descState      = prometheus.NewDesc("prox_process_state", "1 for the state the process is in, 0 for the others.", []string{"process", "replica", "state"}, nil)
	descUp         = prometheus.NewDesc("prox_process_up", "1 while the process runs (state running), else 0.", procLabel, nil)
	descHealth     = prometheus.NewDesc("prox_process_health", "1 for the process's health status, 0 for the others; only for processes with a health check.", []string{"process", "replica", "status"}, nil)
	descRestarts   = prometheus.NewDesc("prox_process_restarts_total", "Restarts of the process, by its restart policy and asked for.", procLabel, nil)
	descStartTime  = prometheus.NewDesc("prox_process_start_time_seconds", "When the running process started, in seconds since the Unix epoch.", procLabel, nil)
	descExitTime   = prometheus.NewDesc("prox_process_last_exit_time_seconds", "When the process last exited, in seconds since the Unix epoch.", procLabel, nil)
	descExitCode   = prometheus.NewDesc("prox_process_last_exit_code", "The process's last exit code; -1 when a signal ended it or the outcome is unknown.", procLabel, nil)
	descLines      = prometheus.NewDesc("prox_process_output_lines_total", "Lines the process wrote, by stream.", []string{"process", "replica", "stream"}, nil)
	descBytes      = prometheus.NewDesc("prox_process_output_bytes_total", "Bytes of the lines the process wrote (without their newlines), by stream.", []string{"process", "replica", "stream"}, nil)
	descCPU        = prometheus.NewDesc("prox_process_cpu_seconds_total", "CPU time the running process used (its cgroup, or the process and its reaped children), user and system.", procLabel, nil)
	descMemory     = prometheus.NewDesc("prox_process_memory_bytes", "Memory the running process uses (its cgroup's, or its resident set).", procLabel, nil)
	sinkLabel      = []string{"sink"}
	descSinkQueued = prometheus.NewDesc("prox_sink_queued_entries", "Lines waiting for the sink, the batch in flight included: its backlog.", sinkLabel, nil)
	descSinkEvents = prometheus.NewDesc("prox_sink_queued_events", "Events waiting for the sink, in flight included.", sinkLabel, nil)
	descSinkSent   = prometheus.NewDesc("prox_sink_sent_total", "Lines the sink acknowledged.", sinkLabel, nil)
	descSinkFail   = prometheus.NewDesc("prox_sink_failures_total", "Failed writes to the sink (each retried).", sinkLabel, nil)
	descSinkDrop   = prometheus.NewDesc("prox_sink_dropped_total", "Lines the sink lost: dropped by a full drop-oldest queue, or given up on at stop.", sinkLabel, nil)
	descSinkUp     = prometheus.NewDesc("prox_sink_up", "1 while the sink acknowledges batches (state ok), else 0.", sinkLabel, nil)
	descSinkBatch  = prometheus.NewDesc("prox_sink_batch_duration_seconds", "Time from a batch's first write to its acknowledgement, retries included.", sinkLabel, nil)
	descPluginUp   = prometheus.NewDesc("prox_plugin_up", "1 while the plugin's process is alive, else 0.", []string{"plugin"}, nil)
	descPluginRel  = prometheus.NewDesc("prox_plugin_relaunches_total", "Relaunches of the plugin after its process died.", []string{"plugin"}, nil)
	descBuild      = prometheus.NewDesc("prox_build_info", "1, labelled with prox's version and the Go version it was built with.", []string{"version", "goversion"}, nil)
)

// Collector is the prometheus.Collector of prox's metrics.
type Collector struct {
	src Source
}

// NewCollector returns the collector of src.
func NewCollector(src Source) *Collector {
	if src.Usage == nil {
		src.Usage = ProcessUsage
	}
	return &Collector{src: src}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descState, descUp, descHealth, descRestarts, descStartTime, descExitTime, descExitCode, descLines, descBytes, descCPU, descMemory,
		descSinkQueued, descSinkEvents, descSinkSent, descSinkFail, descSinkDrop, descSinkUp, descSinkBatch, descPluginUp, descPluginRel, descBuild,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(descBuild, 1, c.src.Version, runtime.Version())
	// Each process's labels, by its name: its block and replica.
	ids := map[string][2]string{}
	procs := c.src.Supervisor.Processes()
	usages := c.usages(procs)
	for _, p := range procs {
		id := processID(p)
		ids[p.Name] = id
		name, replica := id[0], id[1]
		for _, s := range States {
			gauge(descState, b2f(p.State == s), name, replica, string(s))
		}
		gauge(descUp, b2f(p.State == supervisor.StateRunning), name, replica)
		if p.Health != nil {
			for _, s := range HealthStatuses {
				gauge(descHealth, b2f(string(p.Health.Status) == s), name, replica, s)
			}
		}
		counter(descRestarts, float64(p.Restarts), name, replica)
		if !p.StartedAt.IsZero() {
			gauge(descStartTime, unix(p.StartedAt), name, replica)
		}
		if p.LastExit != nil {
			gauge(descExitTime, unix(p.LastExit.Time), name, replica)
			gauge(descExitCode, float64(p.LastExit.Code), name, replica)
		}
		if u, ok := usages[p.Name]; ok {
			counter(descCPU, u.CPUSeconds, name, replica)
			gauge(descMemory, u.MemoryBytes, name, replica)
		}
	}
	if c.src.Logs != nil {
		for _, o := range c.src.Logs.OutputCounts() {
			id, ok := ids[o.Process]
			if !ok {
				id = [2]string{o.Process, ""}
			}
			for _, s := range []sdk.Stream{sdk.Stdout, sdk.Stderr} {
				counter(descLines, float64(o.Lines[s]), id[0], id[1], s.String())
				counter(descBytes, float64(o.Bytes[s]), id[0], id[1], s.String())
			}
		}
		for _, s := range c.src.Logs.AllSinkStats() {
			gauge(descSinkQueued, float64(s.Queued), s.Name)
			gauge(descSinkEvents, float64(s.QueuedEvents), s.Name)
			counter(descSinkSent, float64(s.Sent), s.Name)
			counter(descSinkFail, float64(s.Failures), s.Name)
			counter(descSinkDrop, float64(s.Dropped+s.Undelivered), s.Name)
			gauge(descSinkUp, b2f(s.State == logs.SinkOK), s.Name)
			ch <- prometheus.MustNewConstHistogram(descSinkBatch, s.Latency.Count, s.Latency.Sum, s.Latency.Buckets, s.Name)
		}
	}
	if c.src.Plugins != nil {
		plugins := c.src.Plugins()
		sort.Slice(plugins, func(i, j int) bool { return plugins[i].ID < plugins[j].ID })
		for _, p := range plugins {
			gauge(descPluginUp, b2f(p.Up), p.ID)
			counter(descPluginRel, float64(p.Relaunches), p.ID)
		}
	}
}

// processID is a process's process and replica labels: for an instance
// of a block with replicas ("web.2" of "web"), the block's name and the
// index; else its name and "".
func processID(p supervisor.ProcessInfo) [2]string {
	if p.Group != "" && p.Group != p.Name {
		if i, ok := strings.CutPrefix(p.Name, p.Group+"."); ok {
			return [2]string{p.Group, i}
		}
	}
	return [2]string{p.Name, ""}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Handler serves src's metrics in Prometheus's text format (and
// OpenMetrics when asked), with the Go runtime's and prox's own process
// metrics (go_*, process_*).
func Handler(src Source) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// usages reads the resource use of the running processes, at once: from
// their runners' Stats, else (a runner without Stats) with Source.Usage.
// A process whose figures cannot be read has none.
func (c *Collector) usages(procs []supervisor.ProcessInfo) map[string]Usage {
	st, _ := c.src.Supervisor.(Statter)
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	out := make(map[string]Usage, len(procs))
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, p := range procs {
		if p.State != supervisor.StateRunning && p.State != supervisor.StateStopping {
			continue
		}
		wg.Go(func() {
			if u, ok := c.usage(ctx, st, p); ok {
				mu.Lock()
				out[p.Name] = u
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

func (c *Collector) usage(ctx context.Context, st Statter, p supervisor.ProcessInfo) (Usage, bool) {
	if st != nil {
		s, err := st.ProcessStats(ctx, p.Name)
		if err == nil {
			return Usage{CPUSeconds: s.CPU.Seconds(), MemoryBytes: float64(s.MemoryBytes)}, true
		}
		if !errors.Is(err, sdk.ErrUnimplemented) {
			return Usage{}, false
		}
	}
	if p.PID <= 0 {
		return Usage{}, false
	}
	return c.src.Usage(p)
}
