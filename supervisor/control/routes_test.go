package control

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/prox-dev/prox/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawRequest sends "METHOD URI HTTP/1.1" as written, with body, on a new
// connection to socket, and returns the answer's status and error body.
func rawRequest(t *testing.T, socket, method, uri, body string) (int, errorBody, http.Header) {
	t.Helper()
	conn, err := net.Dial("unix", socket)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(waitFor)))
	_, err = fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: prox\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", method, uri, len(body), body)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var eb errorBody
	_ = json.Unmarshal(b, &eb)
	return resp.StatusCode, eb, resp.Header
}

// A name in a path is the one segment it is: no path cleaning, and no
// redirect, takes a request to another route or another process.
func TestPathsAreMatchedExactly(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"), sh("b", "sleep 60"))
	a := inst.waitState(t, "a", supervisor.StateRunning)
	b := inst.waitState(t, "b", supervisor.StateRunning)

	unknown := []struct{ method, uri, name string }{
		{"POST", "/v1/processes/../stop", ".."},
		{"POST", "/v1/processes/./stop", "."},
		{"POST", "/v1/processes/%2e%2e/stop", ".."},
		{"POST", "/v1/processes/%2E%2E/restart", ".."},
		{"POST", "/v1/processes/../start", ".."},
		{"POST", "/v1/processes/../signal", ".."},
		{"POST", "/v1/processes/a%2Fb/stop", "a/b"},
		{"POST", "/v1/processes/%2F/stop", "/"},
		{"POST", "/v1/processes/a%2F..%2Fb/stop", "a/../b"},
		{"GET", "/v1/processes/..", ".."},
		{"GET", "/v1/processes/.", "."},
		{"GET", "/v1/processes/%2e", "."},
		{"POST", "/v1/groups/%2e%2e/stop", ".."},
		{"POST", "/v1/groups/%2E/restart", "."},
		{"POST", "/v1/groups/a%2Fb/start", "a/b"},
	}
	for _, tt := range unknown {
		t.Run(tt.method+" "+tt.uri, func(t *testing.T) {
			status, eb, hdr := rawRequest(t, inst.socket, tt.method, tt.uri, `{"signal":"KILL"}`)
			assert.Empty(t, hdr.Get("Location"), "no redirect")
			assert.Equal(t, http.StatusNotFound, status)
			assert.Equal(t, CodeUnknownProcess, eb.Error.Code)
			assert.Contains(t, eb.Error.Message, strconv.Quote(tt.name))
		})
	}
	noRoute := []struct{ method, uri string }{
		{"POST", "/v1/processes/a/../b/stop"},
		{"POST", "/v1/processes/b/stop/../../a/stop"},
		{"POST", "/v1/processes/a/b/stop"},
		{"POST", "/v1/processes/../../v1/stop"},
		{"POST", "/v1/processes/a/../../stop"},
		{"POST", "//v1/stop"},
		{"POST", "/v1//stop"},
		{"POST", "/v1/./stop"},
		{"POST", "/v1/x/../stop"},
		{"POST", "/./v1/stop"},
		{"POST", "/v1/stop/"},
		{"POST", "/v1/processes/a/stop/"},
		{"POST", "/v1/processes//stop"},
		{"GET", "/v1/processes/"},
		{"GET", "/v1/processes/a/"},
		{"GET", "/v1/status/.."},
		{"GET", "/v1/logs/../status"},
		{"GET", "*"},
		{"POST", "/v1/groups/../stop"},
		{"POST", "/v1/groups/a/../stop"},
		{"POST", "/v1/groups/a/stop/"},
	}
	for _, tt := range noRoute {
		t.Run(tt.method+" "+tt.uri, func(t *testing.T) {
			status, eb, hdr := rawRequest(t, inst.socket, tt.method, tt.uri, "")
			assert.Empty(t, hdr.Get("Location"), "no redirect")
			assert.Equal(t, http.StatusNotFound, status)
			assert.Equal(t, CodeNotFound, eb.Error.Code)
		})
	}

	for _, want := range []supervisor.ProcessInfo{a, b} {
		got, err := inst.sup.Process(want.Name)
		require.NoError(t, err)
		assert.Equal(t, supervisor.StateRunning, got.State, want.Name)
		assert.Equal(t, want.PID, got.PID, "%s was not touched", want.Name)
	}

	// The exact path still works, escaped or not.
	status, _, _ := rawRequest(t, inst.socket, "POST", "/v1/processes/%61/stop", "")
	assert.Equal(t, http.StatusOK, status)
	inst.waitState(t, "a", supervisor.StateStopped)
	got, err := inst.sup.Process("b")
	require.NoError(t, err)
	assert.Equal(t, b.PID, got.PID, "b was not touched")
}

// prox stop .. reaches no process, through the real client, on the
// process routes and on the group routes.
func TestStopDotDotStopsNothing(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"), sh("b", "sleep 60"))
	inst.waitState(t, "a", supervisor.StateRunning)
	inst.waitState(t, "b", supervisor.StateRunning)
	ctx := testContext(t)
	for _, call := range []func(string) error{
		func(n string) error { _, err := inst.client.Stop(ctx, n); return err },
		func(n string) error { _, err := inst.client.Restart(ctx, n); return err },
		func(n string) error { _, err := inst.client.Signal(ctx, n, "KILL"); return err },
		func(n string) error { _, err := inst.client.Group(ctx, "stop", n, false); return err },
		func(n string) error { _, err := inst.client.Group(ctx, "restart", n, true); return err },
	} {
		for _, name := range []string{"..", ".", "a/..", "../a"} {
			err := call(name)
			assert.True(t, IsCode(err, CodeUnknownProcess), "%q: %v", name, err)
			assert.Contains(t, err.Error(), strconv.Quote(name))
		}
	}
	for _, n := range []string{"a", "b"} {
		p, err := inst.sup.Process(n)
		require.NoError(t, err)
		assert.Equal(t, supervisor.StateRunning, p.State, n)
		assert.Zero(t, p.Restarts, n)
	}
}

func TestProcessRoutesMethodsAndActions(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"))
	for _, tt := range []struct {
		method, uri string
		status      int
		code, allow string
	}{
		{"GET", "/v1/processes/a/stop", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "POST"},
		{"DELETE", "/v1/processes/a/signal", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "POST"},
		{"POST", "/v1/processes/a", http.StatusMethodNotAllowed, CodeMethodNotAllowed, "GET, HEAD"},
		{"POST", "/v1/processes/a/kill", http.StatusNotFound, CodeNotFound, ""},
		{"POST", "/v1/processes/a/%73top", http.StatusNotFound, CodeNotFound, ""},
	} {
		status, eb, hdr := rawRequest(t, inst.socket, tt.method, tt.uri, "")
		assert.Equal(t, tt.status, status, "%s %s", tt.method, tt.uri)
		assert.Equal(t, tt.code, eb.Error.Code, "%s %s", tt.method, tt.uri)
		assert.Equal(t, tt.allow, hdr.Get("Allow"), "%s %s", tt.method, tt.uri)
	}
	p, err := inst.sup.Process("a")
	require.NoError(t, err)
	assert.Equal(t, supervisor.StateRunning, p.State)
}
