package main

import (
	"context"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const waitFor = 30 * time.Second

// configured returns a runner configured with values, as prox would.
func configured(t *testing.T, values map[string]any) *Runner {
	t.Helper()
	r := New()
	sdktest.Configure(t, r, values)
	return r
}

// Without faults configured, the chaos runner is a conforming runner; with
// start delays too.
func TestConformance(t *testing.T) {
	t.Run("NoFaults", func(t *testing.T) {
		sdktest.RunnerSuite(t, func(t *testing.T) sdk.Runner { return configured(t, nil) }, sdktest.RunnerSuiteOptions{})
	})
	t.Run("StartDelay", func(t *testing.T) {
		sdktest.RunnerSuite(t, func(t *testing.T) sdk.Runner {
			return configured(t, map[string]any{"start_delay": "20ms", "seed": 7})
		}, sdktest.RunnerSuiteOptions{})
	})
}

// start starts argv through the gRPC harness, as prox would.
func start(t *testing.T, r *Runner, argv ...string) (sdk.Process, <-chan string) {
	t.Helper()
	h := sdktest.NewRunnerHarness(t, r)
	p, err := h.Start(context.Background(), &sdk.ProcessConfig{Name: "victim", Command: argv, Env: []string{"PATH=" + os.Getenv("PATH")}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Signal(syscall.SIGKILL) })
	go func() { _, _ = io.Copy(io.Discard, p.Stderr()) }()
	out := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(p.Stdout())
		out <- string(b)
	}()
	return p, out
}

// wait returns p's Wait result, failing the test when it does not come.
func wait(t *testing.T, p sdk.Process) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(waitFor):
		t.Fatalf("the process still runs after %s", waitFor)
		return nil
	}
}

func TestKillEveryKillsTheProcess(t *testing.T) {
	r := configured(t, map[string]any{"kill_every": "100ms"})
	p, _ := start(t, r, "sleep", "1000")
	var ee *sdk.ExitError
	require.ErrorAs(t, wait(t, p), &ee)
	assert.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGKILL"}, ee)
}

func TestKillSignalIsConfigurable(t *testing.T) {
	r := configured(t, map[string]any{"kill_every": "100ms", "kill_signal": "TERM"})
	p, out := start(t, r, "sh", "-c", `trap 'echo caught TERM; exit 0' TERM; while :; do sleep 0.05; done`)
	require.NoError(t, wait(t, p), "the process exits 0 from its TERM trap")
	select {
	case text := <-out:
		assert.Equal(t, "caught TERM\n", text)
	case <-time.After(waitFor):
		t.Fatal("the output did not end")
	}
}

func TestNoKillsByDefault(t *testing.T) {
	r := configured(t, nil)
	assert.Zero(t, r.killDelay())
	assert.Zero(t, r.startDelay())
}

func TestStartDelayIsCancelled(t *testing.T) {
	r := configured(t, map[string]any{"start_delay": "1h"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() {
		_, err := r.Start(ctx, &sdk.ProcessConfig{Name: "late", Command: []string{"true"}})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
		// The cause alone: prox names the process.
		assert.Contains(t, err.Error(), "start delay")
		assert.NotContains(t, err.Error(), `"late"`)
	case <-time.After(waitFor):
		t.Fatal("Start did not return after its context was cancelled")
	}
}

func TestSeedGivesTheSameSequence(t *testing.T) {
	values := map[string]any{"start_delay": "10s", "kill_every": "1m", "seed": 42}
	a, b := configured(t, values), configured(t, values)
	other := configured(t, map[string]any{"start_delay": "10s", "kill_every": "1m", "seed": 43})
	var seqA, seqB, seqOther []time.Duration
	for range 20 {
		seqA = append(seqA, a.startDelay(), a.killDelay())
		seqB = append(seqB, b.startDelay(), b.killDelay())
		seqOther = append(seqOther, other.startDelay(), other.killDelay())
	}
	assert.Equal(t, seqA, seqB)
	assert.NotEqual(t, seqA, seqOther)
	for i, d := range seqA {
		if i%2 == 0 {
			assert.True(t, d >= 0 && d < 10*time.Second, "start delay %s out of [0, 10s)", d)
		} else {
			assert.True(t, d >= 30*time.Second && d < 90*time.Second, "kill delay %s out of [30s, 90s)", d)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		values map[string]any
		want   string
	}{
		{map[string]any{"kill_every": "-1m"}, "kill_every: must not be negative"},
		{map[string]any{"start_delay": "-1s"}, "start_delay: must not be negative"},
		{map[string]any{"kill_signal": "SIGNOPE"}, "kill_signal"},
		{map[string]any{"seed": -1}, "seed"},
	} {
		err := sdktest.ConfigureError(t, New(), tt.values)
		require.Error(t, err, "%v", tt.values)
		assert.True(t, strings.Contains(err.Error(), tt.want), "%q should mention %q", err, tt.want)
	}
}
