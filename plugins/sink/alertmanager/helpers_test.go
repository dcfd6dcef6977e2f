package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/plugins/sink/internal/alerting"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/require"
)

const (
	waitFor = 15 * time.Second
	tick    = 10 * time.Millisecond
)

// receiver is a real HTTP server on loopback standing in for an
// Alertmanager's API where the test needs to choose the answers: it
// records the alerts POSTed to /api/v2/alerts and answers what respond
// says (200 by default). It can go away and come back on its address.
type receiver struct {
	URL     string
	addr    string
	respond func(alerts []postableAlert) (int, string)

	mu       sync.Mutex
	srv      *httptest.Server
	requests [][]postableAlert
	// keys are the requests' Idempotency-Key headers.
	keys []string
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL, r.addr = r.srv.URL, r.srv.Listener.Addr().String()
	t.Cleanup(r.stop)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if req.Method != http.MethodPost || req.URL.Path != APIPath {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var alerts []postableAlert
	if err := json.Unmarshal(body, &alerts); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.requests = append(r.requests, alerts)
	r.keys = append(r.keys, req.Header.Get(alerting.IdempotencyHeader))
	respond := r.respond
	r.mu.Unlock()
	status, text := http.StatusOK, ""
	if respond != nil {
		status, text = respond(alerts)
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text)
}

func (r *receiver) stop() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (r *receiver) restart(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", r.addr)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	require.NoError(t, srv.Listener.Close())
	srv.Listener = l
	srv.Start()
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
}

// alerts returns every alert received, in order.
func (r *receiver) alerts() []postableAlert {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []postableAlert
	for _, req := range r.requests {
		out = append(out, req...)
	}
	return out
}

// received returns the requests received, each with its Idempotency-Key.
func (r *receiver) received() ([][]postableAlert, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]postableAlert(nil), r.requests...), append([]string(nil), r.keys...)
}

// count returns how many alerts for process were received.
func (r *receiver) count(process string) int {
	n := 0
	for _, a := range r.alerts() {
		if a.Labels["process"] == process {
			n++
		}
	}
	return n
}

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

// newSink returns a configured sink logging to the returned buffer,
// closed when the test ends; its spool is the test's unless values name
// one.
func newSink(t *testing.T, values map[string]any) (*Sink, *logBuffer) {
	t.Helper()
	if _, ok := values["spool"]; !ok {
		values["spool"] = t.TempDir()
	}
	logs := &logBuffer{}
	s := New()
	s.logger = hclog.New(&hclog.LoggerOptions{Name: "sink.alertmanager", Level: hclog.Trace, JSONFormat: true, Output: logs})
	sdktest.Configure(t, s, values)
	t.Cleanup(func() {
		_ = s.Close(context.Background())
		if t.Failed() {
			t.Logf("sink logs:\n%s", logs)
		}
	})
	return s, logs
}

var seq uint64 = 1

// write writes a batch and flushes.
func write(t *testing.T, s *Sink, entries []sdk.LogEntry, events ...sdk.Event) {
	t.Helper()
	seq++
	require.NoError(t, s.Write(context.Background(), &sdk.Batch{Seq: seq, Entries: entries, Events: events}))
	require.NoError(t, s.Flush(context.Background()))
}

func line(process, text string) sdk.LogEntry {
	return sdk.LogEntry{Timestamp: time.Now(), Process: process, Stream: sdk.Stdout, Line: []byte(text)}
}

func event(process string, typ sdk.EventType, state sdk.ProcessState, code int) sdk.Event {
	return sdk.Event{Timestamp: time.Now(), Process: process, Type: typ, State: state, ExitCode: code}
}

func crashed(process string) sdk.Event {
	return event(process, sdk.EventCrashed, sdk.StateCrashed, 3)
}

func started(process string) sdk.Event {
	return event(process, sdk.EventStarted, sdk.StateRunning, 0)
}
