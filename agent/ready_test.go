package agent

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/prox-dev/prox/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadiness(t *testing.T) {
	exit := func(code int, signal string) *supervisor.ExitStatus {
		return &supervisor.ExitStatus{Code: code, Signal: signal}
	}
	health := func(s supervisor.HealthStatus, out string) *supervisor.HealthInfo {
		return &supervisor.HealthInfo{Status: s, Output: out}
	}
	now := time.Now()
	running := supervisor.ProcessInfo{Name: "web", State: supervisor.StateRunning, StartedAt: now.Add(-settleTime)}
	tests := []struct {
		name  string
		procs []supervisor.ProcessInfo
		done  bool
		err   string
	}{
		{"all running", []supervisor.ProcessInfo{running, {Name: "db", State: supervisor.StateRunning, StartedAt: now.Add(-time.Minute)}}, true, ""},
		{"one just started", []supervisor.ProcessInfo{running, {Name: "db", State: supervisor.StateRunning, StartedAt: now.Add(-settleTime / 4)}}, false, ""},
		{"one starting", []supervisor.ProcessInfo{running, {Name: "db", State: supervisor.StateStarting}}, false, ""},
		{"healthy", []supervisor.ProcessInfo{{Name: "db", State: supervisor.StateRunning, Health: health(supervisor.HealthHealthy, "")}}, true, ""},
		{"no verdict yet", []supervisor.ProcessInfo{{Name: "db", State: supervisor.StateRunning, Health: health(supervisor.HealthUnknown, "")}}, false, ""},
		{"unhealthy", []supervisor.ProcessInfo{{Name: "db", State: supervisor.StateRunning, Health: health(supervisor.HealthUnhealthy, "connection\nrefused")}}, true,
			"db failed to start: its health check failed: connection refused"},
		{"a one-shot that ended", []supervisor.ProcessInfo{running, {Name: "migrate", State: supervisor.StateStopped, LastExit: exit(0, "")}}, true, ""},
		{"crashed", []supervisor.ProcessInfo{running, {Name: "worker", State: supervisor.StateCrashed, LastExit: exit(3, "")}}, true,
			"worker failed to start: exited with code 3"},
		{"backoff after a crash", []supervisor.ProcessInfo{{Name: "worker", State: supervisor.StateBackoff, LastExit: exit(-1, "SIGSEGV")}}, true,
			"worker failed to start: killed by SIGSEGV"},
		{"backoff after a clean exit", []supervisor.ProcessInfo{{Name: "tick", State: supervisor.StateBackoff, LastExit: exit(0, "")}}, false, ""},
		{"failed, with a reason", []supervisor.ProcessInfo{{Name: "ghost", State: supervisor.StateFailed, Reason: `exec: "nope": executable file not found in $PATH`}}, true,
			`ghost failed to start: exec: "nope": executable file not found in $PATH`},
		{"the first failure is named", []supervisor.ProcessInfo{{Name: "a", State: supervisor.StateStarting}, {Name: "b", State: supervisor.StateFailed, Reason: "x"}, {Name: "c", State: supervisor.StateFailed, Reason: "y"}}, true,
			"b failed to start: x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, recheck, err := readiness(tt.procs, now)
			assert.Equal(t, tt.done, done)
			if tt.name == "one just started" {
				assert.Equal(t, settleTime*3/4, recheck, "look again once it has run for settleTime")
			} else {
				assert.Zero(t, recheck)
			}
			if tt.err == "" {
				assert.NoError(t, err)
				return
			}
			var se *StartError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.err, err.Error())
		})
	}
}

// runReady runs the agent of src with a Ready hook and returns Run's exit
// code, the processes' output and what Ready received; interrupts, when
// not nil, is Run's.
func runReady(t *testing.T, src string, interrupts chan os.Signal) (int, *syncBuffer, error) {
	t.Helper()
	opts, out, _ := testOptions(t, src)
	ready := make(chan error, 2)
	opts.Ready = func(err error) { ready <- err }
	a, diags, err := New(context.Background(), opts)
	require.NoError(t, err)
	defer a.Close()
	require.False(t, diags.HasErrors(), diags.Error())
	if interrupts == nil {
		interrupts = make(chan os.Signal)
	}
	codes := make(chan int, 1)
	go func() { codes <- a.Run(interrupts) }()
	var got error
	select {
	case got = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("Ready was never called")
	}
	if got == nil {
		// Up: stop it as prox down would.
		a.requestStop("test", false)
	}
	select {
	case code := <-codes:
		assert.Len(t, ready, 0, "Ready is called once")
		return code, out, got
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
		return 0, nil, nil
	}
}

func TestReadyOnceEveryProcessIsUp(t *testing.T) {
	code, out, err := runReady(t, `
process "web" {
  command = ["sh", "-c", "echo serving; exec sleep 60"]
  health {
    log { match = "serving" }
    interval = "50ms"
  }
}
process "worker" {
  command = ["sh", "-c", "echo working; exec sleep 60"]
  depends_on "web" { condition = "healthy" }
}
process "quiet" { command = ["sleep", "60"] }
`, nil)
	assert.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Contains(t, out.String(), "web | serving")
}

// A process that fails to start is named, with why, and Run stops the
// others: nothing is left running half-started.
func TestReadyReportsAFailedStartAndStopsTheRest(t *testing.T) {
	code, _, err := runReady(t, `
process "web" { command = ["sleep", "60"] }
process "bad" {
  command = ["sh", "-c", "exit 7"]
  restart { policy = "always" }
}
`, nil)
	var se *StartError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "bad", se.Process)
	assert.Equal(t, "exited with code 7", se.Reason)
	assert.Equal(t, 1, code)
}

func TestReadyWhenInterruptedFirst(t *testing.T) {
	interrupts := make(chan os.Signal, 1)
	interrupts <- os.Interrupt
	_, _, err := runReady(t, `
process "slow" {
  command = ["sleep", "60"]
  health {
    log { match = "never printed" }
  }
}
`, interrupts)
	assert.True(t, errors.Is(err, errStoppedBeforeReady), "%v", err)
}
