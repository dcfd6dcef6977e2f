package control

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prox-dev/prox/logs"
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

// POST /v1/shutdown?drained=true answers once prox has also drained its
// sinks (Options.Drained), with each sink's final counts: what a sink
// could not deliver within its drain timeout, and why. prox down prints
// it, since a prox in the background logs it where nobody looks.
func TestShutdownDrainedReportsWhatEachSinkCouldNotDeliver(t *testing.T) {
	// w writes once the sink is attached.
	inst := startInstance(t, sh("w", `while [ ! -e go ]; do sleep 0.01; done; i=0; while [ $i -lt 50 ]; do echo "line $i"; i=$((i+1)); done; sleep 60`))
	disk := &fullDisk{}
	require.NoError(t, inst.logs.AttachSink("file.small", []string{"w"}, disk, logs.SinkOptions{
		RetryMin: time.Millisecond, RetryMax: 20 * time.Millisecond, DrainTimeout: 100 * time.Millisecond,
	}))
	require.NoError(t, os.WriteFile(filepath.Join(inst.dir, "go"), nil, 0o644))
	inst.waitLines(t, "w", 50)
	require.Eventually(t, func() bool {
		sinks, err := inst.client.Sinks(testContext(t))
		return err == nil && len(sinks) == 1 && sinks[0].Queued == 50 && sinks[0].State == "failing"
	}, waitFor, tick, "every line waits for the failing sink")

	ln, err := Listen(filepath.Join(t.TempDir(), "s.sock"))
	require.NoError(t, err)
	var drains atomic.Int32
	srv := Serve(ln, Options{Supervisor: inst.sup, Logs: inst.logs,
		Shutdown: func(ctx context.Context) error {
			inst.logs.Stopping()
			return inst.sup.Stop(ctx)
		},
		Drained: func(ctx context.Context) error {
			drains.Add(1)
			_ = inst.logs.Close(ctx) // what prox does once the processes have ended
			return nil
		}})
	client := NewClient(ln.Path())
	t.Cleanup(func() {
		client.Close()
		require.NoError(t, srv.Close(context.Background()))
	})

	// A bad value is refused before anything stops.
	status, body, _ := rawRequest(t, ln.Path(), http.MethodPost, "/v1/shutdown?drained=maybe", "")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, CodeInvalidArgument, body.Error.Code)
	assert.Contains(t, body.Error.Message, `invalid drained "maybe"`)
	info, err := inst.sup.Process("w")
	require.NoError(t, err)
	assert.Equal(t, supervisor.StateRunning, info.State, "nothing was stopped")

	rep, err := client.ShutdownDrained(testContext(t))
	require.NoError(t, err)
	assert.Equal(t, int32(1), drains.Load())
	require.Len(t, rep.Processes, 1)
	assert.Equal(t, "stopped", rep.Processes[0].State)
	require.Len(t, rep.Sinks, 1)
	s := rep.Sinks[0]
	assert.Equal(t, "file.small", s.Name)
	assert.Equal(t, "closed", s.State)
	assert.EqualValues(t, 50, s.Undelivered, "every line was given up on")
	assert.Contains(t, s.LastError, "no space left on device")
}
