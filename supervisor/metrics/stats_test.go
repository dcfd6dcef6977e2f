package metrics

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	execrunner "github.com/prox-dev/prox/plugins/runner/exec"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/prox-dev/prox/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hidingRunner starts its processes with the exec runner but hides their
// Stats, as a local runner without the capability would.
type hidingRunner struct{ *execrunner.Runner }

type noStats struct {
	sdk.Process
	mode string
}

func (p noStats) Containment() string { return p.mode }

func (r hidingRunner) Start(ctx context.Context, cfg *sdk.ProcessConfig) (sdk.Process, error) {
	p, err := r.Runner.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return noStats{p, p.(sdk.Containment).Containment()}, nil
}

// runSupervisor runs one long process on runner and stops it at the end.
func runSupervisor(t *testing.T, runner sdk.Runner, script string) *supervisor.Manager {
	t.Helper()
	sup := supervisor.New([]supervisor.ProcessSpec{{
		Name: "busy", Runner: runner, RunnerName: "exec", StopTimeout: 5 * time.Second,
		Config: sdk.ProcessConfig{Name: "busy", Command: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}},
	}}, supervisor.Options{Logger: hclog.NewNullLogger()})
	require.NoError(t, sup.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		assert.NoError(t, sup.Stop(ctx))
	})
	return sup
}

// TestUsageFromTheRunnersStats: a process whose runner has Stats (the
// exec runner, through the plugin protocol as prox runs it) is read
// through them, not by prox's own /proc reading.
func TestUsageFromTheRunnersStats(t *testing.T) {
	runner := sdktest.NewRunnerHarness(t, execrunner.New())
	sup := runSupervisor(t, runner, "while :; do :; done")
	asked := make(chan struct{}, 1)
	h := Handler(Source{Supervisor: sup, Usage: func(supervisor.ProcessInfo) (Usage, bool) {
		select {
		case asked <- struct{}{}:
		default:
		}
		return Usage{}, false
	}})
	var text string
	require.Eventually(t, func() bool {
		text = scrape(t, h)
		return hasSeries(text, `prox_process_cpu_seconds_total{process="busy",replica=""}`) &&
			value(t, text, `prox_process_cpu_seconds_total{process="busy",replica=""}`) > 0.1
	}, waitFor, 10*time.Millisecond, "the busy loop's CPU time, from the runner's Stats")
	assert.Positive(t, value(t, text, `prox_process_memory_bytes{process="busy",replica=""}`))
	select {
	case <-asked:
		t.Fatal("the local reading was asked although the runner has Stats")
	default:
	}
}

// TestUsageOfALocalRunnerWithoutStats: a local process whose runner has
// no Stats is read by prox itself (Source.Usage).
func TestUsageOfALocalRunnerWithoutStats(t *testing.T) {
	sup := runSupervisor(t, hidingRunner{execrunner.New()}, "exec sleep 600")
	h := Handler(Source{Supervisor: sup, Usage: func(p supervisor.ProcessInfo) (Usage, bool) {
		if p.PID <= 0 || p.Containment == "" {
			return Usage{}, false
		}
		return Usage{CPUSeconds: 2.5, MemoryBytes: 1 << 20}, true
	}})
	var text string
	require.Eventually(t, func() bool {
		text = scrape(t, h)
		return hasSeries(text, `prox_process_memory_bytes{process="busy",replica=""}`)
	}, waitFor, 10*time.Millisecond, "the figures of Source.Usage")
	assert.Equal(t, 2.5, value(t, text, `prox_process_cpu_seconds_total{process="busy",replica=""}`))
	assert.Equal(t, float64(1<<20), value(t, text, `prox_process_memory_bytes{process="busy",replica=""}`))
}

// hasSeries reports whether text holds the series, exactly as written.
func hasSeries(text, series string) bool {
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` \S+$`).MatchString(text)
}
