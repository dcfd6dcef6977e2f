package sdktest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// ExecerSuiteOptions adapt ExecerSuite to a runner. The zero value suits a
// runner whose processes run POSIX commands on this machine, with `sh`,
// `printf` and `sleep` where the commands run.
type ExecerSuiteOptions struct {
	// Sleep prints "ready" and runs until a signal ends it: the process the
	// commands run beside. Default SleepCommand.
	Sleep func() []string
	// Exit exits with the given code. Default ExitCommand.
	Exit func(code int) []string
	// Env is the environment of every process. Default: PATH of the test.
	Env []string
	// Dir returns the working folder of the process of the check that
	// commands run in the process's folder: a path without symbolic links
	// where the process runs (`pwd -P` prints it). Default: a temporary
	// folder of this machine.
	Dir func(t *testing.T) string
	// Prepare, when set, adjusts every ProcessConfig before Start (as in
	// RunnerSuiteOptions).
	Prepare func(t *testing.T, cfg *sdk.ProcessConfig)
	// OutputLimit is the number of output bytes Exec keeps. Default
	// 64 KiB, what prox's runners keep.
	OutputLimit int
	// HostProcesses says that the commands run as processes of this
	// machine, seen in its /proc (a container engine or an SSH server on
	// this machine): the suite then checks that a command whose context
	// ends is killed with its children. Default false: that check is
	// skipped.
	HostProcesses bool
	// Direct calls the runner's Exec directly instead of the process's
	// through the gRPC harness (NewRunnerHarness). Default false: through
	// the harness, as prox calls it.
	Direct bool
	// Timeout bounds every wait; default DefaultTimeout.
	Timeout time.Duration
}

