package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shortTimeout is the read and idle timeout of the servers of these tests.
const shortTimeout = 300 * time.Millisecond

// serveShort serves inst's supervisor on a second socket with short
// timeouts, and returns that socket.
func serveShort(t *testing.T, inst *instance) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "short.sock")
	ln, err := Listen(sock)
	require.NoError(t, err)
	srv := Serve(ln, Options{Supervisor: inst.sup, Logs: inst.logs, Version: "test", ReadTimeout: shortTimeout, IdleTimeout: shortTimeout})
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	return sock
}

// closedByServer reads conn until the server closes it, which must happen
// before the test's own deadline; it returns what went wrong, else nil.
func closedByServer(conn net.Conn) error {
	if err := conn.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	switch {
	case err == nil, errors.Is(err, syscall.ECONNRESET):
		return nil // EOF or a reset: the server closed the connection
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("the server kept the connection open for %s", waitFor)
	}
	return err
}

// Connections whose request stalls — in its body, or in its header — are
// closed by the server after its read timeout, many at once.
func TestStalledRequestsAreClosed(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"))
	inst.waitState(t, "a", supervisor.StateRunning)
	sock := serveShort(t, inst)
	stalls := []string{
		// A body the handler reads.
		"POST /v1/processes/a/signal HTTP/1.1\r\nHost: prox\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"sig",
		// A body the handler does not read.
		"POST /v1/processes/nope/stop HTTP/1.1\r\nHost: prox\r\nContent-Length: 100\r\n\r\nxx",
		// A header that never ends.
		"GET /v1/status HTTP/1.1\r\nHost: prox\r\n",
	}
	const perKind = 50
	var wg sync.WaitGroup
	for _, stall := range stalls {
		for range perKind {
			conn, err := net.Dial("unix", sock)
			require.NoError(t, err)
			t.Cleanup(func() { conn.Close() })
			_, err = io.WriteString(conn, stall)
			require.NoError(t, err)
			wg.Go(func() { assert.NoError(t, closedByServer(conn)) })
		}
	}
	wg.Wait()
	p, err := inst.sup.Process("a")
	require.NoError(t, err)
	assert.Equal(t, supervisor.StateRunning, p.State, "the stalled signal was never sent")
}

// Idle keep-alive connections are closed by the server after its idle
// timeout.
func TestIdleConnectionsAreClosed(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"))
	sock := serveShort(t, inst)
	const conns = 50
	var wg sync.WaitGroup
	for range conns {
		conn, err := net.Dial("unix", sock)
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		_, err = io.WriteString(conn, "GET /v1/status HTTP/1.1\r\nHost: prox\r\n\r\n")
		require.NoError(t, err)
		br := bufio.NewReader(conn)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(waitFor)))
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.False(t, resp.Close, "the connection is kept alive")
		wg.Go(func() { assert.NoError(t, closedByServer(conn)) })
	}
	wg.Wait()
}

// The streams outlive the read timeout: it bounds reading the request,
// not the answer.
func TestStreamsOutliveTheReadTimeout(t *testing.T) {
	inst := startInstance(t, sh("t", ticker("t")), sh("a", "sleep 60"))
	inst.waitState(t, "a", supervisor.StateRunning)
	sock := serveShort(t, inst)
	client := NewClient(sock)
	defer client.Close()
	ctx := testContext(t)

	events, err := client.FollowEvents(ctx)
	require.NoError(t, err)
	defer events.Close()
	follow, err := client.FollowLogs(ctx, LogQuery{Processes: []string{"t"}})
	require.NoError(t, err)
	defer follow.Close()

	// Lines keep coming for many read timeouts.
	start := time.Now()
	n := 0
	for time.Since(start) < 5*shortTimeout {
		m, err := follow.Next()
		require.NoError(t, err, "the follow stream ended after %s and %d lines", time.Since(start), n)
		require.NotNil(t, m.Line)
		n++
	}
	// The events stream, idle all that time, still delivers.
	_, err = client.Restart(ctx, "a")
	require.NoError(t, err)
	for {
		ev, err := events.Next()
		require.NoError(t, err, "the events stream ended after %s", time.Since(start))
		if ev.Process == "a" && ev.To == string(supervisor.StateRunning) {
			break
		}
	}
}
