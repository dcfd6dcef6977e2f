package pluginhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/require"
)

// testTimeout bounds every wait for a condition; reaching it is a failure.
const testTimeout = 30 * time.Second

// fakeProcess is a Process backed by pipes that the test drives: it writes
// the output, closes it and decides when and how the process exits.
type fakeProcess struct {
	cfg        *sdk.ProcessConfig
	pid        int
	outR, errR *io.PipeReader
	outW, errW *io.PipeWriter

	// sigs receives every signal delivered to the process.
	sigs chan os.Signal

	mu        sync.Mutex
	signalErr error

	closeOnce sync.Once
	exitOnce  sync.Once
	done      chan struct{}
	err       error
}

func newFakeProcess(cfg *sdk.ProcessConfig, pid int) *fakeProcess {
	p := &fakeProcess{cfg: cfg, pid: pid, sigs: make(chan os.Signal, 64), done: make(chan struct{})}
	p.outR, p.outW = io.Pipe()
	p.errR, p.errW = io.Pipe()
	return p
}

func (p *fakeProcess) PID() int          { return p.pid }
func (p *fakeProcess) Stdout() io.Reader { return p.outR }
func (p *fakeProcess) Stderr() io.Reader { return p.errR }

func (p *fakeProcess) Wait() error {
	<-p.done
	return p.err
}

// Signal records sig; SIGKILL ends the process like the kernel would.
func (p *fakeProcess) Signal(sig os.Signal) error {
	select {
	case p.sigs <- sig:
	default:
		panic("fakeProcess: too many signals")
	}
	if sig == syscall.SIGKILL {
		p.exit(&sdk.ExitError{Code: -1, Signal: "SIGKILL"})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.signalErr
}

func (p *fakeProcess) setSignalErr(err error) {
	p.mu.Lock()
	p.signalErr = err
	p.mu.Unlock()
}

// closeOutput ends both output streams (EOF for the reader).
func (p *fakeProcess) closeOutput() {
	p.closeOnce.Do(func() {
		_ = p.outW.Close()
		_ = p.errW.Close()
	})
}

// finish makes Wait return err; the first call wins.
func (p *fakeProcess) finish(err error) {
	p.exitOnce.Do(func() {
		p.err = err
		close(p.done)
	})
}

// exit ends the output, then the process.
func (p *fakeProcess) exit(err error) {
	p.closeOutput()
	p.finish(err)
}

// nextSignal returns the next signal delivered to p, failing after the
// timeout.
func (p *fakeProcess) nextSignal(t *testing.T) os.Signal {
	t.Helper()
	select {
	case sig := <-p.sigs:
		return sig
	case <-time.After(testTimeout):
		t.Fatalf("process %q received no signal", p.cfg.Name)
		return nil
	}
}

// fakeRunner is a Runner that starts fakeProcesses, by process name.
type fakeRunner struct {
	mu       sync.Mutex
	pid      int
	procs    map[string]*fakeProcess
	startErr error
	nilProc  bool
	// stats, when set, makes the processes ProcessStatters reporting it.
	stats *sdk.ProcessStats
}

var _ sdk.Runner = (*fakeRunner)(nil)

func newFakeRunner(t *testing.T) *fakeRunner {
	r := &fakeRunner{pid: 4000, procs: make(map[string]*fakeProcess)}
	// Let every process end so that no server goroutine outlives the test.
	t.Cleanup(func() { r.exitAll(errors.New("test over")) })
	return r
}

func (r *fakeRunner) Start(_ context.Context, cfg *sdk.ProcessConfig) (sdk.Process, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.startErr != nil {
		return nil, r.startErr
	}
	if r.nilProc {
		return nil, nil
	}
	if _, ok := r.procs[cfg.Name]; ok {
		return nil, fmt.Errorf("process %q already started", cfg.Name)
	}
	r.pid++
	p := newFakeProcess(cfg, r.pid)
	r.procs[cfg.Name] = p
	if r.stats != nil {
		return &statsProcess{fakeProcess: p, stats: *r.stats}, nil
	}
	return p, nil
}

// statsProcess is a fakeProcess that reports fixed Stats.
type statsProcess struct {
	*fakeProcess
	stats sdk.ProcessStats
}

func (p *statsProcess) Stats(context.Context) (sdk.ProcessStats, error) { return p.stats, nil }

func (r *fakeRunner) proc(t *testing.T, name string) *fakeProcess {
	t.Helper()
	p := r.lookup(name)
	require.NotNil(t, p, "process %q was not started", name)
	return p
}

func (r *fakeRunner) lookup(name string) *fakeProcess {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.procs[name]
}

func (r *fakeRunner) exitAll(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.procs {
		p.exit(err)
	}
}

// configurableRunner is a fakeRunner with every optional interface.
type configurableRunner struct {
	*fakeRunner

	configSchema, processSchema *sdk.Schema
	configureErr                error
	shutdownErr                 error

	mu        sync.Mutex
	configs   []*sdk.Config
	shutdowns int
}

var (
	_ sdk.Configurable        = (*configurableRunner)(nil)
	_ sdk.ProcessConfigurable = (*configurableRunner)(nil)
	_ sdk.Shutdowner          = (*configurableRunner)(nil)
)

func (r *configurableRunner) ConfigSchema() *sdk.Schema  { return r.configSchema }
func (r *configurableRunner) ProcessSchema() *sdk.Schema { return r.processSchema }

func (r *configurableRunner) Configure(cfg *sdk.Config) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.configs = append(r.configs, cfg)
	return r.configureErr
}