func (o *ExecerSuiteOptions) defaults() {
	if o.Sleep == nil {
		o.Sleep = SleepCommand
	}
	if o.Exit == nil {
		o.Exit = ExitCommand
	}
	if o.Env == nil {
		o.Env = []string{"PATH=" + os.Getenv("PATH")}
	}
	if o.Dir == nil {
		o.Dir = func(t *testing.T) string {
			dir, err := filepath.EvalSymlinks(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return dir
		}
	}
	if o.OutputLimit == 0 {
		o.OutputLimit = 64 << 10
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
}

// ExecerSuite checks that the runners factory returns run commands where
// their processes run as prox's exec health checks expect (sdk.Execer),
// one subtest per property:
//
//   - ExitCodesAndOutput: the command's exit code and its stdout and
//     stderr, combined; the argv reaches the command untouched (no shell
//     in between); a command that cannot be found exits 127 and names
//     itself; the process runs on.
//   - DirAndEnv: the command runs in the process's folder, with its
//     environment.
//   - Concurrent: commands run at once each get their own output.
//   - OutputCapped: of a long output, the first OutputLimit bytes are kept
//     and the exit code is still reported.
//   - ContextEnds: a command outliving its context (cancelled, or past its
//     deadline) makes Exec return an error wrapping the context's; with
//     HostProcesses, the command and its children are gone; the process
//     runs on and takes the next command.
//   - AfterExit: once the process has exited, Exec is an error.
//   - Refusals: an empty command is an error; and (Direct) so is a process
//     of another runner.
//
// factory is called once per subtest, with the subtest's t; it returns a
// ready (configured) runner, which must implement sdk.Execer.
func ExecerSuite(t *testing.T, factory func(t *testing.T) sdk.Runner, opts ExecerSuiteOptions) {
	opts.defaults()
	s := &execerSuite{runners: runnerSuite{factory: factory, opts: RunnerSuiteOptions{
		Env: opts.Env, Prepare: opts.Prepare, Direct: opts.Direct, Timeout: opts.Timeout,
	}}, opts: opts}
	t.Run("ExitCodesAndOutput", s.exitCodesAndOutput)
	t.Run("DirAndEnv", s.dirAndEnv)
	t.Run("Concurrent", s.concurrent)
	t.Run("OutputCapped", s.outputCapped)
	t.Run("ContextEnds", s.contextEnds)
	t.Run("AfterExit", s.afterExit)
	t.Run("Refusals", s.refusals)
}

type execerSuite struct {
	runners runnerSuite
	opts    ExecerSuiteOptions
}

// execer is a process under test and the means to run commands beside it.
type execer struct {
	*proc
	exec    func(ctx context.Context, command []string) (sdk.ExecResult, error)
	timeout time.Duration
}

// running starts a suite process (cfg adjusted by adjust, when set), waits
// for its "ready" line and returns it with its Exec.
func (s *execerSuite) running(t *testing.T, adjust func(cfg *sdk.ProcessConfig)) *execer {
	t.Helper()
	r := s.runners.runner(t)
	cfg := s.runners.config(t, "exec-target", s.opts.Sleep())
	if adjust != nil {
		adjust(cfg)
	}
	p, err := r.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start %v: %v", cfg.Command, err)
	}
	e := s.execer(t, r, s.runners.track(t, p, cfg.Name))
	e.stdout.waitLine(t, "ready", s.opts.Timeout)
	return e
}

// execer returns p's Exec: the runner's (Direct) or the host process's.
func (s *execerSuite) execer(t *testing.T, r sdk.Runner, p *proc) *execer {
	t.Helper()
	e := &execer{proc: p, timeout: s.opts.Timeout}
	if s.opts.Direct {
		ex, ok := r.(sdk.Execer)
		if !ok {
			t.Fatalf("the runner (%T) is not an sdk.Execer", r)
		}
		e.exec = func(ctx context.Context, command []string) (sdk.ExecResult, error) {
			return ex.Exec(ctx, p.Process, command)
		}
		return e
	}
	ex, ok := p.Process.(sdk.ProcessExecer)
	if !ok {
		t.Fatalf("the host's process (%T) is not an sdk.ProcessExecer", p.Process)
	}
	e.exec = ex.Exec
	return e
}

// run runs command with a deadline of the suite's timeout.
func (e *execer) run(command ...string) (sdk.ExecResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	return e.exec(ctx, command)
}

// mustRun runs command and fails the test on an error.
func (e *execer) mustRun(t *testing.T, command ...string) sdk.ExecResult {
	t.Helper()
	res, err := e.run(command...)
	if err != nil {
		t.Fatalf("Exec %q: %v", command, err)
	}
	return res
}

// requireResult checks an ExecResult.
func requireResult(t *testing.T, what string, got sdk.ExecResult, code int, output string) {
	t.Helper()
	if got.ExitCode != code || string(got.Output) != output {
		t.Fatalf("%s: got exit code %d and output %s, want %d and %s", what, got.ExitCode, quote(string(got.Output)), code, quote(output))
	}
}

// requireRunning checks that the process has not exited.
func (e *execer) requireRunning(t *testing.T) {
	t.Helper()
	if e.exited() {
		t.Fatalf("the process exited (%v) while commands ran beside it", e.waitErr)
	}
}

func (s *execerSuite) exitCodesAndOutput(t *testing.T) {
	e := s.running(t, nil)

	requireResult(t, "echo healthy", e.mustRun(t, "echo", "healthy"), 0, "healthy\n")

	// Standard output and standard error both arrive, combined.
	res := e.mustRun(t, "sh", "-c", "echo to stdout; echo to stderr >&2; exit 3")
	out := string(res.Output)
	if res.ExitCode != 3 || !strings.Contains(out, "to stdout\n") || !strings.Contains(out, "to stderr\n") || len(out) != len("to stdout\nto stderr\n") {
		t.Fatalf("a command writing to both streams: got exit code %d and output %s, want 3 and both lines", res.ExitCode, quote(out))
	}

	// The argv reaches the command untouched: no shell in between.
	requireResult(t, "printf of odd arguments", e.mustRun(t, "printf", "[%s]", "$HOME", "it's", "a b", "`id`"), 0, "[$HOME][it's][a b][`id`]")

	// A command that cannot be found exits 127, as in a shell, and says so.
	res = e.mustRun(t, "prox-no-such-command")
	if res.ExitCode != 127 || !strings.Contains(string(res.Output), "prox-no-such-command") {
		t.Fatalf("a missing command: got exit code %d and output %s, want 127 and its name", res.ExitCode, quote(string(res.Output)))
	}

	e.requireRunning(t)
}

func (s *execerSuite) dirAndEnv(t *testing.T) {
	dir := s.opts.Dir(t)
	e := s.running(t, func(cfg *sdk.ProcessConfig) {
		cfg.Dir = dir
		cfg.Env = append(cfg.Env, "GREETING=hello there")
	})
	res := e.mustRun(t, "sh", "-c", `pwd -P; echo "$GREETING"`)
	requireResult(t, "the folder and a variable", res, 0, dir+"\nhello there\n")
}

func (s *execerSuite) concurrent(t *testing.T) {
	e := s.running(t, nil)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			arg := strings.Repeat("x", i+1)
			res, err := e.run("sh", "-c", "echo check $0", arg)
			switch {
			case err != nil:
				errs[i] = err
			case res.ExitCode != 0 || string(res.Output) != "check "+arg+"\n":
				errs[i] = fmt.Errorf("got exit code %d and output %s, want 0 and %s", res.ExitCode, quote(string(res.Output)), quote("check "+arg+"\n"))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("commands run at once: %v", err)
	}
	e.requireRunning(t)
}

func (s *execerSuite) outputCapped(t *testing.T) {
	e := s.running(t, nil)
	// 200,000 bytes are written; the first OutputLimit are kept.
	res := e.mustRun(t, "sh", "-c", `i=0; while [ $i -lt 20000 ]; do echo 123456789; i=$((i+1)); done; exit 4`)
	all := strings.Repeat("123456789\n", 20000)
	want := all[:min(s.opts.OutputLimit, len(all))]
	if res.ExitCode != 4 || string(res.Output) != want {
		t.Fatalf("a long output: got exit code %d and %d bytes, want 4 and the first %d bytes", res.ExitCode, len(res.Output), len(want))
	}
}

// sleepArg is a number of seconds unique to each use in this test binary,
// so that a command's processes can be told apart in /proc.
var sleepArg atomic.Int64

func init() { sleepArg.Store(int64(100000 + os.Getpid()%10000*100)) }

func (s *execerSuite) contextEnds(t *testing.T) {
	e := s.running(t, nil)
	for _, c := range []struct {
		name string
		want error
		ctx  func() (context.Context, context.CancelFunc)
		end  func(cancel context.CancelFunc)
	}{
		{"cancelled", context.Canceled, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, func(cancel context.CancelFunc) { cancel() }},
		{"deadline", context.DeadlineExceeded, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Second)
		}, nil},
	} {
		// A command with a child of its own, neither of which ends.
		parent, child := strconv.FormatInt(sleepArg.Add(1), 10), strconv.FormatInt(sleepArg.Add(1), 10)
		ctx, cancel := c.ctx()
		type result struct {
			res sdk.ExecResult
			err error
		}
		done := make(chan result, 1)
		go func() {
			res, err := e.exec(ctx, []string{"sh", "-c", "sleep " + child + " & exec sleep " + parent})
			done <- result{res, err}
		}()
		if s.opts.HostProcesses {
			waitUntil(t, s.opts.Timeout, c.name+": the command and its child run", func() bool {
				return hostRunning("sleep "+parent) && hostRunning("sleep "+child)
			})
		}
		if c.end != nil {
			c.end(cancel)
		}
		var got result
		select {
		case got = <-done:
		case <-time.After(s.opts.Timeout):
			cancel()
			t.Fatalf("%s: Exec did not return within %s of its context's end", c.name, s.opts.Timeout)
		}
		cancel()
		if !errors.Is(got.err, c.want) {
			t.Fatalf("%s: Exec returned %v, %v; want an error wrapping %v", c.name, got.res, got.err, c.want)
		}
		if s.opts.HostProcesses {
			waitUntil(t, s.opts.Timeout, c.name+": the command and its child are killed", func() bool {
				return !hostRunning("sleep "+parent) && !hostRunning("sleep "+child)
			})
		}
	}
	e.requireRunning(t)
	requireResult(t, "the next command", e.mustRun(t, "echo", "next"), 0, "next\n")
}

