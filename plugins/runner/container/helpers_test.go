package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/prox-dev/prox/internal/testservers"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/require"
)

const (
	// testImage is the image every test runs: busybox, made offline. Its
	// default command prints "image default command".
	testImage = testservers.TestImage
	waitFor   = 30 * time.Second
	tick      = 20 * time.Millisecond
)

// TestMain stops the Podman service the tests shared, and fails the run
// when a test left a container behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if leftovers := testservers.StopPodman(); leftovers != "" {
		fmt.Fprintf(os.Stderr, "containers left behind by the tests:\n%s\n", leftovers)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// engineAddr returns the address of the Podman API service the tests
// share (testservers.Podman), started on first use. Without podman, runc
// or busybox the test is skipped, or fails when CI=true.
func engineAddr(t testing.TB) string {
	t.Helper()
	return testservers.Podman(t).Addr
}

// engineClient returns a client of the shared engine for the test's own
// checks.
func engineClient(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(client.WithHost(engineAddr(t)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// randomHex returns 8 random hex digits.
func randomHex(t testing.TB) string {
	var b [4]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return hex.EncodeToString(b[:])
}

// uniqueLabel returns a config label no other test uses.
func uniqueLabel(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.Name())
	return "test-" + name + "-" + randomHex(t)
}

// newRunner returns a Runner configured for the shared engine with a label
// of its own, shut down when the test ends.
func newRunner(t testing.TB) *Runner {
	t.Helper()
	addr := engineAddr(t)
	r := New()
	require.NoError(t, r.Configure(configValues(t, map[string]any{"host": addr, "label": uniqueLabel(t)})))
	t.Cleanup(func() { require.NoError(t, r.Shutdown()) })
	return r
}

// configValues returns an sdk.Config holding values as JSON.
func configValues(t testing.TB, values map[string]any) *sdk.Config {
	t.Helper()
	return &sdk.Config{APIVersion: 1, Values: mustJSON(t, values)}
}

// mustJSON marshals v.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// processConfig returns the config of a process named after the test that
// runs command (nil: the image's) in the test image with extra settings.
// It has no network unless the settings give one (nil: the engine's
// default): a bridge network costs seconds per container here.
func processConfig(t testing.TB, command []string, settings map[string]any) *sdk.ProcessConfig {
	t.Helper()
	s := map[string]any{"image": testImage, "pull": "never", "network": "none"}
	for k, v := range settings {
		s[k] = v
	}
	name := strings.ReplaceAll(t.Name(), "/", "_")
	return &sdk.ProcessConfig{Name: name, Command: command, Settings: configValues(t, s)}
}

// collector drains a stream in the background (sdktest.Output).
type collector struct{ *sdktest.Output }

func collect(r io.Reader) *collector { return &collector{sdktest.Collect(r)} }

func (c *collector) contains(s string) bool { return c.Contains(s) }

// all waits for EOF and returns everything read.
func (c *collector) all(t testing.TB) string {
	t.Helper()
	return c.All(t, waitFor)
}

// started is a container under test with its output being collected.
type started struct {
	*Process
	stdout, stderr *collector
}

// start starts cfg on r; the runner's Shutdown removes it if the test
// leaves it running.
func start(t testing.TB, r *Runner, cfg *sdk.ProcessConfig) *started {
	t.Helper()
	p, err := r.Start(context.Background(), cfg)
	require.NoError(t, err)
	proc := p.(*Process)
	return &started{Process: proc, stdout: collect(p.Stdout()), stderr: collect(p.Stderr())}
}

// wait waits for the process, failing the test if it takes too long.
func (s *started) wait(t testing.TB) error {
	t.Helper()
	select {
	case <-s.done:
		return s.Wait()
	case <-time.After(waitFor):
		t.Fatalf("container %s did not finish", s.name)
		return nil
	}
}

// containerGone reports whether the engine no longer knows the container.
func containerGone(t testing.TB, c *client.Client, id string) bool {
	t.Helper()
	gone, err := isGone(context.Background(), c, id)
	require.NoError(t, err)
	return gone
}

// sh returns the argv running script in the container's shell.
func sh(script string) []string { return []string{"sh", "-c", script} }
