package pluginhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRunnerStartPassesConfigThrough(t *testing.T) {
	h := newRunnerHarness(t)
	cfg := &sdk.ProcessConfig{
		Name:     "web",
		Command:  []string{"/bin/server", "--port", "8080", "arg with spaces", "", "latin1-\xe9"},
		Env:      []string{"A=1", "B=two words", "EMPTY=", "BYTES=\xff\xfe"},
		Dir:      "/srv/web-\xe9",
		Settings: &sdk.Config{Values: []byte(`{"image":"busybox","cpus":2}`)},
	}
	proc, err := h.Runner.Start(context.Background(), cfg)
	require.NoError(t, err)

	fp := h.runner.proc(t, "web")
	assert.Equal(t, "web", fp.cfg.Name)
	assert.Equal(t, cfg.Command, fp.cfg.Command)
	assert.Equal(t, cfg.Env, fp.cfg.Env)
	assert.Equal(t, "/srv/web-\xe9", fp.cfg.Dir, "not UTF-8, passed intact")
	require.NotNil(t, fp.cfg.Settings)
	assert.JSONEq(t, `{"image":"busybox","cpus":2}`, string(fp.cfg.Settings.Values))
	var settings struct {
		Image string `json:"image"`
		CPUs  int    `json:"cpus"`
	}
	require.NoError(t, fp.cfg.Settings.Decode(&settings))
	assert.Equal(t, "busybox", settings.Image)
	assert.Equal(t, 2, settings.CPUs)

	assert.Equal(t, fp.PID(), proc.PID())
	assert.NotZero(t, proc.PID())

	// Without settings and command the plugin sees neither.
	_, err = h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "bare"})
	require.NoError(t, err)
	bare := h.runner.proc(t, "bare")
	assert.Nil(t, bare.cfg.Settings)
	assert.Empty(t, bare.cfg.Command)
	assert.Empty(t, bare.cfg.Env)
	assert.Empty(t, bare.cfg.Dir)
	assert.NotEqual(t, proc.PID(), bare.PID())
}

func TestRunnerStartError(t *testing.T) {
	h := newRunnerHarness(t)
	h.runner.startErr = errors.New(`image "busybox:nope" not found`)
	proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "web"})
	require.Error(t, err)
	assert.Nil(t, proc)
	assert.Contains(t, err.Error(), `image "busybox:nope" not found`)
	// That the plugin keeps no handle is the sdk's test (runner_server_test.go).
}

func TestRunnerStartNilProcess(t *testing.T) {
	h := newRunnerHarness(t)
	h.runner.nilProc = true
	proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "web"})
	require.Error(t, err)
	assert.Nil(t, proc)
	assert.Contains(t, err.Error(), "neither a process nor an error")
}

func TestRunnerStartCancelled(t *testing.T) {
	h := newRunnerHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := h.Runner.Start(ctx, &sdk.ProcessConfig{Name: "web"})
	require.ErrorIs(t, err, context.Canceled)
}

// randomBytes returns n deterministic pseudo-random bytes (not UTF-8).
func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// writeChunked writes data to w in irregular chunks.
func writeChunked(w io.Writer, data []byte, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 7))
	for len(data) > 0 {
		n := min(1+rng.IntN(96<<10), len(data))
		if _, err := w.Write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

func TestRunnerLargeOutputSeparatedAndIntact(t *testing.T) {
	h := newRunnerHarness(t)
	proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "loud"})
	require.NoError(t, err)
	fp := h.runner.proc(t, "loud")

	const size = 5 << 20
	wantOut := append([]byte("stdout:"), randomBytes(1, size)...)
	wantErr := append([]byte("stderr:"), randomBytes(2, size)...)

	outCh := readAllAsync(proc.Stdout())
	errCh := readAllAsync(proc.Stderr())

	var wg sync.WaitGroup
	writeErrs := make([]error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); writeErrs[0] = writeChunked(fp.outW, wantOut, 3); _ = fp.outW.Close() }()
	go func() { defer wg.Done(); writeErrs[1] = writeChunked(fp.errW, wantErr, 4); _ = fp.errW.Close() }()

	gotOut, err := await(t, outCh, "reading stdout")
	require.NoError(t, err)
	gotErr, err := await(t, errCh, "reading stderr")
	require.NoError(t, err)
	wg.Wait()
	require.NoError(t, writeErrs[0])
	require.NoError(t, writeErrs[1])

	require.Equal(t, len(wantOut), len(gotOut))
	require.Equal(t, len(wantErr), len(gotErr))
	require.True(t, bytes.Equal(wantOut, gotOut), "stdout differs")
	require.True(t, bytes.Equal(wantErr, gotErr), "stderr differs")

	fp.finish(nil)
	_, err = await(t, waitAsync(proc), "Wait")
	require.NoError(t, err)
}

