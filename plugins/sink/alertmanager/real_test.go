package alertmanager

import (
	"testing"
	"time"

	"github.com/prox-dev/prox/internal/testservers"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// firingIn returns the alert of process that am lists, or nil.
func firingIn(t *testing.T, am *testservers.Server, process string) *testservers.Alert {
	t.Helper()
	for _, a := range am.Alerts(t) {
		if a.Labels["process"] == process {
			return &a
		}
	}
	return nil
}

// TestRealAlertmanagersShowACrashUntilRecovery pushes a crash to a cluster
// of two real Alertmanagers (Debian prometheus-alertmanager, each a
// private instance on loopback): each lists it as active with its labels
// and annotations, sees it resent (its endsAt moves on), and no longer
// lists it once the process has started again.
func TestRealAlertmanagersShowACrashUntilRecovery(t *testing.T) {
	a, b := testservers.StartAlertmanager(t), testservers.StartAlertmanager(t)
	s, _ := newSink(t, map[string]any{"urls": []string{a.URL, b.URL}, "labels": map[string]string{"team": "core"}, "resend_interval": "1s"})

	write(t, s, []sdk.LogEntry{line("web", "listening"), line("web", "panic: oops")}, crashed("web"))
	var first [2]*testservers.Alert
	for i, am := range []*testservers.Server{a, b} {
		require.Eventually(t, func() bool { first[i] = firingIn(t, am, "web"); return first[i] != nil }, waitFor, tick,
			"alertmanager %d lists the crash", i+1)
		got := first[i]
		assert.Equal(t, "active", got.Status.State)
		assert.Equal(t, "ProxProcessCrashed", got.Labels["alertname"])
		assert.Equal(t, "core", got.Labels["team"])
		assert.NotEmpty(t, got.Labels["host"])
		assert.Equal(t, "listening\npanic: oops", got.Annotations["last_lines"])
		assert.Equal(t, "exit code 3", got.Annotations["reason"])
	}
	// Resent every second, each time with endsAt 4 s ahead.
	require.Eventually(t, func() bool {
		got := firingIn(t, a, "web")
		return got != nil && got.EndsAt.After(first[0].EndsAt.Add(time.Second))
	}, waitFor, 50*time.Millisecond, "the firing alert is resent")

	write(t, s, nil, started("web"))
	for i, am := range []*testservers.Server{a, b} {
		require.Eventually(t, func() bool { return firingIn(t, am, "web") == nil }, waitFor, tick, "alertmanager %d: resolved", i+1)
	}
}
