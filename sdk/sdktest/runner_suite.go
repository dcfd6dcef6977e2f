package sdktest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// DefaultTimeout bounds every wait of the suites unless their options say
// otherwise. Reaching it is a failure, never a pass.
const DefaultTimeout = 30 * time.Second

// RunnerSuiteOptions adapt RunnerSuite to a runner. The zero value suits a
// runner that runs POSIX commands on this machine (like prox's exec runner).
//
// The command fields build the argv of the suite's processes; each is
// documented by its default (OutputCommand, ExitCommand, ...), whose
// behaviour a replacement must keep. A runner whose processes have no POSIX
// shell replaces them all.
type RunnerSuiteOptions struct {
	// Output writes "out 0".."out N-1" to stdout and "err 0".."err M-1"
	// to stderr, then exits 0. Default OutputCommand.
	Output func(stdout, stderr int) []string
	// Exit exits with the given code. Default ExitCommand.
	Exit func(code int) []string
	// Sleep prints "ready" and runs until a signal ends it. Default
	// SleepCommand.
	Sleep func() []string
	// IgnoreTERM ignores SIGTERM, prints "ready", then "tick" lines until
	// it is killed. Default IgnoreTERMCommand.
	IgnoreTERM func() []string
	// Grandchild catches SIGTERM, starts a grandchild, prints its PID, and
	// prints "grandchild ended" then exits 0 once the grandchild is gone.
	// Default GrandchildCommand.
	Grandchild func() []string
	// Orphan starts a grandchild that runs until killed, prints its PID
	// and exits 0 at once. Default OrphanCommand.
	Orphan func() []string

	// Env is the environment of every process. Default: PATH of the test.
	Env []string
	// Prepare, when set, adjusts every ProcessConfig before Start: a
	// container runner sets Settings (its image) here, with Settings of
	// this package. Default: none.
	Prepare func(t *testing.T, cfg *sdk.ProcessConfig)
	// RemoteProcesses says that the PIDs the processes print are not PIDs
	// of this machine (a container's, another host's): the suite then
	// skips its /proc checks for leftover processes, and relies on the
	// output streams reaching EOF. Default false: the checks run (on
	// Linux).
	RemoteProcesses bool
	// Direct calls the runner directly instead of through the gRPC
	// harness (NewRunnerHarness). Default false: through the harness, as
	// prox calls it.
	Direct bool
	// Timeout bounds every wait; default DefaultTimeout.
	Timeout time.Duration
	// Stats says that the runner's processes implement the optional
	// sdk.ProcessStatter: the Stats subtest then fails if they do not.
	// Default false: the subtest is skipped when they do not.
	Stats bool
}