func TestRunnerWaitResults(t *testing.T) {
	tests := []struct {
		name  string
		exit  error
		check func(t *testing.T, err error)
	}{
		{"success", nil, func(t *testing.T, err error) { require.NoError(t, err) }},
		{"exit-code", &sdk.ExitError{Code: 3}, func(t *testing.T, err error) {
			var ee *sdk.ExitError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, sdk.ExitError{Code: 3}, *ee)
			assert.Equal(t, "exit status 3", err.Error())
		}},
		{"wrapped-exit-code", fmt.Errorf("container: %w", &sdk.ExitError{Code: 125}), func(t *testing.T, err error) {
			var ee *sdk.ExitError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, sdk.ExitError{Code: 125}, *ee)
		}},
		{"signal", &sdk.ExitError{Code: -1, Signal: "SIGTERM"}, func(t *testing.T, err error) {
			var ee *sdk.ExitError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, sdk.ExitError{Code: -1, Signal: "SIGTERM"}, *ee)
			assert.Equal(t, "killed by SIGTERM", err.Error())
		}},
		{"plain-error", errors.New("container vanished: node lost"), func(t *testing.T, err error) {
			require.Error(t, err)
			var ee *sdk.ExitError
			assert.False(t, errors.As(err, &ee), "plain error came back as %#v", err)
			assert.Equal(t, "container vanished: node lost", err.Error())
		}},
		{"plain-error-invalid-utf8", errors.New("docker: \xff\xfe gone"), func(t *testing.T, err error) {
			require.Error(t, err)
			assert.Equal(t, "docker: \uFFFD gone", err.Error()) // a run of bad bytes becomes one U+FFFD
		}},
	}
	h := newRunnerHarness(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: tt.name})
			require.NoError(t, err)
			fp := h.runner.proc(t, tt.name)
			outCh, errCh := readAllAsync(proc.Stdout()), readAllAsync(proc.Stderr())
			_, err = fmt.Fprintf(fp.outW, "hello from %s\n", tt.name)
			require.NoError(t, err)
			fp.exit(tt.exit)

			out, err := await(t, outCh, "reading stdout")
			require.NoError(t, err)
			assert.Equal(t, "hello from "+tt.name+"\n", string(out))
			_, err = await(t, errCh, "reading stderr")
			require.NoError(t, err)
			_, err = await(t, waitAsync(proc), "Wait")
			tt.check(t, err)
		})
	}
}

func TestRunnerWaitConcurrent(t *testing.T) {
	for _, exit := range []error{nil, &sdk.ExitError{Code: 2}, errors.New("lost")} {
		t.Run(fmt.Sprint(exit), func(t *testing.T) {
			h := newRunnerHarness(t)
			proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "p"})
			require.NoError(t, err)
			fp := h.runner.proc(t, "p")

			const n = 50
			var waits []<-chan result[struct{}]
			for range n {
				waits = append(waits, waitAsync(proc))
			}
			fp.exit(exit)
			var first error
			for i, ch := range waits {
				_, err := await(t, ch, "Wait")
				if i == 0 {
					first = err
					continue
				}
				require.Equal(t, first, err)
			}
			if exit == nil {
				require.NoError(t, first)
			} else {
				require.EqualError(t, first, exit.Error())
			}
			// A later call too.
			require.Equal(t, first, proc.Wait())
		})
	}
}

