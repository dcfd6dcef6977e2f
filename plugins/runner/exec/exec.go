// Package exec is prox's built-in runner: it starts each process as a local
// child of the plugin, in its own process group, with its standard output
// and standard error captured through separate pipes.
//
// Nothing a process starts outlives it. Where a cgroup v2 hierarchy is
// writable, each process runs in a cgroup of its own (cgroup_linux.go),
// which its descendants cannot leave: once the leader has exited, or at
// the final SIGKILL, cgroup.kill kills the whole tree, descendants that
// left the process group (setsid) included, and the process has ended
// when its cgroup is empty. Elsewhere the plugin is a child subreaper
// (subreaper_linux.go): what escapes a group and loses its parent is
// reparented to the plugin, which kills it with its process. Signals go to
// the process group. Children are started with a parent-death signal of
// SIGKILL, so they die with the plugin even when the plugin cannot clean
// up; prox then kills their groups and cgroups. In the plugin, every
// process also carries the tag prox gave it (internal/runnertag), which its
// descendants inherit: without cgroups, that is how prox finds what escaped
// once the plugin is gone.
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

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/internal/runnertag"
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
	_ sdk.Runner            = (*Runner)(nil)
	_ sdk.Shutdowner        = (*Runner)(nil)
	_ sdk.Process           = (*Process)(nil)
	_ sdk.ProcessStatter    = (*Process)(nil)
	_ sdk.OutputFiler       = (*Process)(nil)
	_ sdk.LocalProcessGroup = (*Process)(nil)
	_ sdk.LocalCgroup       = (*Process)(nil)
	_ sdk.Containment       = (*Process)(nil)
)

// ContainmentEnv, in the runner's environment, caps its containment: with
// "subreaper" it makes no cgroups, with "process-group" it is not a
// subreaper either, as where it cannot be: to compare, to debug, or to let
// a process's descendants that leave its group outlive it. Unset, the
// runner uses the best it can.
const ContainmentEnv = "PROX_EXEC_CONTAINMENT"

// The containments a process can have (sdk.Containment).
const (
	// containCgroup: the process runs in a cgroup of its own.
	containCgroup = "cgroup"
	// containSubreaper: no cgroup; the plugin is a child subreaper.
	containSubreaper = "subreaper"
	// containGroup: only the process group (not even a subreaper).
	containGroup = "process-group"
)

// Runner starts processes as local children. It is safe for concurrent use.
// The zero value is not usable; call New.
type Runner struct {
	log hclog.Logger
	// noCgroups, set before the first Start, makes the runner do without
	// cgroups: tests of the fallback use it.
	noCgroups bool
	// subreaper: without cgroups, the runner may make its process a child
	// subreaper (NewForPlugin).
	subreaper bool
	// tags are added to every process's environment (runnertag.Env): in
	// the plugin, those prox gave it.
	tags []string

	initOnce sync.Once

	mu      sync.Mutex
	procs   map[*Process]struct{} // started and not yet reaped
	shut    bool
	cgroups *cgroupRoot // nil without cgroups
	mode    string      // the containment of new processes
	// noClone3: clone3 cannot start a child in its cgroup (Linux < 5.7):
	// the child is moved there once started.
	noClone3 bool
}

// New returns a Runner that logs to stderr, as JSON for prox, and may run
// in any process: where it cannot make cgroups, a process is held together
// by its process group alone.
func New() *Runner {
	return newRunner(stderrLogger(), false)
}

// NewForPlugin returns a Runner that owns the process it runs in, as in
// the plugin process prox starts: where it cannot make cgroups, it makes
// that process a child subreaper, which adopts what escapes a process
// group and reaps every child that is not one of its processes. Use it only
// in a process that starts no child of its own. Every process's environment
// also gets the tags of the runner's own PROX_RUNNER_TAG, which prox sets
// for each plugin it launches (internal/runnertag).
func NewForPlugin() *Runner {
	r := newRunner(stderrLogger(), true)
	r.tags = runnertag.Parse(os.Getenv(runnertag.Env))
	return r
}

func stderrLogger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: Name, JSONFormat: true, Output: os.Stderr})
}

func newRunner(log hclog.Logger, subreaper bool) *Runner {
	return &Runner{log: log, subreaper: subreaper, procs: make(map[*Process]struct{})}
}

// initContainment picks the containment of the runner's processes, once,
// at the first Start: a cgroup each where that works, else the subreaper.
func (r *Runner) initContainment() {
	var why error = errors.New("cgroups turned off")
	noCgroups := r.noCgroups
	switch capped := os.Getenv(ContainmentEnv); capped {
	case containSubreaper, containGroup:
		why = fmt.Errorf("turned off (%s=%s)", ContainmentEnv, capped)
		noCgroups = true
		if capped == containGroup {
			// Nor does prox look for what escaped (runnertag): the cap lets
			// it live on.
			r.mu.Lock()
			r.subreaper, r.tags = false, nil
			r.mu.Unlock()
		}
	}
	if !noCgroups {
		root, err := newCgroupRoot()
		if err == nil {
			r.mu.Lock()
			r.cgroups, r.mode = root, containCgroup
			r.mu.Unlock()
			// The usual case: said at debug level only, where a fallback is said
			// at info.
			r.log.Debug("each process runs in a cgroup of its own", "parent", root.parent)
			if root.swept > 0 {
				r.log.Warn("killed what earlier runners that were killed left running", "cgroups", root.swept)
			}
			return
		}
		why = err
	}
	r.mu.Lock()
	r.fallBackLocked(why)
	r.mu.Unlock()
}

