package sdk

import (
	"context"
	"io"
	"os"
	"time"
)

// Runner starts processes: locally, in a container, on another host.
//
// prox calls Start only after Configure (if the runner is Configurable),
// concurrently, for many processes, and again for a process it restarts.
// Shutdown (if it is a Shutdowner) comes last; by then the SDK has sent
// SIGKILL to every process the runner started whose end the host has not
// seen yet.
type Runner interface {
	// Start starts the process described by cfg and returns once it runs
	// (or, for a remote runner, once the remote side has started it):
	// it must not wait for the process to end. ctx covers the start only:
	// when it is cancelled during the start, Start should give up and
	// return its error (or return a process that can still be signalled
	// and waited for); cancelling it after Start returned does not stop
	// the process. An error means no process was left running; it says
	// the cause (`exec: "web": executable file not found in $PATH`), and
	// the host names the process (`failed to start "web": ...`). What the
	// process writes before the caller reads its output is kept (in a
	// pipe, a buffer), not lost.
	Start(ctx context.Context, cfg *ProcessConfig) (Process, error)
}

// DefaultCommander is implemented by runners that can start a process
// without a command, because they have a default of their own (the
// container runner: the image's command). prox requires a command of
// every process of a runner that does not implement it, or whose
// HasDefaultCommand returns false, and `prox validate` reports one
// without it.
type DefaultCommander interface {
	HasDefaultCommand() bool
}

// ProcessConfigurable is implemented by runners that take per-process
// settings: a block named after the runner's kind inside a process block,
// e.g. `container { image = "busybox" }`. The host decodes it against
// ProcessSchema and delivers it as ProcessConfig.Settings.
type ProcessConfigurable interface {
	ProcessSchema() *Schema
}

// ProcessConfig describes one process to start.
type ProcessConfig struct {
	// Name is the process's name in prox.hcl.
	Name string
	// Command is the argv; no shell is implied. It may be empty for runners
	// with a default (a container image's command).
	Command []string
	// Env is the complete environment, "KEY=value" entries.
	Env []string
	// Dir is the working directory; "" means the runner's default.
	Dir string
	// Settings are the per-process settings (see ProcessConfigurable).
	Settings *Config
}

// Process is one running process started by a Runner.
//
// PID, Signal, Stdout and Stderr may be called concurrently with each other
// and with Wait. The caller reads Stdout and Stderr concurrently until both
// return io.EOF; a reader that stops reading eventually stalls the process's
// output (backpressure), it never loses it. The process group is the unit:
// when the process exits, whatever it left running in its group is ended
// too, so that the streams reach EOF and nothing outlives it. The host
// learns of the exit from Wait alone, never from the end of the output: a
// descendant that left the group may hold the streams open, and prox then
// gives up on them shortly after the exit (see OutputCloser).
type Process interface {
	// PID returns the process ID as the runner sees it (on a remote host or
	// in a container it is that system's PID; 0 when unknown).
	PID() int
	// Wait blocks until the process has exited and returns nil for exit
	// code 0, an *ExitError for another code (Code) or a terminating
	// signal (Code -1 and the signal's name, e.g. "SIGTERM"), or another
	// error when the outcome is unknown (e.g. the plugin died). It may be
	// called more than once, concurrently; every call returns the same
	// result.
	Wait() error
	// Signal delivers sig to the process's whole process group (or its
	// equivalent: the container, the remote session's group), so that a
	// grandchild gets it too; it returns once the signal is sent, not
	// when it took effect. Signalling a process that has exited is not an
	// error. prox stops a process with its stop signal, then SIGKILL
	// after the stop timeout: SIGKILL must end it.
	Signal(sig os.Signal) error
	// Stdout returns the process's standard output, bytes exactly as
	// written. The same reader is returned on every call; it returns
	// io.EOF once the process and everything that shared its output have
	// exited.
	Stdout() io.Reader
	// Stderr returns the process's standard error, like Stdout.
	Stderr() io.Reader
}