func TestRunnerSignal(t *testing.T) {
	h := newRunnerHarness(t)
	proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "p"})
	require.NoError(t, err)
	fp := h.runner.proc(t, "p")

	require.NoError(t, proc.Signal(syscall.SIGTERM))
	assert.Equal(t, syscall.SIGTERM, fp.nextSignal(t))
	require.NoError(t, proc.Signal(syscall.SIGHUP))
	assert.Equal(t, syscall.SIGHUP, fp.nextSignal(t))
	require.NoError(t, proc.Signal(os.Interrupt))
	assert.Equal(t, syscall.SIGINT, fp.nextSignal(t))

	// The runner's error comes back with its message.
	fp.setSignalErr(errors.New("no such process group"))
	err = proc.Signal(syscall.SIGUSR1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no such process group")
	assert.Equal(t, syscall.SIGUSR1, fp.nextSignal(t))

	// A signal that has no name never leaves the host.
	require.Error(t, proc.Signal(fakeSignal{}))
	require.Error(t, proc.Signal(syscall.Signal(200)))
	select {
	case sig := <-fp.sigs:
		t.Fatalf("unexpected signal %v", sig)
	default:
	}
}

func TestRunnerSignalAfterExitIsNotAnError(t *testing.T) {
	h := newRunnerHarness(t)
	proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "p"})
	require.NoError(t, err)
	fp := h.runner.proc(t, "p")
	outCh, errCh := readAllAsync(proc.Stdout()), readAllAsync(proc.Stderr())
	fp.exit(&sdk.ExitError{Code: 1})
	_, err = await(t, outCh, "reading stdout")
	require.NoError(t, err)
	_, err = await(t, errCh, "reading stderr")
	require.NoError(t, err)
	var ee *sdk.ExitError
	require.ErrorAs(t, proc.Wait(), &ee)
	// The server has forgotten the handle.
	h.requireForgotten(t, proc)
	require.NoError(t, proc.Signal(syscall.SIGTERM))
}

func TestRunnerUnknownHandle(t *testing.T) {
	h := newRunnerHarness(t)
	p := &processClient{client: proto.NewRunnerClient(h.rpc.Conn), handle: "nope-1", waited: make(chan struct{})}
	err := p.Signal(syscall.SIGTERM)
	require.ErrorIs(t, err, sdk.ErrUnknownHandle)
	assert.Contains(t, err.Error(), "nope-1")

	stream, err := proto.NewRunnerClient(h.rpc.Conn).Output(context.Background(), &proto.OutputRequest{Handle: "nope-1"})
	require.NoError(t, err)
	_, err = stream.Recv() // a stream's status arrives with its first Recv
	require.ErrorIs(t, fromGRPC("output", err), sdk.ErrUnknownHandle)

	require.ErrorIs(t, p.Wait(), sdk.ErrUnknownHandle)
	// Wait delivered, but the handle never existed: still unknown.
	require.ErrorIs(t, p.Signal(syscall.SIGTERM), sdk.ErrUnknownHandle)
}

func TestRunnerBadSignalName(t *testing.T) {
	h := newRunnerHarness(t)
	proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "p"})
	require.NoError(t, err)
	handle := proc.(*processClient).handle
	_, err = proto.NewRunnerClient(h.rpc.Conn).Signal(context.Background(), &proto.SignalRequest{Handle: handle, Signal: "SIGBOGUS"})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	assert.Contains(t, status.Convert(err).Message(), "SIGBOGUS")
}

