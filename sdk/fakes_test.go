package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testTimeout bounds every wait for a condition; reaching it is a failure.
const testTimeout = 30 * time.Second

// fakeProcess is a Process backed by pipes that the test drives: it writes
// the output, closes it and decides when and how the process exits.
type fakeProcess struct {
	cfg        *ProcessConfig
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

func newFakeProcess(cfg *ProcessConfig, pid int) *fakeProcess {
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
		p.exit(&ExitError{Code: -1, Signal: "SIGKILL"})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.signalErr
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
}

var _ Runner = (*fakeRunner)(nil)

func newFakeRunner(t *testing.T) *fakeRunner {
	r := &fakeRunner{pid: 4000, procs: make(map[string]*fakeProcess)}
	// Let every process end so that no server goroutine outlives the test.
	t.Cleanup(func() { r.exitAll(errors.New("test over")) })
	return r
}

func (r *fakeRunner) Start(_ context.Context, cfg *ProcessConfig) (Process, error) {
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
	return p, nil
}

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

	configSchema, processSchema *Schema
	configureErr                error
	shutdownErr                 error

	mu        sync.Mutex
	configs   []*Config
	shutdowns int
}

var (
	_ Configurable        = (*configurableRunner)(nil)
	_ ProcessConfigurable = (*configurableRunner)(nil)
	_ Shutdowner          = (*configurableRunner)(nil)
)

func (r *configurableRunner) ConfigSchema() *Schema  { return r.configSchema }
func (r *configurableRunner) ProcessSchema() *Schema { return r.processSchema }

func (r *configurableRunner) Configure(cfg *Config) error {
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
	batches  []*Batch
	writeErr error
	flushErr error
	closeErr error
	flushes  int
	closes   int
}

var _ Sink = (*recordingSink)(nil)

func (s *recordingSink) Write(_ context.Context, b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeErr != nil {
		return s.writeErr
	}
	c := &Batch{Seq: b.Seq, Events: append([]Event(nil), b.Events...)}
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
