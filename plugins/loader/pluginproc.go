package loader

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin/runner"
	"github.com/prox-dev/prox/internal/runnertag"
	"github.com/prox-dev/prox/sdk"
)

// sweepTimeout bounds the sweep of what a runner plugin left (see sweep).
const sweepTimeout = 5 * time.Second

// pluginProcess is go-plugin's runner of a plugin process that prox
// launches. It is go-plugin's own command runner, except for the fork: that
// happens on the spawner's locked thread (see spawn), and only the fork, so
// that several plugins can start, and complete their handshakes, at once.
type pluginProcess struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr io.ReadCloser
	pid    atomic.Int64

	// tag is the runner plugin's tag (runnertag.Env in its environment),
	// "" for a sink; log says what its sweep killed.
	tag string
	log hclog.Logger
	// closing: prox is shutting the plugin down (Instance.Close).
	closing atomic.Bool
	// uncontained: a process it started has no cgroup (noteContainment).
	uncontained atomic.Bool
	// forced: prox killed the plugin, which did not answer its shutdown
	// (Instance.forceKill): it released nothing.
	forced atomic.Bool
}

var _ runner.Runner = (*pluginProcess)(nil)

// runnerFunc is the go-plugin RunnerFunc that runs p's command, with the
// environment go-plugin prepared for the plugin added to the command's own.
func (p *pluginProcess) runnerFunc(_ hclog.Logger, spec *exec.Cmd, _ string) (runner.Runner, error) {
	p.cmd.Env = append(p.cmd.Env, spec.Env...)
	p.cmd.Stdin = spec.Stdin
	var err error
	if p.stdout, err = p.cmd.StdoutPipe(); err != nil {
		return nil, err
	}
	if p.stderr, err = p.cmd.StderrPipe(); err != nil {
		return nil, err
	}
	return p, nil
}

// Start forks the plugin from the locked thread.
func (p *pluginProcess) Start(context.Context) error {
	if err := spawn(p.cmd.Start); err != nil {
		return err
	}
	p.pid.Store(int64(p.cmd.Process.Pid))
	return nil
}

// PID returns the plugin's PID, 0 before it started.
func (p *pluginProcess) PID() int { return int(p.pid.Load()) }

// Wait waits for the plugin to exit; for a runner, it then sweeps what the
// plugin left. go-plugin calls it once, and reports the plugin exited, and
// lets Kill return, only once it returns: so the sweep is over before a
// relaunch, and before prox's stop ends.
func (p *pluginProcess) Wait(context.Context) error {
	err := p.cmd.Wait()
	p.sweep()
	return err
}

// sweep kills every process that carries the runner plugin's tag
// (runnertag.Kill), once the plugin has exited: its processes and what
// they started, also what left its process group and lost its parent,
// which without a cgroup nothing else finds once the plugin, their
// subreaper, is gone. It runs when the plugin died, when prox had to kill
// it (it did not answer its shutdown), and at prox's stop as a last sweep
// when a process of the plugin had no cgroup (with cgroups, the runner's
// Shutdown has emptied them).
func (p *pluginProcess) sweep() {
	if p.tag == "" || (p.closing.Load() && !p.uncontained.Load() && !p.forced.Load()) {
		return
	}
	n, err := runnertag.Kill(p.tag, sweepTimeout)
	switch {
	case err != nil:
		p.log.Error("could not kill everything the runner plugin left", "killed", n, "error", err)
	case n > 0:
		p.log.Warn("killed what the runner plugin's processes left running", "processes", n)
	}
}

// noteContainment records that proc has no cgroup of its own: prox's stop
// will then sweep what the plugin leaves.
func (p *pluginProcess) noteContainment(proc sdk.Process) {
	if c, ok := proc.(sdk.Containment); !ok || c.Containment() != "cgroup" {
		p.uncontained.Store(true)
	}
}

// Kill kills the plugin; killing it again is not an error.
func (p *pluginProcess) Kill(context.Context) error {
	if p.cmd.Process == nil {
		return nil
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// ID returns the plugin's PID.
func (p *pluginProcess) ID() string { return strconv.Itoa(p.PID()) }

// Name returns the plugin binary's path.
func (p *pluginProcess) Name() string { return p.cmd.Path }

// Stdout is where the plugin writes its handshake line.
func (p *pluginProcess) Stdout() io.ReadCloser { return p.stdout }

// Stderr is the plugin's log.
func (p *pluginProcess) Stderr() io.ReadCloser { return p.stderr }

// PluginToHost keeps the plugin's addresses: it runs on this machine.
func (p *pluginProcess) PluginToHost(network, address string) (string, string, error) {
	return network, address, nil
}

// HostToPlugin keeps the host's addresses: the plugin runs on this machine.
func (p *pluginProcess) HostToPlugin(network, address string) (string, string, error) {
	return network, address, nil
}

// Diagnose explains a handshake line go-plugin did not understand.
func (p *pluginProcess) Diagnose(context.Context) string {
	notes := "This usually means\n" +
		"  the plugin was not compiled for this architecture,\n" +
		"  the plugin is missing dynamic-link libraries necessary to run,\n" +
		"  the plugin is not executable by this process due to file permissions, or\n" +
		"  the plugin failed to negotiate the initial go-plugin protocol handshake"
	if f, err := elf.Open(p.cmd.Path); err == nil {
		defer f.Close()
		notes += fmt.Sprintf("\n(%s: ELF architecture %s; prox's is %s)", p.cmd.Path, f.Machine, runtime.GOARCH)
	}
	return notes
}
