// Package exec is prox's built-in runner: it starts each process as a local
// child of the plugin, in its own process group, with its standard output
// and standard error captured through separate pipes.
//
// The process group is the unit of control: signals go to the whole group,
// and once the group leader has exited whatever is left of its group is
// killed, so that no descendant outlives its process or holds its output
// open. Children are started with a parent-death signal of SIGKILL, so they
// die with the plugin even when the plugin cannot clean up.
//
// The pipes' read ends are handed to prox at Start (sdk.OutputFiler): prox
// reads a process's output itself, and the bytes do not pass through this
// plugin; when the hand-over cannot happen, the SDK streams them.
//
// The package is Linux-only: it relies on Pdeathsig.
package exec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prox-dev/prox/sdk"
	"golang.org/x/sys/unix"
)

const (
	// Name is the runner's kind in prox.hcl.
	Name = "exec"
	// Version is the runner's version.
	Version = "0.1.0"
)

// shutdownTimeout bounds how long Shutdown waits for killed processes to be
// reaped.
const shutdownTimeout = 5 * time.Second

// defaultPath is searched for a command when cfg.Env has no PATH, as
// execvp(3) does.
const defaultPath = "/bin:/usr/bin"

var (
	_ sdk.Runner      = (*Runner)(nil)
	_ sdk.Shutdowner  = (*Runner)(nil)
	_ sdk.Process     = (*Process)(nil)
	_ sdk.OutputFiler = (*Process)(nil)
)

// Runner starts processes as local children. It is safe for concurrent use.
// The zero value is not usable; call New.
type Runner struct {
	mu    sync.Mutex
	procs map[*Process]struct{} // started and not yet reaped
	shut  bool
}

// New returns a Runner.
func New() *Runner {
	return &Runner{procs: make(map[*Process]struct{})}
}

// RunsLocally implements sdk.LocalRunner: the processes are children of
// the plugin, on prox's host.
func (r *Runner) RunsLocally() bool { return true }

// Start starts cfg.Command (an argv, no shell) with exactly cfg.Env as its
// environment, in cfg.Dir when set, in a new process group. argv[0] is
// looked up in the PATH of cfg.Env, not of the plugin; a name containing a
// slash is taken as a path, relative to cfg.Dir. ctx only bounds the wait
// for a turn to start the process.
func (r *Runner) Start(ctx context.Context, cfg *sdk.ProcessConfig) (sdk.Process, error) {
	p, err := r.start(ctx, cfg)
	if err != nil {
		return nil, err // the cause: prox names the process
	}
	return p, nil
}

func (r *Runner) start(ctx context.Context, cfg *sdk.ProcessConfig) (*Process, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, errors.New("command is required")
	}
	if r.isShut() {
		return nil, errors.New("runner is shut down")
	}
	if cfg.Dir != "" {
		fi, err := os.Stat(cfg.Dir)
		if err != nil {
			return nil, fmt.Errorf("working directory: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("working directory %s is not a directory", cfg.Dir)
		}
	}
	path, err := lookPath(cfg.Command[0], cfg.Env, cfg.Dir)
	if err != nil {
		return nil, err
	}
	// A nil Env would make os/exec pass on the plugin's own environment.
	env := cfg.Env
	if env == nil {
		env = []string{}
	}

	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		closeAll(stdoutR, stdoutW)
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	cmd := &osexec.Cmd{
		Path: path,
		Args: cfg.Command,
		Env:  env,
		Dir:  cfg.Dir,
		// Stdin nil is /dev/null. *os.File outputs are handed to the child
		// as they are: no copying goroutine inside os/exec.
		Stdout:      stdoutW,
		Stderr:      stderrW,
		SysProcAttr: sysProcAttr(),
	}
	err = spawn(ctx, cmd)
	// The child holds its own copies of the write ends; ours must go, or
	// the readers would never see EOF.
	closeAll(stdoutW, stderrW)
	if err != nil {
		closeAll(stdoutR, stderrR)
		return nil, err
	}

	// The child is reaped by PID (see waitExit): os's own handle on it, a
	// pidfd, would only be a second descriptor per process. The rest of
	// cmd (argv, environment) is not needed either once the child runs.
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	p := &Process{
		pid:    pid,
		stdout: &outputReader{f: stdoutR},
		stderr: &outputReader{f: stderrR},
		done:   make(chan struct{}),
	}
	r.mu.Lock()
	shut := r.shut
	if !shut {
		r.procs[p] = struct{}{}
	}
	r.mu.Unlock()
	go p.reap(r)
	if shut {
		// Shutdown ran while the process was being started.
		_ = p.Signal(syscall.SIGKILL)
		_ = p.Wait()
		return nil, errors.New("runner is shut down")
	}
	return p, nil
}

func (r *Runner) isShut() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.shut
}

// forget drops p once it has been reaped.
func (r *Runner) forget(p *Process) {
	r.mu.Lock()
	delete(r.procs, p)
	r.mu.Unlock()
}

// Shutdown sends SIGKILL to the process group of every process not yet
// reaped and waits, up to 5 seconds, until they are. Later Starts fail.
func (r *Runner) Shutdown() error {
	r.mu.Lock()
	r.shut = true
	procs := make([]*Process, 0, len(r.procs))
	for p := range r.procs {
		procs = append(procs, p)
	}
	r.mu.Unlock()

	var errs []error
	for _, p := range procs {
		if err := p.Signal(syscall.SIGKILL); err != nil {
			errs = append(errs, err)
		}
	}
	deadline := time.NewTimer(shutdownTimeout)
	defer deadline.Stop()
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline.C:
			return fmt.Errorf("shutdown: process %d not reaped after %s", p.pid, shutdownTimeout)
		}
	}
	return errors.Join(errs...)
}

// lookPath resolves name as execvp(3) would in the child: a name with a
// slash is used as is (the child resolves it relative to dir after changing
// into it); otherwise each directory of env's PATH is searched, relative
// entries (and "", the current directory) relative to dir. The result of a
// search is made absolute so that the child's change of directory does not
// alter it.
func lookPath(name string, env []string, dir string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathList, ok := getenv(env, "PATH")
	if !ok {
		pathList = defaultPath
	}
	for _, d := range filepath.SplitList(pathList) {
		if d == "" {
			d = "."
		}
		if !filepath.IsAbs(d) && dir != "" {
			d = filepath.Join(dir, d)
		}
		candidate := filepath.Join(d, name)
		if !isExecutable(candidate) {
			continue
		}
		abs, err := filepath.Abs(candidate)
		if err != nil {
			return "", &osexec.Error{Name: name, Err: err}
		}
		return abs, nil
	}
	return "", &osexec.Error{Name: name, Err: osexec.ErrNotFound}
}

// getenv returns the last value of key in env, as the child would see it.
func getenv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() || fi.Mode()&fs.ModeType != 0 {
		return false
	}
	return unix.Access(path, unix.X_OK) == nil
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}
