package supervisor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor/policy"
)

// HealthStatus is what a process's health check says.
type HealthStatus string

// The health statuses; "" means the process has no health check.
// Their values are the SDK's (sdk.StateHealthUnknown, ...): the State of
// a health event the sinks receive.
const (
	HealthUnknown   = HealthStatus(sdk.StateHealthUnknown)
	HealthHealthy   = HealthStatus(sdk.StateHealthy)
	HealthUnhealthy = HealthStatus(sdk.StateUnhealthy)
)

// HealthInfo is the health part of ProcessInfo.
type HealthInfo struct {
	Status HealthStatus
	// Output is the last check's output or error, shortened.
	Output    string
	CheckedAt time.Time
}

// HealthCheck is a process's health check, as configured. Probe returns
// the probe of one run of the process, called as the run begins: what the
// probe keeps (the line that matched, the process to run a command in)
// lasts that run only.
type HealthCheck interface {
	Probe(run Run) Probe
}

// Run is the run of a process that a probe checks.
type Run struct {
	// Process is the run's process, as its runner started it.
	Process sdk.Process
}

// Probe checks the health of one run. Check returns nil when the run is
// healthy, and what it saw either way; it is called once at a time, with
// a context bounded by the check's timeout.
type Probe interface {
	Check(ctx context.Context) (output string, err error)
}

// LineObserver is implemented by a probe that looks at the run's output
// (the log check): ObserveLine gets every line of both streams, from the
// goroutines that read them, concurrently with Check. It must not keep
// line, nor block.
type LineObserver interface {
	ObserveLine(line []byte)
}

// HealthSpec configures a process's health checking.
type HealthSpec struct {
	// Check is the health check; it gives a Probe for each run.
	Check HealthCheck
	// Interval between checks, Timeout of one, InitialDelay before the
	// first; defaults policy.DefaultHealthInterval,
	// policy.DefaultHealthTimeout, 0.
	Interval, Timeout, InitialDelay time.Duration
	// SuccessThreshold passing checks in a row make the process healthy,
	// FailureThreshold failing ones unhealthy; defaults
	// policy.DefaultSuccessThreshold and policy.DefaultFailureThreshold.
	SuccessThreshold, FailureThreshold int
	// Restart makes the check a liveness check: an unhealthy process is
	// restarted through its restart policy, counted as a failure.
	Restart bool
}

func (h *HealthSpec) withDefaults() {
	if h.Interval <= 0 {
		h.Interval = policy.DefaultHealthInterval
	}
	if h.Timeout <= 0 {
		h.Timeout = policy.DefaultHealthTimeout
	}
	if h.SuccessThreshold < 1 {
		h.SuccessThreshold = policy.DefaultSuccessThreshold
	}
	if h.FailureThreshold < 1 {
		h.FailureThreshold = policy.DefaultFailureThreshold
	}
}

// maxHealthOutput bounds the output kept from one check.
const maxHealthOutput = 512

// HTTPCheck passes when a GET of URL answers Status. It is its own probe:
// it keeps nothing per run.
type HTTPCheck struct {
	URL    string
	Status int
	client http.Client
}

// Probe implements HealthCheck.
func (c *HTTPCheck) Probe(Run) Probe { return c }

// Check implements Probe.
func (c *HTTPCheck) Check(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	out := fmt.Sprintf("GET %s: %s", c.URL, resp.Status)
	if resp.StatusCode != c.Status {
		return out, fmt.Errorf("%s, want %d", out, c.Status)
	}
	return out, nil
}

// TCPCheck passes when Address accepts a connection. It is its own probe.
type TCPCheck struct {
	Address string
}

// Probe implements HealthCheck.
func (c *TCPCheck) Probe(Run) Probe { return c }

// Check implements Probe.
func (c *TCPCheck) Check(ctx context.Context) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.Address)
	if err != nil {
		return "", err
	}
	_ = conn.Close()
	return "connected to " + c.Address, nil
}

// LocalExecCheck runs Command on this machine, in Dir with Env; exit 0
// passes. It is the exec check of processes of a runner whose processes
// run on this machine too (sdk.CapabilityLocal). It is its own probe.
type LocalExecCheck struct {
	Command []string
	Env     []string
	Dir     string
}

