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

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin/runner"
)

// pluginProcess is go-plugin's runner of a plugin process that prox
// launches. It is go-plugin's own command runner, except for the fork: that
// happens on the spawner's locked thread (see spawn), and only the fork, so
// that several plugins can start, and complete their handshakes, at once.
type pluginProcess struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr io.ReadCloser
	pid    atomic.Int64
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

// Wait waits for the plugin to exit.
func (p *pluginProcess) Wait(context.Context) error { return p.cmd.Wait() }

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