func TestRunnerServerGoesAway(t *testing.T) {
	h := newRunnerHarness(t)
	proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "p"})
	require.NoError(t, err)
	fp := h.runner.proc(t, "p")

	// Mid-stream: some output has arrived, more is expected.
	go func() { _, _ = fp.outW.Write([]byte("first line\n")) }()
	buf := make([]byte, len("first line\n"))
	_, err = io.ReadFull(proc.Stdout(), buf)
	require.NoError(t, err)
	require.Equal(t, "first line\n", string(buf))

	waitCh := waitAsync(proc)
	outCh, errCh := readAllAsync(proc.Stdout()), readAllAsync(proc.Stderr())

	h.kill()

	_, err = await(t, outCh, "reading stdout")
	require.Error(t, err)
	require.ErrorIs(t, err, sdk.ErrPluginUnavailable)
	_, err = await(t, errCh, "reading stderr")
	require.ErrorIs(t, err, sdk.ErrPluginUnavailable)
	_, err = await(t, waitCh, "Wait")
	require.ErrorIs(t, err, sdk.ErrPluginUnavailable)
	// Every later call returns the same.
	require.ErrorIs(t, proc.Wait(), sdk.ErrPluginUnavailable)
	// Signal fails too, with the same sentinel.
	_, err = await(t, async(func() (struct{}, error) { return struct{}{}, proc.Signal(syscall.SIGTERM) }), "Signal")
	require.ErrorIs(t, err, sdk.ErrPluginUnavailable)
}

func TestRunnerHostClosesConnection(t *testing.T) {
	h := newRunnerHarness(t)
	proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "p"})
	require.NoError(t, err)
	waitCh := waitAsync(proc)
	outCh, errCh := readAllAsync(proc.Stdout()), readAllAsync(proc.Stderr())

	require.NoError(t, h.rpc.Conn.Close())

	_, err = await(t, outCh, "reading stdout")
	require.Error(t, err)
	_, err = await(t, errCh, "reading stderr")
	require.Error(t, err)
	_, err = await(t, waitCh, "Wait")
	require.Error(t, err)
}

func TestRunnerShutdownKillsEverything(t *testing.T) {
	h := newRunnerHarness(t)
	names := []string{"a", "b", "c"}
	procs := map[string]sdk.Process{}
	for _, n := range names {
		p, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: n})
		require.NoError(t, err)
		procs[n] = p
	}

	require.NoError(t, h.Base.Shutdown(context.Background()))
	for _, n := range names {
		assert.Equal(t, syscall.SIGKILL, h.runner.proc(t, n).nextSignal(t), n)
	}
	for _, n := range names {
		p := procs[n]
		outCh, errCh := readAllAsync(p.Stdout()), readAllAsync(p.Stderr())
		_, err := await(t, outCh, "reading stdout")
		require.NoError(t, err)
		_, err = await(t, errCh, "reading stderr")
		require.NoError(t, err)
		_, err = await(t, waitAsync(p), "Wait")
		var ee *sdk.ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, sdk.ExitError{Code: -1, Signal: "SIGKILL"}, *ee)
	}
	for _, p := range procs {
		h.requireForgotten(t, p)
	}
}

func TestRunnerHandleReleasedAfterOutputAndWait(t *testing.T) {
	t.Run("wait-first", func(t *testing.T) {
		h := newRunnerHarness(t)
		proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "p"})
		require.NoError(t, err)
		fp := h.runner.proc(t, "p")

		// The process exits, but a child still holds its output open.
		fp.finish(nil)
		_, err = await(t, waitAsync(proc), "Wait")
		require.NoError(t, err)

		outCh, errCh := readAllAsync(proc.Stdout()), readAllAsync(proc.Stderr())
		fp.closeOutput()
		_, err = await(t, outCh, "reading stdout")
		require.NoError(t, err)
		_, err = await(t, errCh, "reading stderr")
		require.NoError(t, err)
		h.requireForgotten(t, proc)
	})
	t.Run("output-first", func(t *testing.T) {
		h := newRunnerHarness(t)
		proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "p"})
		require.NoError(t, err)
		fp := h.runner.proc(t, "p")

		outCh, errCh := readAllAsync(proc.Stdout()), readAllAsync(proc.Stderr())
		fp.exit(nil)
		_, err = await(t, outCh, "reading stdout")
		require.NoError(t, err)
		_, err = await(t, errCh, "reading stderr")
		require.NoError(t, err)

		_, err = await(t, waitAsync(proc), "Wait")
		require.NoError(t, err)
		h.requireForgotten(t, proc)
	})
}

