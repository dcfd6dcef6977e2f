package control

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prox-dev/prox/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveShutdown serves inst's supervisor on a socket of its own, with
// shutdown as Options.Shutdown.
func serveShutdown(t *testing.T, inst *instance, shutdown func(context.Context) error) *Client {
	t.Helper()
	ln, err := Listen(filepath.Join(t.TempDir(), "s.sock"))
	require.NoError(t, err)
	srv := Serve(ln, Options{Supervisor: inst.sup, Logs: inst.logs, Shutdown: shutdown})
	client := NewClient(ln.Path())
	t.Cleanup(func() {
		client.Close()
		require.NoError(t, srv.Close(context.Background()))
	})
	return client
}

// POST /v1/shutdown stops through Options.Shutdown and answers, once every
// process has ended, with how each ended: what the supervisor says, not a
// guess.
func TestShutdownReportsHowEachProcessEnded(t *testing.T) {
	inst := startInstance(t,
		sh("polite", ticker("polite")),
		sh("stubborn", `trap "" TERM; echo ready; while :; do sleep 0.05; done`),
		sh("done", "exit 3"),
	)
	inst.waitState(t, "polite", supervisor.StateRunning)
	inst.waitLines(t, "stubborn", 1)
	inst.waitState(t, "done", supervisor.StateCrashed)
	var calls atomic.Int32
	client := serveShutdown(t, inst, func(ctx context.Context) error {
		calls.Add(1)
		ctx, cancel := context.WithCancel(ctx)
		// The stubborn one gets SIGKILL at once rather than after 5 s.
		go func() {
			defer cancel()
			for ctx.Err() == nil {
				if p, _ := inst.sup.Process("polite"); p.State == supervisor.StateStopped {
					return
				}
				time.Sleep(tick)
			}
		}()
		return inst.sup.Stop(ctx)
	})

	rep, err := client.Shutdown(testContext(t))
	require.NoError(t, err)
	assert.Equal(t, int32(1), calls.Load())
	assert.Equal(t, os.Getpid(), rep.PID)
	require.Len(t, rep.Processes, 3)
	byName := map[string]Process{}
	for _, p := range rep.Processes {
		byName[p.Name] = p
	}
	assert.Equal(t, "stopped", byName["polite"].State)
	require.NotNil(t, byName["polite"].LastExit)
	assert.Equal(t, "SIGTERM", byName["polite"].LastExit.Signal)
	require.NotNil(t, byName["stubborn"].LastExit)
	assert.Equal(t, "SIGKILL", byName["stubborn"].LastExit.Signal)
	require.NotNil(t, byName["done"].LastExit)
	assert.Equal(t, 3, byName["done"].LastExit.Code, "an exit before the shutdown is how that process ended")
}

func TestShutdownWithoutAHookIsNotImplemented(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"))
	status, body, _ := rawRequest(t, inst.socket, http.MethodPost, "/v1/shutdown", "")
	assert.Equal(t, http.StatusNotImplemented, status)
	assert.Equal(t, CodeNotImplemented, body.Error.Code)
	info, err := inst.sup.Process("a")
	require.NoError(t, err)
	assert.NotEqual(t, supervisor.StateStopped, info.State, "nothing was stopped")
}

// A client that stops waiting leaves the shutdown going; the server
// answers it with the context's error.
func TestShutdownCancelledWaitIsUnavailable(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"))
	client := serveShutdown(t, inst, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := client.Shutdown(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}
