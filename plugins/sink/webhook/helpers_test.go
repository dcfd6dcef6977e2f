package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/require"
)

const (
	waitFor = 10 * time.Second
	tick    = 10 * time.Millisecond
)

// request is what the test webhook received.
type request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// webhook is a real HTTP server on loopback that records requests and
// answers with the statuses it is told to, then 200.
type webhook struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
	statuses []int
}

// newWebhook starts a webhook that answers statuses in turn, then 200. It
// is closed when the test ends.
func newWebhook(t *testing.T, statuses ...int) *webhook {
	t.Helper()
	w := &webhook{statuses: statuses}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.requests = append(w.requests, request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		status := http.StatusOK
		if len(w.statuses) > 0 {
			status, w.statuses = w.statuses[0], w.statuses[1:]
		}
		w.mu.Unlock()
		rw.WriteHeader(status)
	}))
	t.Cleanup(w.Close)
	return w
}

func (w *webhook) received() []request {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]request(nil), w.requests...)
}

// jsonAlerts decodes the alerts of every "json" request received so far.
func (w *webhook) jsonAlerts(t *testing.T) []jsonAlert {
	t.Helper()
	var out []jsonAlert
	for _, r := range w.received() {
		var b jsonBody
		require.NoError(t, json.Unmarshal(r.Body, &b), string(r.Body))
		out = append(out, b.Alerts...)
	}
	return out
}

// logBuffer collects a logger's output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// hostConfig builds the values the host delivers: every attribute of the
// schema, null unless set in values.
func hostConfig(t *testing.T, values map[string]any) *sdk.Config {
	t.Helper()
	all := map[string]any{}
	for _, a := range schema.Attributes {
		all[a.Name] = nil
	}
	for k, v := range values {
		_, known := all[k]
		require.True(t, known, "attribute %q is not in the schema", k)
		all[k] = v
	}
	b, err := json.Marshal(all)
	require.NoError(t, err)
	return &sdk.Config{APIVersion: 1, Values: b}
}

// newSink returns a configured sink whose logs (all levels) go to the
// returned buffer; it is closed when the test ends.
func newSink(t *testing.T, values map[string]any) (*Sink, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	s := New()
	s.logger = hclog.New(&hclog.LoggerOptions{Name: "sink.webhook", Level: hclog.Trace, JSONFormat: true, Output: logs})
	require.NoError(t, s.Configure(hostConfig(t, values)))
	t.Cleanup(func() {
		_ = s.Close(context.Background())
		if t.Failed() {
			t.Logf("sink logs:\n%s", logs)
		}
	})
	return s, logs
}

// base is the time of the first line of every test batch.
var base = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

// at is base plus i milliseconds.
func at(i int) time.Time { return base.Add(time.Duration(i) * time.Millisecond) }

func line(process string, i int, text string) sdk.LogEntry {
	return sdk.LogEntry{Timestamp: at(i), Process: process, Stream: sdk.Stdout, Line: []byte(text)}
}

func crashed(process string, i int) sdk.Event {
	return sdk.Event{Timestamp: at(i), Process: process, Type: "exited", State: "crashed", PreviousState: "running", ExitCode: 1}
}

func write(t *testing.T, s *Sink, b *sdk.Batch) {
	t.Helper()
	require.NoError(t, s.Write(context.Background(), b))
}