func TestRunnerManyConcurrentProcesses(t *testing.T) {
	h := newRunnerHarness(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				name := fmt.Sprintf("p%d", i)
				proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: name})
				if err != nil {
					return err
				}
				fp := h.runner.lookup(name)
				want := bytes.Repeat([]byte(name+"\n"), 1000)
				go func() { _ = writeChunked(fp.outW, want, uint64(i)); fp.exit(&sdk.ExitError{Code: i}) }()
				outCh, errCh := readAllAsync(proc.Stdout()), readAllAsync(proc.Stderr())
				out := <-outCh
				if out.err != nil || !bytes.Equal(out.val, want) {
					return fmt.Errorf("%s: stdout %d bytes, err %v", name, len(out.val), out.err)
				}
				if e := <-errCh; e.err != nil || len(e.val) != 0 {
					return fmt.Errorf("%s: stderr %q, err %v", name, e.val, e.err)
				}
				err = proc.Wait()
				var ee *sdk.ExitError
				if i == 0 && err != nil || i != 0 && (!errors.As(err, &ee) || ee.Code != i) {
					return fmt.Errorf("%s: Wait = %v", name, err)
				}
				return nil
			}()
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("processes did not finish")
	}
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// The plugin's handles: the sdk's runner_server_test.go.
}

// failingOutputClient is a RunnerClient whose Output call fails.
type failingOutputClient struct {
	proto.RunnerClient
	mu      sync.Mutex
	signals []*proto.SignalRequest
}

func (c *failingOutputClient) Start(context.Context, *proto.StartRequest, ...grpc.CallOption) (*proto.StartResponse, error) {
	return &proto.StartResponse{Handle: "p-1", Pid: 7}, nil
}

func (c *failingOutputClient) Output(context.Context, *proto.OutputRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[proto.OutputChunk], error) {
	return nil, status.Error(codes.Unavailable, "connection reset")
}

func (c *failingOutputClient) Signal(_ context.Context, req *proto.SignalRequest, _ ...grpc.CallOption) (*proto.SignalResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.signals = append(c.signals, req)
	return &proto.SignalResponse{}, nil
}

func TestRunnerStartKillsProcessWithoutOutput(t *testing.T) {
	fc := &failingOutputClient{}
	_, err := (&runnerClient{client: fc}).Start(context.Background(), &sdk.ProcessConfig{Name: "p"})
	require.ErrorIs(t, err, sdk.ErrPluginUnavailable)
	require.Len(t, fc.signals, 1)
	assert.Equal(t, "p-1", fc.signals[0].Handle)
	assert.Equal(t, "SIGKILL", fc.signals[0].Signal)
}

// fakeSignal is an os.Signal that is not a syscall.Signal.
type fakeSignal struct{}

func (fakeSignal) String() string { return "fake" }
func (fakeSignal) Signal()        {}