func (o *RunnerSuiteOptions) defaults() {
	if o.Output == nil {
		o.Output = OutputCommand
	}
	if o.Exit == nil {
		o.Exit = ExitCommand
	}
	if o.Sleep == nil {
		o.Sleep = SleepCommand
	}
	if o.IgnoreTERM == nil {
		o.IgnoreTERM = IgnoreTERMCommand
	}
	if o.Grandchild == nil {
		o.Grandchild = GrandchildCommand
	}
	if o.Orphan == nil {
		o.Orphan = OrphanCommand
	}
	if o.Env == nil {
		o.Env = []string{"PATH=" + os.Getenv("PATH")}
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
}

// RunnerSuite checks that the runners factory returns do what prox expects
// of every runner, one subtest per property:
//
//   - OutputIntactAndSeparated: every line arrives, in order, on its own
//     stream; the streams end with EOF.
//   - ExitCode: a zero exit is a nil Wait, another an *sdk.ExitError with
//     the code; Wait repeats its result; signalling an exited process is
//     not an error.
//   - TerminatingSignalReported: a process killed by SIGTERM reports
//     Signal "SIGTERM" and Code -1.
//   - SignalsReachTheGroup: a signal reaches the process's grandchildren,
//     not only the process.
//   - StopEscalation: a process that ignores SIGTERM keeps running, and
//     SIGKILL ends it (Signal "SIGKILL").
//   - NoLeftoverProcess: when a process exits, a grandchild it left
//     running is ended too, and its output streams reach EOF.
//   - ConcurrentStarts: processes started at once keep their output apart.
//   - CancelledStart: a Start whose context is already cancelled either
//     fails or returns a process that SIGKILL ends; nothing is left.
//   - CancelAfterStart: cancelling Start's context after it returned does
//     not stop the process.
//   - Stats: for a runner whose processes implement sdk.ProcessStatter, a
//     running process reports memory above 0, CPU time that does not
//     decrease from one read to the next and the time of each read; once
//     it has exited, Stats returns an error. Skipped for a runner without
//     Stats unless the options say it has them.
//
// factory is called once per subtest, with the subtest's t; it returns a
// ready (configured) runner. Processes a subtest leaves are killed when it
// ends.
func RunnerSuite(t *testing.T, factory func(t *testing.T) sdk.Runner, opts RunnerSuiteOptions) {
	opts.defaults()
	s := &runnerSuite{factory: factory, opts: opts}
	t.Run("OutputIntactAndSeparated", s.outputIntactAndSeparated)
	t.Run("ExitCode", s.exitCode)
	t.Run("TerminatingSignalReported", s.terminatingSignalReported)
	t.Run("SignalsReachTheGroup", s.signalsReachTheGroup)
	t.Run("StopEscalation", s.stopEscalation)
	t.Run("NoLeftoverProcess", s.noLeftoverProcess)
	t.Run("ConcurrentStarts", s.concurrentStarts)
	t.Run("CancelledStart", s.cancelledStart)
	t.Run("CancelAfterStart", s.cancelAfterStart)
	t.Run("Stats", s.stats)
}

type runnerSuite struct {
	factory func(t *testing.T) sdk.Runner
	opts    RunnerSuiteOptions
}

// runner returns a fresh runner, behind the harness unless Direct.
func (s *runnerSuite) runner(t *testing.T) sdk.Runner {
	t.Helper()
	r := s.factory(t)
	if r == nil {
		t.Fatal("the factory returned a nil runner")
	}
	if s.opts.Direct {
		shutdownAtEnd(t, r)
		return r
	}
	return NewRunnerHarness(t, r)
}

// config returns the ProcessConfig of a suite process.
func (s *runnerSuite) config(t *testing.T, name string, command []string) *sdk.ProcessConfig {
	cfg := &sdk.ProcessConfig{Name: name, Command: command, Env: append([]string(nil), s.opts.Env...)}
	if s.opts.Prepare != nil {
		s.opts.Prepare(t, cfg)
	}
	return cfg
}

// proc is a process under test, its output being read.
type proc struct {
	sdk.Process
	stdout, stderr *stream
	timeout        time.Duration

	waitOnce sync.Once
	waited   chan struct{}
	waitErr  error
}

// start starts a process and kills it when the test ends.
func (s *runnerSuite) start(t *testing.T, r sdk.Runner, name string, command []string) *proc {
	t.Helper()
	p, err := r.Start(context.Background(), s.config(t, name, command))
	if err != nil {
		t.Fatalf("Start %v: %v", command, err)
	}
	if p == nil {
		t.Fatal("Start returned neither a process nor an error")
	}
	return s.track(t, p, name)
}

// track reads p's output and kills p when the test ends.
func (s *runnerSuite) track(t *testing.T, p sdk.Process, name string) *proc {
	pr := &proc{
		Process: p,
		stdout:  readStream(name+"'s stdout", p.Stdout()),
		stderr:  readStream(name+"'s stderr", p.Stderr()),
		timeout: s.opts.Timeout,
		waited:  make(chan struct{}),
	}
	t.Cleanup(func() {
		_ = p.Signal(syscall.SIGKILL)
		select {
		case <-pr.waitAsync():
		case <-time.After(s.opts.Timeout):
			t.Errorf("%s: Wait did not return within %s of a SIGKILL", name, s.opts.Timeout)
		}
	})
	return pr
}

// waitAsync calls Wait once in the background.
func (p *proc) waitAsync() <-chan struct{} {
	p.waitOnce.Do(func() {
		go func() {
			p.waitErr = p.Wait()
			close(p.waited)
		}()
	})
	return p.waited
}

// wait returns Wait's result, failing the test when it does not come.
func (p *proc) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-p.waitAsync():
		return p.waitErr
	case <-time.After(p.timeout):
		t.Fatalf("Wait did not return within %s", p.timeout)
		return nil
	}
}

