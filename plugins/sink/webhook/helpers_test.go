package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
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
	// At is when it arrived.
	At time.Time
}

// webhook is a real HTTP server on loopback that records requests and
// answers with the statuses it is told to, then 200. It can go away and
// come back on the same address (stop, restart).
type webhook struct {
	URL  string
	addr string
	// respond, when set, answers instead of the statuses: given the
	// request, it returns the status.
	respond func(request) int

	mu       sync.Mutex
	srv      *httptest.Server
	requests []request
	statuses []int
}

// newWebhook starts a webhook that answers statuses in turn, then 200. It
// is closed when the test ends.
func newWebhook(t *testing.T, statuses ...int) *webhook {
	t.Helper()
	w := &webhook{statuses: statuses}
	w.srv = httptest.NewServer(http.HandlerFunc(w.serve))
	w.URL, w.addr = w.srv.URL, w.srv.Listener.Addr().String()
	t.Cleanup(w.stop)
	return w
}

func (w *webhook) serve(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rw.WriteHeader(http.StatusBadRequest)
		return
	}
	req := request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, At: time.Now()}
	w.mu.Lock()
	w.requests = append(w.requests, req)
	status := http.StatusOK
	switch {
	case w.respond != nil:
		status = w.respond(req)
	case len(w.statuses) > 0:
		status, w.statuses = w.statuses[0], w.statuses[1:]
	}
	w.mu.Unlock()
	rw.WriteHeader(status)
}

// stop makes the webhook go away: its address refuses connections until
// restart.
func (w *webhook) stop() {
	w.mu.Lock()
	srv := w.srv
	w.srv = nil
	w.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// restart makes the webhook come back on its address and returns when it
// listens again.
func (w *webhook) restart(t *testing.T) time.Time {
	t.Helper()
	l, err := net.Listen("tcp", w.addr)
	require.NoError(t, err, "listening again on %s", w.addr)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(w.serve))
	require.NoError(t, srv.Listener.Close())
	srv.Listener = l
	back := time.Now()
	srv.Start()
	w.mu.Lock()
	w.srv = srv
	w.mu.Unlock()
	return back
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
// schema, null unless set in values, a duration (written as in HCL; empty
// is unset) in nanoseconds. Other values go as they are, mistyped ones too.
func hostConfig(t *testing.T, values map[string]any) *sdk.Config {
	t.Helper()
	all := map[string]any{}
	types := map[string]string{}
	for _, a := range schema.Attributes {
		all[a.Name] = nil
		types[a.Name] = a.Type
	}
	for k, v := range values {
		_, known := all[k]
		require.True(t, known, "attribute %q is not in the schema", k)
		if s, ok := v.(string); ok && types[k] == sdk.TypeDuration {
			v = nil
			if s != "" {
				d, err := time.ParseDuration(s)
				require.NoError(t, err, "the host refuses %s = %q", k, s)
				v = int64(d)
			}
		}
		all[k] = v
	}
	b, err := json.Marshal(all)
	require.NoError(t, err)
	return &sdk.Config{APIVersion: 1, Values: b}
}

// newSink returns a configured sink whose logs (all levels) go to the
// returned buffer; it is closed when the test ends. Its spool is a
// folder of the test's unless values name one.
func newSink(t *testing.T, values map[string]any) (*Sink, *logBuffer) {
	t.Helper()
	if _, ok := values["spool"]; !ok {
		values["spool"] = t.TempDir()
	}
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
	return sdk.Event{Timestamp: at(i), Process: process, Type: "crashed", State: "crashed", PreviousState: "running", ExitCode: 1}
}

// write writes b and flushes: what it raised is delivered when write
// returns, unless the webhook failed.
func write(t *testing.T, s *Sink, b *sdk.Batch) {
	t.Helper()
	require.NoError(t, s.Write(context.Background(), b))
	require.NoError(t, s.Flush(context.Background()))
}

// spoolRecords returns the names of the records in a spool folder.
func spoolRecords(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.alert"))
	require.NoError(t, err)
	return names
}