// The host gives up on a streamed output that a process's descendant keeps
// open after the exit: its reads end with ErrOutputClosed at once, what
// arrived before is kept, and the plugin's Output call ends too, releasing
// the handle, although its reader still waits on the open stream.
func TestCloseOutputAbandonsAStreamedOutput(t *testing.T) {
	h := newRunnerHarness(t)
	proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "p"})
	require.NoError(t, err)
	fp := h.runner.proc(t, "p")
	_, err = fp.outW.Write([]byte("before\n"))
	require.NoError(t, err)
	first := make([]byte, len("before\n"))
	_, err = await(t, async(func() (int, error) { return io.ReadFull(proc.Stdout(), first) }), "the first line")
	require.NoError(t, err)
	assert.Equal(t, "before\n", string(first))

	fp.finish(nil) // the output stays open
	_, err = await(t, waitAsync(proc), "Wait")
	require.NoError(t, err)
	out, errOut := readAllAsync(proc.Stdout()), readAllAsync(proc.Stderr())

	oc, ok := proc.(sdk.OutputCloser)
	require.True(t, ok, "the host's processes can be abandoned")
	oc.CloseOutput()
	rest, err := await(t, out, "stdout")
	require.ErrorIs(t, err, sdk.ErrOutputClosed)
	assert.Empty(t, rest)
	_, err = await(t, errOut, "stderr")
	require.ErrorIs(t, err, sdk.ErrOutputClosed)
	require.Eventually(t, func() bool { return h.forgotten(proc) }, testTimeout, time.Millisecond,
		"the plugin's Output call never ended")
	require.Eventually(t, func() bool {
		buf := make([]byte, 1<<20)
		return !bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("(*processClient).demux"))
	}, testTimeout, time.Millisecond, "the host's reader of the Output stream never ended")
	oc.CloseOutput() // again: nothing happens
	_, err = proc.Stdout().Read(first)
	require.ErrorIs(t, err, sdk.ErrOutputClosed)
}

// requireForgotten checks that the plugin has forgotten proc's handle
// (the sdk's tests check when): the runner server answers an unknown
// handle with NotFound. Asked with Wait, which, for a process whose exit
// status the host already has, answers at once and changes nothing on the
// plugin.
func (h *runnerHarness) requireForgotten(t *testing.T, proc sdk.Process) {
	t.Helper()
	err := h.probe(proc)
	require.Equal(t, codes.NotFound, status.Code(err), "the plugin still holds the handle: %v", err)
}

// forgotten reports whether the plugin has forgotten proc's handle, like
// requireForgotten.
func (h *runnerHarness) forgotten(proc sdk.Process) bool {
	return status.Code(h.probe(proc)) == codes.NotFound
}

func (h *runnerHarness) probe(proc sdk.Process) error {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err := proto.NewRunnerClient(h.rpc.Conn).Wait(ctx, &proto.WaitRequest{Handle: proc.(*processClient).handle})
	return err
}

// TestRunnerStats: a process's Stats travel intact; a runner whose
// processes have none answers ErrUnimplemented, and an exited process
// ErrUnknownHandle.
func TestRunnerStats(t *testing.T) {
	h := newRunnerHarness(t)
	read := time.Date(2026, 12, 7, 21, 30, 0, 123456789, time.UTC)
	want := sdk.ProcessStats{CPU: 1500*time.Millisecond + 7, MemoryBytes: 5 << 30, Time: read}
	h.runner.stats = &want
	proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "p"})
	require.NoError(t, err)
	st, ok := proc.(sdk.ProcessStatter)
	require.True(t, ok, "the host's process is a ProcessStatter")
	got, err := st.Stats(context.Background())
	require.NoError(t, err)
	assert.Equal(t, want.CPU, got.CPU)
	assert.Equal(t, want.MemoryBytes, got.MemoryBytes)
	assert.True(t, want.Time.Equal(got.Time), "read time %v, want %v", got.Time, want.Time)

	fp := h.runner.proc(t, "p")
	outCh, errCh := readAllAsync(proc.Stdout()), readAllAsync(proc.Stderr())
	fp.exit(nil)
	_, err = await(t, outCh, "reading stdout")
	require.NoError(t, err)
	_, err = await(t, errCh, "reading stderr")
	require.NoError(t, err)
	require.NoError(t, proc.Wait())
	_, err = st.Stats(context.Background())
	require.ErrorIs(t, err, sdk.ErrUnknownHandle, "after the exit")
}

func TestRunnerStatsAbsent(t *testing.T) {
	h := newRunnerHarness(t)
	proc, err := h.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "p"})
	require.NoError(t, err)
	_, err = proc.(sdk.ProcessStatter).Stats(context.Background())
	require.ErrorIs(t, err, sdk.ErrUnimplemented)
}
