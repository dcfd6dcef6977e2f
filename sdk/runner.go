package sdk

import (
	"context"
	"io"
	"os"
)

// Runner starts processes: locally, in a container, on another host. It is
// the seed's ProcessRunner contract.
//
// Start may be called concurrently, for many processes.
type Runner interface {
	// Start starts the process described by cfg and returns once it runs.
	// ctx covers the start only: cancelling it after Start returned does
	// not stop the process. An error means no process was left running.
	Start(ctx context.Context, cfg *ProcessConfig) (Process, error)
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
// output (backpressure), it never loses it.
type Process interface {
	// PID returns the process ID as the runner sees it (on a remote host or
	// in a container it is that system's PID; 0 when unknown).
	PID() int
	// Wait blocks until the process has exited and returns nil for exit
	// code 0, an *ExitError for another code or a terminating signal, or
	// another error when the outcome is unknown (e.g. the plugin died).
	// It may be called more than once; every call returns the same result.
	Wait() error
	// Signal delivers sig to the process's whole process group (or its
	// equivalent). Signalling a process that has exited is not an error.
	Signal(sig os.Signal) error
	// Stdout returns the process's standard output.
	Stdout() io.Reader
	// Stderr returns the process's standard error.
	Stderr() io.Reader
}

// LocalProcessGroup is implemented by processes that run in their own
// process group on the machine of the plugin (and so of prox): the exec
// runner's. If the plugin dies, prox kills that group, so that no
// grandchild outlives a crashed plugin.
type LocalProcessGroup interface {
	LocalProcessGroup() int
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