// exited reports whether Wait has returned.
func (p *proc) exited() bool {
	select {
	case <-p.waitAsync():
		return true
	default:
		return false
	}
}

// requireExitError checks that err is an *sdk.ExitError equal to want.
func requireExitError(t *testing.T, err error, want sdk.ExitError) {
	t.Helper()
	var ee *sdk.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Wait returned %v (%T), want an *sdk.ExitError %+v", err, err, want)
	}
	if *ee != want {
		t.Fatalf("Wait returned the exit %+v, want %+v", *ee, want)
	}
}

// pidLine reads the PID a process prints on its first stdout line.
func (p *proc) pidLine(t *testing.T) int {
	t.Helper()
	p.stdout.waitFor(t, p.timeout, "a PID line", func() bool { return len(p.stdout.lines()) > 0 })
	first := strings.TrimSpace(p.stdout.lines()[0])
	pid, err := strconv.Atoi(first)
	if err != nil || pid <= 0 {
		t.Fatalf("the first line of stdout is %q, want the grandchild's PID", first)
	}
	return pid
}

// requireGone waits until pid no longer runs on this machine, when the
// processes are local.
func (s *runnerSuite) requireGone(t *testing.T, pid int, what string) {
	t.Helper()
	if s.opts.RemoteProcesses {
		return
	}
	if !procAvailable() {
		t.Logf("no /proc: cannot check that the %s (pid %d) is gone", what, pid)
		return
	}
	deadline := time.Now().Add(s.opts.Timeout)
	for procAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the %s (pid %d) still runs %s later: a process was left behind", what, pid, s.opts.Timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *runnerSuite) outputIntactAndSeparated(t *testing.T) {
	const nOut, nErr = 3000, 2000
	p := s.start(t, s.runner(t), "output", s.opts.Output(nOut, nErr))
	check := func(st *stream, prefix string, n int) {
		t.Helper()
		got := st.All(t, s.opts.Timeout)
		lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		if !strings.HasSuffix(got, "\n") || len(lines) != n {
			t.Fatalf("%s: %d lines (ends with a newline: %t), want %d: %s", st.name, len(lines), strings.HasSuffix(got, "\n"), n, quote(got))
		}
		for i, l := range lines {
			if want := fmt.Sprintf("%s %d", prefix, i); l != want {
				t.Fatalf("%s: line %d is %q, want %q", st.name, i+1, l, want)
			}
		}
	}
	check(p.stdout, "out", nOut)
	check(p.stderr, "err", nErr)
	if err := p.wait(t); err != nil {
		t.Fatalf("Wait: %v, want nil for exit code 0", err)
	}
}

func (s *runnerSuite) exitCode(t *testing.T) {
	r := s.runner(t)
	ok := s.start(t, r, "exit0", s.opts.Exit(0))
	if err := ok.wait(t); err != nil {
		t.Fatalf("exit 0: Wait returned %v, want nil", err)
	}
	ok.stdout.All(t, s.opts.Timeout)
	ok.stderr.All(t, s.opts.Timeout)

	p := s.start(t, r, "exit3", s.opts.Exit(3))
	requireExitError(t, p.wait(t), sdk.ExitError{Code: 3})
	p.stdout.All(t, s.opts.Timeout)
	p.stderr.All(t, s.opts.Timeout)
	// Wait may be called again and returns the same result.
	again := make(chan error, 1)
	go func() { again <- p.Wait() }()
	select {
	case err := <-again:
		requireExitError(t, err, sdk.ExitError{Code: 3})
	case <-time.After(s.opts.Timeout):
		t.Fatalf("a second Wait did not return within %s", s.opts.Timeout)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signalling a process that has exited: %v, want nil", err)
	}
}