// waitUntil polls cond until it holds, failing the test after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not so within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hostRunning reports whether a live process of this machine has the
// command line cmdline (arguments joined by spaces).
func hostRunning(cmdline string) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
		if err == nil && strings.ReplaceAll(strings.TrimSuffix(string(b), "\x00"), "\x00", " ") == cmdline && procAlive(pid) {
			return true
		}
	}
	return false
}

func (s *execerSuite) afterExit(t *testing.T) {
	r := s.runners.runner(t)
	cfg := s.runners.config(t, "exits", s.opts.Exit(0))
	p, err := r.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start %v: %v", cfg.Command, err)
	}
	e := s.execer(t, r, s.runners.track(t, p, cfg.Name))
	if err := e.wait(t); err != nil {
		t.Fatalf("Wait: %v, want nil", err)
	}
	if res, err := e.run("echo", "hello"); err == nil {
		t.Fatalf("Exec after the process exited returned %+v and no error", res)
	}
}

func (s *execerSuite) refusals(t *testing.T) {
	e := s.running(t, nil)
	if res, err := e.run(); err == nil {
		t.Fatalf("Exec of an empty command returned %+v and no error", res)
	}
	if s.opts.Direct {
		ex := s.runners.factory(t).(sdk.Execer)
		shutdownAtEnd(t, ex)
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
		defer cancel()
		if res, err := ex.Exec(ctx, foreignProcess{}, []string{"true"}); err == nil {
			t.Fatalf("Exec beside a process of another runner returned %+v and no error", res)
		}
	}
	e.requireRunning(t)
}

// foreignProcess is a process of another runner.
type foreignProcess struct{}

func (foreignProcess) PID() int               { return 0 }
func (foreignProcess) Wait() error            { return nil }
func (foreignProcess) Signal(os.Signal) error { return nil }
func (foreignProcess) Stdout() io.Reader      { return strings.NewReader("") }
func (foreignProcess) Stderr() io.Reader      { return strings.NewReader("") }