func (r *configurableRunner) Shutdown() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.shutdowns++
	return r.shutdownErr
}

// recordingSink is a Sink that keeps copies of what it receives.
type recordingSink struct {
	mu       sync.Mutex
	batches  []*sdk.Batch
	writeErr error
	flushErr error
	closeErr error
	flushes  int
	closes   int
}

var _ sdk.Sink = (*recordingSink)(nil)

func (s *recordingSink) Write(_ context.Context, b *sdk.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeErr != nil {
		return s.writeErr
	}
	c := &sdk.Batch{Seq: b.Seq, Events: append([]sdk.Event(nil), b.Events...)}
	for _, e := range b.Entries {
		e.Line = append([]byte(nil), e.Line...)
		c.Entries = append(c.Entries, e)
	}
	s.batches = append(s.batches, c)
	return nil
}

func (s *recordingSink) Flush(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes++
	return s.flushErr
}

func (s *recordingSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closes++
	return s.closeErr
}

// connect serves the one component of c in this process, through the
// plugin's own serving path (serve), and ends it with the test.
func connect(t testing.TB, c *sdk.ServeConfig) *served {
	t.Helper()
	s, err := serve(c, "")
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.close() })
	return s
}

// runnerHarness serves a fake runner component.
type runnerHarness struct {
	*served
	runner *fakeRunner
}

func newRunnerHarness(t *testing.T) *runnerHarness {
	t.Helper()
	fr := newFakeRunner(t)
	s := connect(t, &sdk.ServeConfig{Name: "test", Version: "0.0.1", Runners: map[string]sdk.Runner{"fake": fr}})
	require.NotNil(t, s.Runner)
	return &runnerHarness{served: s, runner: fr}
}

// result is the outcome of a call run in the background.
type result[T any] struct {
	val T
	err error
}

// async runs f in a goroutine; await collects its result.
func async[T any](f func() (T, error)) <-chan result[T] {
	ch := make(chan result[T], 1)
	go func() {
		v, err := f()
		ch <- result[T]{v, err}
	}()
	return ch
}

func await[T any](t *testing.T, ch <-chan result[T], what string) (T, error) {
	t.Helper()
	select {
	case r := <-ch:
		return r.val, r.err
	case <-time.After(testTimeout):
		t.Fatalf("%s did not return within %v", what, testTimeout)
		var zero T
		return zero, nil
	}
}

// readAllAsync reads r to its end in the background.
func readAllAsync(r io.Reader) <-chan result[[]byte] {
	return async(func() ([]byte, error) { return io.ReadAll(r) })
}

// waitAsync calls Wait in the background.
func waitAsync(p sdk.Process) <-chan result[struct{}] {
	return async(func() (struct{}, error) { return struct{}{}, p.Wait() })
}

// generatedConn serves register's services (the generated code's, as a
// plugin built without the sdk would) on a unix socket, and returns the
// host's connection to them, dialled with the host's options. Both end
// with the test.
func generatedConn(t *testing.T, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "plugin.sock"))
	require.NoError(t, err)
	s := grpc.NewServer(wire.ServerOptions()...)
	register(s)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, wire.ClientOptions()...)
	conn, err := grpc.NewClient("unix://"+l.Addr().String(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestPluginServerTakesLargeMessages(t *testing.T) {
	// grpc's default limit is 4 MiB; a plugin's server must take what the
	// host may send (MaxMessageSize), or a big batch dies as a bare EOF.
	rec := &recordingSink{}
	s := connect(t, &sdk.ServeConfig{Name: "test", Version: "0.0.1", Sinks: map[string]sdk.Sink{"rec": rec}})
	line := bytes.Repeat([]byte("x"), 64<<10)
	b := &sdk.Batch{Seq: 1}
	for range 100 { // 6.4 MiB
		b.Entries = append(b.Entries, sdk.LogEntry{Timestamp: time.Unix(1, 0), Process: "p", Stream: sdk.Stdout, Line: line})
	}
	require.NoError(t, s.Sink.Write(context.Background(), b))
	require.Len(t, rec.batches, 1)
	requireSameBatch(t, b, rec.batches[0])
}