// Probe implements HealthCheck.
func (c *LocalExecCheck) Probe(Run) Probe { return c }

// Check implements Probe.
func (c *LocalExecCheck) Check(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, c.Command[0], c.Command[1:]...)
	cmd.Env, cmd.Dir = c.Env, c.Dir
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// RunnerExecCheck runs Command where the process runs, through its
// runner (sdk.ProcessExecer: in the container, over the SSH connection);
// exit 0 passes.
type RunnerExecCheck struct {
	Command []string
}

// Probe implements HealthCheck: it runs the command where the run's
// process runs.
func (c *RunnerExecCheck) Probe(run Run) Probe {
	ex, _ := run.Process.(sdk.ProcessExecer)
	return &runnerExecProbe{command: c.Command, proc: ex}
}

// runnerExecProbe is a RunnerExecCheck's probe of one run.
type runnerExecProbe struct {
	command []string
	proc    sdk.ProcessExecer // nil when the runner cannot run commands
}

// Check implements Probe.
func (p *runnerExecProbe) Check(ctx context.Context) (string, error) {
	if p.proc == nil {
		return "", fmt.Errorf("the process does not run")
	}
	res, err := p.proc.Exec(ctx, p.command)
	if err != nil {
		return "", err
	}
	out := strings.TrimSpace(string(res.Output))
	if res.ExitCode != 0 {
		return out, fmt.Errorf("exit code %d: %s", res.ExitCode, out)
	}
	return out, nil
}

// LogCheck passes once the process printed a line matching Match, in its
// current run.
type LogCheck struct {
	Match *regexp.Regexp
}

// Probe implements HealthCheck: a new run has matched nothing yet.
func (c *LogCheck) Probe(Run) Probe { return &logProbe{match: c.Match} }

// logProbe is a LogCheck's probe of one run.
type logProbe struct {
	match   *regexp.Regexp
	matched atomic.Pointer[string]
}

// Check implements Probe.
func (p *logProbe) Check(context.Context) (string, error) {
	if line := p.matched.Load(); line != nil {
		return *line, nil
	}
	return "", fmt.Errorf("no line matched %q yet", p.match.String())
}

// ObserveLine implements LineObserver.
func (p *logProbe) ObserveLine(line []byte) {
	if p.matched.Load() == nil && p.match.Match(line) {
		s := string(line)
		p.matched.Store(&s)
	}
}

// healthResult is the outcome of a check, sent to the process's owner:
// the status after it, and whether the status changed.
type healthResult struct {
	status  HealthStatus
	changed bool
	output  string
	at      time.Time
	run     uint64
}

// runHealth probes until ctx ends and sends every check's outcome, once
// there is a status: what ps shows is the last check's output and time,
// and a change of status is an event.
func runHealth(ctx context.Context, spec HealthSpec, probe Probe, run uint64, out chan<- healthResult) {
	status := HealthUnknown
	passes, fails := 0, 0
	timer := time.NewTimer(spec.InitialDelay)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		cctx, cancel := context.WithTimeout(ctx, spec.Timeout)
		output, err := probe.Check(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// The error, and what the check printed: "exit status 1:
			// connection refused" says why.
			if output == "" || strings.Contains(err.Error(), output) {
				output = err.Error()
			} else {
				output = err.Error() + ": " + output
			}
			fails, passes = fails+1, 0
		} else {
			passes, fails = passes+1, 0
		}
		if len(output) > maxHealthOutput {
			output = output[:maxHealthOutput] + "..."
		}
		next := status
		switch {
		case passes >= spec.SuccessThreshold:
			next = HealthHealthy
		case fails >= spec.FailureThreshold:
			next = HealthUnhealthy
		}
		changed := next != status
		status = next
		if status != HealthUnknown {
			select {
			case out <- healthResult{status: status, changed: changed, output: output, at: time.Now(), run: run}:
			case <-ctx.Done():
				return
			}
		}
		timer.Reset(spec.Interval)
	}
}