// fallBackLocked gives up cgroups for the processes started from now on.
func (r *Runner) fallBackLocked(why error) {
	r.cgroups = nil
	if !r.subreaper {
		r.mode = containGroup
		r.log.Info("no cgroup for the processes: each is held together by its process group only", "reason", why)
		return
	}
	if _, err := enableSubreaper(); err != nil {
		r.mode = containGroup
		r.log.Warn("no cgroup and no subreaper: a descendant that leaves its process group can outlive its process",
			"cgroup", why, "subreaper", err)
		return
	}
	r.mode = containSubreaper
	r.log.Info("no cgroup for the processes: the runner is a child subreaper and kills what escapes to it", "reason", why)
}

// containment returns the cgroups (nil without) and containment of a new
// process, and the tags to add to its environment.
func (r *Runner) containment() (*cgroupRoot, string, bool, []string) {
	r.initOnce.Do(r.initContainment)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cgroups, r.mode, r.noClone3, r.tags
}

// fallBack gives up cgroups because of err, unless it was done already.
func (r *Runner) fallBack(root *cgroupRoot, err error) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cgroups == root && root != nil {
		r.fallBackLocked(err)
	}
	return r.mode
}

// RunsLocally implements sdk.LocalRunner: the processes are children of
// the plugin, on prox's host.
func (r *Runner) RunsLocally() bool { return true }

// Start starts cfg.Command (an argv, no shell) with exactly cfg.Env as its
// environment (with NewForPlugin, plus the tags of PROX_RUNNER_TAG, unless
// ContainmentEnv is "process-group"), in cfg.Dir when set, in a new process
// group. argv[0] is looked up in the PATH of cfg.Env, not of the plugin; a
// name containing a slash is taken as a path, relative to cfg.Dir. ctx only
// bounds the wait for a turn to start the process.
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
	root, mode, noClone3, tags := r.containment()
	// A nil Env would make os/exec pass on the plugin's own environment.
	env := runnertag.With(cfg.Env, tags...)
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
	newCmd := func(cgroupFD int) *osexec.Cmd {
		return &osexec.Cmd{
			Path: path,
			Args: cfg.Command,
			Env:  env,
			Dir:  cfg.Dir,
			// Stdin nil is /dev/null. *os.File outputs are handed to the
			// child as they are: no copying goroutine inside os/exec.
			Stdout:      stdoutW,
			Stderr:      stderrW,
			SysProcAttr: sysProcAttr(cgroupFD),
		}
	}

	var cg *cgroup
	cgroupFD := -1
	if root != nil {
		cg, err = root.newCgroup(cfg.Name)
		if err == nil && !noClone3 {
			cgroupFD, err = cg.openDir()
			if err != nil {
				_ = cg.remove()
			}
		}
		if err != nil {
			cg = nil
			mode = r.fallBack(root, err)
		}
	}

	// Until the child is registered, it must not be taken for an orphan.
	forkMu.RLock()
	cmd := newCmd(cgroupFD)
	err = spawn(ctx, cmd)
	if err != nil && cgroupFD >= 0 && ctx.Err() == nil {
		// The placement in the cgroup may be what failed: without it, does
		// the process start?
		cmd = newCmd(-1)
		if retryErr := spawn(ctx, cmd); retryErr != nil {
			err = retryErr
		} else {
			if errors.Is(err, unix.ENOSYS) {
				// No clone3: move each child once started.
				r.mu.Lock()
				r.noClone3 = true
				r.mu.Unlock()
				noClone3 = true
			} else {
				r.log.Warn("cannot start a process in its cgroup", "error", err)
				_ = cg.remove()
				cg = nil
				mode = r.fallBack(root, fmt.Errorf("start in a cgroup: %w", err))
			}
			err = nil
		}
	}
	if cgroupFD >= 0 {
		_ = unix.Close(cgroupFD)
	}
	// The child holds its own copies of the write ends; ours must go, or
	// the readers would never see EOF.
	closeAll(stdoutW, stderrW)
	if err != nil {
		forkMu.RUnlock()
		if cg != nil {
			_ = cg.remove()
		}
		closeAll(stdoutR, stderrR)
		return nil, err
	}

	// The child is reaped by PID (see waitExit): os's own handle on it, a
	// pidfd, would only be a second descriptor per process. The rest of
	// cmd (argv, environment) is not needed either once the child runs.
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	if cg != nil && noClone3 {
		// A descendant forked before the move is left out of the cgroup:
		// the price of a kernel without clone3.
		if err := cg.add(pid); err != nil {
			r.log.Warn("cannot move a process into its cgroup", "error", err)
			_ = cg.remove()
			cg = nil
			mode = r.fallBack(root, fmt.Errorf("move into a cgroup: %w", err))
		}
	}
	p := &Process{
		pid:    pid,
		cg:     cg,
		mode:   mode,
		stdout: &outputReader{f: stdoutR},
		stderr: &outputReader{f: stderrR},
		done:   make(chan struct{}),
	}
	if subreaperOn() != nil {
		if pi, ok := readProc(pid); ok {
			p.start = pi.start
		}
	}
	registerLeader(p)
	forkMu.RUnlock()
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

// Shutdown kills every process not yet reaped, with its whole tree, and
// waits, up to 5 seconds, until they are gone; then it removes the
// runner's cgroups, or kills the orphans left to the subreaper. Later
// Starts fail. Calling it again does no harm.
func (r *Runner) Shutdown() error {
	r.mu.Lock()
	r.shut = true
	procs := make([]*Process, 0, len(r.procs))
	for p := range r.procs {
		procs = append(procs, p)
	}
	root := r.cgroups
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
	if root != nil {
		if err := root.shutdown(); err != nil {
			errs = append(errs, err)
		}
	}
	if t := subreaperOn(); t != nil {
		// Orphans whose every possible owner has ended.
		t.collect(nil)
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
