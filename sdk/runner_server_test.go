package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The runner server's bookkeeping, seen through the generated client (a
// host built from plugin.proto alone): the round trips through prox's own
// host are internal/pluginhost's tests.

// rawRunner is a fake runner served as Serve serves it, and the generated
// clients of its services.
type rawRunner struct {
	runner *fakeRunner
	rs     *runnerServer
	client proto.RunnerClient
	base   proto.BaseClient
}

func newRawRunner(t *testing.T) *rawRunner {
	t.Helper()
	fr := newFakeRunner(t)
	set, release := componentSet(Info{Plugin: "test", Name: "fake", Kind: KindRunner, Version: "0.0.1", APIVersions: APIVersions}, fr, nil)
	client, server := plugin.TestPluginGRPCConn(t, false, set)
	t.Cleanup(func() {
		server.Stop()
		_ = client.Close()
		release()
	})
	return &rawRunner{runner: fr, rs: set[pluginRunner].(*runnerPlugin).server,
		client: proto.NewRunnerClient(client.Conn), base: proto.NewBaseClient(client.Conn)}
}

// handles returns the handles the runner server still holds.
func (h *rawRunner) handles() []string {
	h.rs.mu.Lock()
	defer h.rs.mu.Unlock()
	var out []string
	for k := range h.rs.handles {
		out = append(out, k)
	}
	return out
}

// start starts the process name and returns its handle.
func (h *rawRunner) start(t *testing.T, name string) string {
	t.Helper()
	resp, err := h.client.Start(context.Background(), &proto.StartRequest{Name: name})
	require.NoError(t, err)
	return resp.Handle
}

// output reads the process's output stream to its end.
func (h *rawRunner) output(t *testing.T, handle string) {
	t.Helper()
	stream, err := h.client.Output(context.Background(), &proto.OutputRequest{Handle: handle})
	require.NoError(t, err)
	_, err = await(t, async(func() (struct{}, error) {
		for {
			if _, err := stream.Recv(); err != nil {
				if errors.Is(err, io.EOF) {
					return struct{}{}, nil
				}
				return struct{}{}, err
			}
		}
	}), "the output stream")
	require.NoError(t, err)
}

// wait delivers the process's exit status.
func (h *rawRunner) wait(t *testing.T, handle string) *proto.WaitResponse {
	t.Helper()
	resp, err := await(t, async(func() (*proto.WaitResponse, error) {
		return h.client.Wait(context.Background(), &proto.WaitRequest{Handle: handle})
	}), "Wait")
	require.NoError(t, err)
	return resp
}

func TestRunnerServerStartErrorKeepsNoHandle(t *testing.T) {
	h := newRawRunner(t)
	h.runner.startErr = errors.New(`image "busybox:nope" not found`)
	_, err := h.client.Start(context.Background(), &proto.StartRequest{Name: "web"})
	require.Error(t, err)
	assert.Contains(t, status.Convert(err).Message(), `image "busybox:nope" not found`)
	assert.Empty(t, h.handles())
}

func TestRunnerServerForgetsAHandleAfterOutputAndWait(t *testing.T) {
	t.Run("wait-first", func(t *testing.T) {
		h := newRawRunner(t)
		handle := h.start(t, "p")
		fp := h.runner.proc(t, "p")
		// The process exits, but a child still holds its output open.
		fp.finish(nil)
		h.wait(t, handle)
		require.Len(t, h.handles(), 1, "released before the output ended")
		fp.closeOutput()
		h.output(t, handle)
		require.Empty(t, h.handles())
	})
	t.Run("output-first", func(t *testing.T) {
		h := newRawRunner(t)
		handle := h.start(t, "p")
		h.runner.proc(t, "p").exit(nil)
		h.output(t, handle)
		require.Len(t, h.handles(), 1, "released before Wait was delivered")
		h.wait(t, handle)
		require.Empty(t, h.handles())
		// A forgotten handle is unknown: the host's Signal after the exit
		// relies on it.
		_, err := h.client.Signal(context.Background(), &proto.SignalRequest{Handle: handle, Signal: "SIGTERM"})
		assert.Equal(t, codes.NotFound, status.Code(err))
	})
}

func TestRunnerServerShutdownKillsEverything(t *testing.T) {
	h := newRawRunner(t)
	names := []string{"a", "b", "c"}
	handles := map[string]string{}
	for _, n := range names {
		handles[n] = h.start(t, n)
	}
	require.Len(t, h.handles(), 3)
	_, err := h.base.Shutdown(context.Background(), &proto.ShutdownRequest{})
	require.NoError(t, err)
	for _, n := range names {
		assert.Equal(t, syscall.SIGKILL, h.runner.proc(t, n).nextSignal(t), n)
		h.output(t, handles[n])
		resp := h.wait(t, handles[n])
		assert.Equal(t, "SIGKILL", resp.Signal)
	}
	require.Empty(t, h.handles())
}

// A host that gives up on a process's output (cancels its Output call)
// releases the handle, although the process's reader still waits on an
// open stream.
func TestRunnerServerCancelledOutputReleasesTheHandle(t *testing.T) {
	h := newRawRunner(t)
	handle := h.start(t, "p")
	fp := h.runner.proc(t, "p")
	fp.finish(nil) // the output stays open
	h.wait(t, handle)
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := h.client.Output(ctx, &proto.OutputRequest{Handle: handle})
	require.NoError(t, err)
	go func() { _, _ = fp.outW.Write([]byte("before\n")) }()
	chunk, err := stream.Recv()
	require.NoError(t, err)
	assert.Equal(t, "before\n", string(chunk.Data))
	require.Len(t, h.handles(), 1, "the output holds the handle")
	cancel()
	require.Eventually(t, func() bool { return len(h.handles()) == 0 }, testTimeout, time.Millisecond,
		"the plugin's Output call never ended")
}

// execEnder is a runner whose Exec fails as a command does when its
// context ends first: with an error wrapping the context's.
type execEnder struct {
	*fakeRunner
	err error
}

func (e execEnder) Exec(context.Context, Process, []string) (ExecResult, error) {
	return ExecResult{}, e.err
}

// TestExecEndedByItsContextKeepsTheCode: a component's error that wraps a
// context's end reaches the host with that code, whichever side noticed
// the end first; with Unknown, the host could not tell it from a failure
// of the command (CI saw the container runner's Exec do so).
func TestExecEndedByItsContextKeepsTheCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		code codes.Code
	}{
		{fmt.Errorf("the command did not finish: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{fmt.Errorf("the command did not finish: %w", context.Canceled), codes.Canceled},
		{errors.New("no such command"), codes.Unknown},
	} {
		runner := execEnder{fakeRunner: newFakeRunner(t), err: c.err}
		set, release := componentSet(Info{Plugin: "test", Name: "fake", Kind: KindRunner, Version: "0.0.1", APIVersions: APIVersions}, runner, nil)
		client, server := plugin.TestPluginGRPCConn(t, false, set)
		rc := proto.NewRunnerClient(client.Conn)
		resp, err := rc.Start(context.Background(), &proto.StartRequest{Name: "sleeper"})
		require.NoError(t, err)
		_, err = rc.Exec(context.Background(), &proto.ExecRequest{Handle: resp.Handle, Command: [][]byte{[]byte("true")}})
		assert.Equal(t, c.code, status.Code(err), "%v", c.err)
		assert.Contains(t, status.Convert(err).Message(), c.err.Error())
		server.Stop()
		_ = client.Close()
		release()
	}
}