func (s *runnerSuite) terminatingSignalReported(t *testing.T) {
	p := s.start(t, s.runner(t), "sleep", s.opts.Sleep())
	p.stdout.waitLine(t, "ready", s.opts.Timeout)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal(SIGTERM): %v", err)
	}
	requireExitError(t, p.wait(t), sdk.ExitError{Code: -1, Signal: "SIGTERM"})
	p.stdout.All(t, s.opts.Timeout)
	p.stderr.All(t, s.opts.Timeout)
}

func (s *runnerSuite) signalsReachTheGroup(t *testing.T) {
	p := s.start(t, s.runner(t), "group", s.opts.Grandchild())
	grandchild := p.pidLine(t)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal(SIGTERM): %v", err)
	}
	// Only a SIGTERM delivered to the grandchild too ends it; the leader
	// catches its own and waits for the grandchild.
	p.stdout.waitLine(t, "grandchild ended", s.opts.Timeout)
	if err := p.wait(t); err != nil {
		t.Fatalf("Wait: %v, want nil (the leader exits 0 once its grandchild ended)", err)
	}
	p.stdout.All(t, s.opts.Timeout)
	p.stderr.All(t, s.opts.Timeout)
	s.requireGone(t, grandchild, "grandchild")
}

func (s *runnerSuite) stopEscalation(t *testing.T) {
	p := s.start(t, s.runner(t), "stubborn", s.opts.IgnoreTERM())
	p.stdout.waitLine(t, "ready", s.opts.Timeout)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("Signal(SIGTERM): %v", err)
	}
	// Still running: it keeps ticking after the SIGTERM.
	after := p.stdout.count("tick")
	p.stdout.waitFor(t, s.opts.Timeout, "more ticks after SIGTERM", func() bool { return p.stdout.count("tick") >= after+5 })
	if p.exited() {
		t.Fatalf("the process exited after a SIGTERM it ignores: %v", p.waitErr)
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("Signal(SIGKILL): %v", err)
	}
	requireExitError(t, p.wait(t), sdk.ExitError{Code: -1, Signal: "SIGKILL"})
	p.stdout.All(t, s.opts.Timeout)
	p.stderr.All(t, s.opts.Timeout)
	if pid := p.PID(); pid > 0 {
		s.requireGone(t, pid, "process")
	}
}

func (s *runnerSuite) noLeftoverProcess(t *testing.T) {
	p := s.start(t, s.runner(t), "orphan", s.opts.Orphan())
	grandchild := p.pidLine(t)
	if err := p.wait(t); err != nil {
		t.Fatalf("Wait: %v, want nil", err)
	}
	// The grandchild holds both streams: they end only if it is gone.
	p.stdout.All(t, s.opts.Timeout)
	p.stderr.All(t, s.opts.Timeout)
	s.requireGone(t, grandchild, "grandchild left behind by a process that exited")
}

func (s *runnerSuite) concurrentStarts(t *testing.T) {
	const n, nOut, nErr = 8, 300, 200
	r := s.runner(t)
	procs := make([]*proc, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("concurrent%d", i)
			p, err := r.Start(context.Background(), s.config(t, name, s.opts.Output(nOut, nErr)))
			if err != nil {
				errs[i] = err
				return
			}
			procs[i] = &proc{Process: p, stdout: readStream(name+"'s stdout", p.Stdout()),
				stderr: readStream(name+"'s stderr", p.Stderr()), timeout: s.opts.Timeout, waited: make(chan struct{})}
		}()
	}
	wg.Wait()
	for i, p := range procs {
		if p != nil {
			t.Cleanup(func() { _ = p.Signal(syscall.SIGKILL) })
		} else {
			t.Fatalf("concurrent Start %d: %v", i, errs[i])
		}
	}
	for _, p := range procs {
		out, errOut := p.stdout.All(t, s.opts.Timeout), p.stderr.All(t, s.opts.Timeout)
		if got := strings.Count(out, "\n"); got != nOut {
			t.Fatalf("%s: %d lines, want %d", p.stdout.name, got, nOut)
		}
		if got := strings.Count(errOut, "\n"); got != nErr {
			t.Fatalf("%s: %d lines, want %d", p.stderr.name, got, nErr)
		}
		if err := p.wait(t); err != nil {
			t.Fatalf("Wait: %v", err)
		}
	}
}