// OutputCloser is implemented by the processes of the host's Runner, the
// one that talks to a runner plugin (a plugin's own processes need not
// implement it). CloseOutput gives up on the process's output before it
// has ended: a Read blocked in Stdout or Stderr returns at once, as does
// every later one, with an error wrapping ErrOutputClosed; what the host
// had not read by then is lost. prox calls it when a process has exited
// but its output has not ended a while later because something the process
// left running outside its group (a `setsid` descendant) still holds it
// open. It may be called more than once, and concurrently with reads.
type OutputCloser interface {
	CloseOutput()
}

// LocalProcessGroup is implemented by processes that run in their own
// process group on the machine of the plugin (and so of prox): the exec
// runner's. If the plugin dies, prox kills that group, so that no
// grandchild outlives a crashed plugin.
type LocalProcessGroup interface {
	LocalProcessGroup() int
}

// LocalCgroup is implemented by processes that run, with all their
// descendants, in a cgroup of their own on the machine of the plugin (and
// so of prox): the exec runner's where cgroups can be made. LocalCgroup
// returns the cgroup's folder in a cgroup v2 hierarchy, "" if there is none.
// If the plugin dies, prox kills that cgroup (cgroup.kill), so that not even
// a descendant that left the process group outlives a crashed plugin, and
// removes it and, once empty, its parent folder when named "prox-*".
type LocalCgroup interface {
	LocalCgroup() string
}

// Containment is implemented by processes that can say what keeps their
// descendants from outliving them: "cgroup" (a cgroup of their own, killed
// whole), "subreaper" (the plugin adopts and kills what escapes the process
// group), "process-group" (the process group alone). prox shows it in
// `prox ps -json`.
type Containment interface {
	Containment() string
}

// ExecResult is the outcome of a command run by an Execer.
type ExecResult struct {
	// ExitCode is the command's exit code.
	ExitCode int
	// Output is its combined stdout and stderr, possibly shortened.
	Output []byte
}

// Execer is implemented by runners that can run a command where one of
// their processes runs (in its container, over its SSH connection): prox
// uses it for exec health checks. Exec may be called concurrently, while
// the process runs; ctx bounds the command.
type Execer interface {
	Exec(ctx context.Context, p Process, command []string) (ExecResult, error)
}

// ProcessExecer is the host's view of a process whose runner is an
// Execer: Exec runs command where the process runs. It returns an error
// wrapping ErrUnimplemented when the runner cannot.
type ProcessExecer interface {
	Exec(ctx context.Context, command []string) (ExecResult, error)
}

// CapabilityExec is the capability name of Execer in Info.Capabilities.
const CapabilityExec = "exec"

// ProcessStats are a process's resource figures at one moment.
type ProcessStats struct {
	// CPU is the CPU time (user and system) the process has used since it
	// started, its descendants' included where the runner can count them
	// (a cgroup, a container). It never decreases while the process runs.
	CPU time.Duration
	// MemoryBytes is the memory the process holds now, in bytes: its
	// resident set (its descendants' too where the runner can count them).
	MemoryBytes uint64
	// Time is when the figures were read.
	Time time.Time
}

// ProcessStatter is implemented by processes that can tell their CPU time
// and memory (the optional Stats capability): the exec runner's from its
// cgroup or /proc, the container runner's from the engine's stats API, the
// ssh runner's from the remote /proc. prox shows them in `prox top` and
// /metrics. Stats may be called concurrently with the process's other
// methods, while it runs; once the process has exited (Wait returned), it
// returns an error. The host's processes implement it for every runner:
// their Stats returns an error wrapping ErrUnimplemented when the runner's
// processes do not, and one wrapping ErrUnknownHandle once the process
// has exited.
type ProcessStatter interface {
	Stats(ctx context.Context) (ProcessStats, error)
}

// LocalRunner is implemented by runners whose processes run on the host
// prox runs on (the exec runner). prox gives such a process its own
// environment under the process's env, runs it in the config's folder by
// default, and runs its exec health checks on this host; a process of any
// other runner gets only the env and dir written for it. RunsLocally
// returning false is the same as not implementing it.
type LocalRunner interface {
	RunsLocally() bool
}

// CapabilityLocal is the capability name of LocalRunner in
// Info.Capabilities.
const CapabilityLocal = "local"
