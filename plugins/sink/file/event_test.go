package file

import (
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
)

func TestEventLine(t *testing.T) {
	tests := []struct {
		ev   sdk.Event
		want string
	}{
		{sdk.Event{Process: "web", Type: "started", State: "running"}, "--- prox: process web running"},
		{sdk.Event{Process: "web", Type: "started"}, "--- prox: process web started"},
		{sdk.Event{Process: "web", State: "crashed", ExitCode: 1}, "--- prox: process web crashed (exit 1)"},
		{sdk.Event{Process: "web", State: "crashed", ExitCode: -1, Signal: "SIGKILL", Restarts: 3}, "--- prox: process web crashed (signal SIGKILL, restarts 3)"},
		{sdk.Event{Process: "web", State: "backoff", Restarts: 2}, "--- prox: process web backoff (restarts 2)"},
		{sdk.Event{Process: "web", State: "failed", Message: "restart limit reached"}, "--- prox: process web failed: restart limit reached"},
		{sdk.Event{Process: "web", State: "failed", Message: "a\r\nb"}, "--- prox: process web failed: a  b"},
		{sdk.Event{Process: "web"}, "--- prox: process web changed"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, string(appendEvent(nil, &tt.ev)))
	}
}