func (s *runnerSuite) cancelledStart(t *testing.T) {
	check := func(t *testing.T, r sdk.Runner) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		p, err := r.Start(ctx, s.config(t, "cancelled", s.opts.Sleep()))
		if err != nil {
			if p != nil {
				t.Fatal("Start returned both a process and an error")
			}
			return // refused: fine, and nothing was started
		}
		if p == nil {
			t.Fatal("Start returned neither a process nor an error")
		}
		pr := s.track(t, p, "cancelled")
		if err := p.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("Signal(SIGKILL) to a process started with a cancelled context: %v", err)
		}
		if err := pr.wait(t); err == nil {
			t.Fatal("Wait returned nil for a killed process")
		}
		pr.stdout.All(t, s.opts.Timeout)
		pr.stderr.All(t, s.opts.Timeout)
		if pid := p.PID(); pid > 0 {
			s.requireGone(t, pid, "process started with a cancelled context")
		}
	}
	t.Run("Runner", func(t *testing.T) {
		r := s.factory(t)
		shutdownAtEnd(t, r)
		check(t, r)
	})
	if !s.opts.Direct {
		t.Run("Harness", func(t *testing.T) { check(t, s.runner(t)) })
	}
}

func (s *runnerSuite) cancelAfterStart(t *testing.T) {
	r := s.runner(t)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := r.Start(ctx, s.config(t, "ticker", s.opts.IgnoreTERM()))
	cancel()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	pr := s.track(t, p, "ticker")
	pr.stdout.waitLine(t, "ready", s.opts.Timeout)
	after := pr.stdout.count("tick")
	pr.stdout.waitFor(t, s.opts.Timeout, "ticks after the cancellation", func() bool { return pr.stdout.count("tick") >= after+5 })
	if pr.exited() {
		t.Fatalf("the process exited after Start's context was cancelled: %v", pr.waitErr)
	}
}

func (s *runnerSuite) stats(t *testing.T) {
	p := s.start(t, s.runner(t), "stats", s.opts.Sleep())
	p.stdout.waitLine(t, "ready", s.opts.Timeout)
	st, ok := p.Process.(sdk.ProcessStatter)
	if !ok {
		if s.opts.Stats {
			t.Fatalf("the process (%T) does not implement sdk.ProcessStatter", p.Process)
		}
		t.Skip("the runner's processes do not implement sdk.ProcessStatter")
	}
	read := func() sdk.ProcessStats {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
		defer cancel()
		got, err := st.Stats(ctx)
		if errors.Is(err, sdk.ErrUnimplemented) && !s.opts.Stats {
			t.Skip("the runner's processes have no Stats")
		}
		if err != nil {
			t.Fatalf("Stats of a running process: %v", err)
		}
		if got.Time.IsZero() {
			t.Fatalf("Stats returned no read time: %+v", got)
		}
		if got.CPU < 0 {
			t.Fatalf("Stats returned a negative CPU time: %+v", got)
		}
		return got
	}
	first := read()
	// An engine may report memory only once it has sampled the process:
	// poll for it.
	deadline := time.Now().Add(s.opts.Timeout)
	for first.MemoryBytes == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Stats of a running process report no memory within %v: %+v", s.opts.Timeout, first)
		}
		time.Sleep(50 * time.Millisecond)
		first = read()
	}
	second := read()
	if second.CPU < first.CPU {
		t.Fatalf("the CPU time decreased from %v to %v", first.CPU, second.CPU)
	}
	if second.Time.Before(first.Time) {
		t.Fatalf("the second read is dated %v, before the first's %v", second.Time, first.Time)
	}
	if second.MemoryBytes == 0 {
		t.Fatalf("the second read reports no memory: %+v", second)
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("Signal(SIGKILL): %v", err)
	}
	_ = p.wait(t)
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	if got, err := st.Stats(ctx); err == nil {
		t.Fatalf("Stats of an exited process returned %+v and no error", got)
	}
}
