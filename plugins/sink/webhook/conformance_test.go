package webhook

import (
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
)

// TestConformance runs the SDK's sink conformance suite against the
// webhook sink, through the gRPC adapters as prox uses it, with a real
// webhook on loopback. Flush returns once the webhook has accepted what
// the spool holds, so the alerts are there to read. Configured to alert
// on every event of the suite, without cooldown, the alerts it receives
// tell back the events.
func TestConformance(t *testing.T) {
	hooks := map[sdk.Sink]*webhook{}
	sdktest.SinkSuite(t, func(t *testing.T) sdk.Sink {
		w := newWebhook(t)
		s := New()
		sdktest.Configure(t, s, map[string]any{
			"url": w.URL + "/alerts", "events": []string{"started", "exited", "crashed"}, "cooldown": "0",
			"spool": t.TempDir(),
		})
		hooks[s] = w
		return s
	}, sdktest.SinkSuiteOptions{
		ReadEvents: func(t *testing.T, s sdk.Sink) []sdk.Event {
			var events []sdk.Event
			for _, a := range hooks[s].jsonAlerts(t) {
				if a.Event == nil {
					t.Fatalf("alert without an event: %+v", a)
				}
				e := a.Event
				events = append(events, sdk.Event{
					Timestamp: e.Time, Process: a.Process, Type: sdk.EventType(e.Type), State: sdk.ProcessState(e.State), PreviousState: sdk.ProcessState(e.PreviousState),
					ExitCode: e.ExitCode, Signal: e.Signal, Message: e.Message, Restarts: e.Restarts,
				})
			}
			return events
		},
	})
}
