package control

import (
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawServer is an HTTP server on a unix socket that answers every request
// with handler and records the request URIs it saw.
type rawServer struct {
	socket string
	mu     sync.Mutex
	uris   []string
}

func startRawServer(t *testing.T, handler http.HandlerFunc) *rawServer {
	t.Helper()
	rs := &rawServer{socket: filepath.Join(t.TempDir(), "raw.sock")}
	ln, err := net.Listen("unix", rs.socket)
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.mu.Lock()
		rs.uris = append(rs.uris, r.Method+" "+r.RequestURI)
		rs.mu.Unlock()
		handler(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return rs
}

func (rs *rawServer) seen() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]string(nil), rs.uris...)
}

// A redirect is an error naming it, never followed: following
// /v1/processes/../stop to /v1/stop stopped every process.
func TestClientNeverFollowsRedirects(t *testing.T) {
	rs := startRawServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/stop" || r.URL.Path == "/v1/events" || r.URL.Path == "/v1/processes" {
			writeJSON(w, http.StatusOK, []Process{})
			return
		}
		target := "/v1/stop"
		if r.Method == http.MethodGet {
			target = "/v1/processes"
		}
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	})
	c := NewClient(rs.socket)
	defer c.Close()
	ctx := testContext(t)

	_, err := c.Stop(ctx, "web")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "redirect")
	assert.Contains(t, err.Error(), "/v1/stop")
	_, err = c.Process(ctx, "web")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/v1/processes")
	_, err = c.FollowLogs(ctx, LogQuery{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "redirect")
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusTemporaryRedirect, ae.Status)

	assert.Equal(t, []string{
		"POST /v1/processes/web/stop",
		"GET /v1/processes/web",
		"GET /v1/logs/follow?",
	}, rs.seen(), "no redirect was followed")
}

// The names "." and ".." travel as escaped dots, which no path cleaning
// reads as navigation; an empty name is refused before any request.
func TestClientEscapesDotSegments(t *testing.T) {
	rs := startRawServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, Process{})
	})
	c := NewClient(rs.socket)
	defer c.Close()
	ctx := testContext(t)
	for _, name := range []string{"..", ".", "a/b", "...", "a.b"} {
		_, err := c.Stop(ctx, name)
		require.NoError(t, err, name)
	}
	_, err := c.Signal(ctx, "..", "HUP")
	require.NoError(t, err)
	_, err = c.Process(ctx, ".")
	require.NoError(t, err)
	_, err = c.Start(ctx, "")
	require.ErrorContains(t, err, "no process name")
	assert.Equal(t, []string{
		"POST /v1/processes/%2E%2E/stop",
		"POST /v1/processes/%2E/stop",
		"POST /v1/processes/a%2Fb/stop",
		"POST /v1/processes/.../stop",
		"POST /v1/processes/a.b/stop",
		"POST /v1/processes/%2E%2E/signal",
		"GET /v1/processes/%2E",
	}, rs.seen())
}
