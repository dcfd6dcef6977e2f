package loader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"github.com/prox-dev/prox/internal/pluginhost"
	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
)

// Debug mode: a plugin author starts a plugin by hand (`BINARY -debug`,
// possibly under a debugger); it prints the line that sets
// sdk.ReattachEnv, and prox, run with it in its environment (Options.Env),
// attaches to that running plugin instead of launching one. Nothing is
// resolved, verified or executed for such a component, and prox never
// kills the author's process: it shuts the component down and closes the
// connection, and the plugin then exits by itself. A debug plugin serves
// one block, in one run of prox.

// debugPollInterval is how often the liveness of an attached debug plugin
// is checked.
const debugPollInterval = 50 * time.Millisecond

// reattachConfigs returns the parsed sdk.ReattachEnv of Options.Env, nil
// when it is unset.
func (l *Loader) reattachConfigs() (map[string]wire.ReattachConfig, error) {
	value := ""
	for _, kv := range l.opts.Env {
		if v, ok := strings.CutPrefix(kv, sdk.ReattachEnv+"="); ok {
			value = v // the last one wins, as for getenv
		}
	}
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	rcs, err := pluginhost.ParseReattach(value)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (unset it to launch plugins normally)", ErrLaunch, err)
	}
	return rcs, nil
}

// reattachSource returns the Source of kind.name when sdk.ReattachEnv
// names it, nil otherwise: such a component needs no resolution.
func (l *Loader) reattachSource(kind sdk.Kind, name string) (*Source, error) {
	rcs, err := l.reattachConfigs()
	if err != nil {
		return nil, err
	}
	rc, ok := rcs[string(kind)+"."+name]
	if !ok {
		return nil, nil
	}
	path := fmt.Sprintf("the debug plugin (pid %d)", rc.PID)
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(rc.PID) + "/exe"); err == nil {
		path = exe
	}
	return &Source{Path: path, Plugin: "debug"}, nil
}

// reattachment returns the go-plugin configuration that attaches to
// kind.name when sdk.ReattachEnv names it, nil otherwise. A debug plugin
// is attached once per Loader.
func (l *Loader) reattachment(kind sdk.Kind, name string) (*plugin.ReattachConfig, error) {
	id := string(kind) + "." + name
	rcs, err := l.reattachConfigs()
	if err != nil {
		return nil, err
	}
	rc, ok := rcs[id]
	if !ok {
		return nil, nil
	}
	where := fmt.Sprintf("%s of %s (pid %d, %s %s)", id, sdk.ReattachEnv, rc.PID, rc.Network, rc.Address)
	if rc.ProtocolVersion != sdk.ProtocolVersion {
		return nil, fmt.Errorf("%w: %s: the debug plugin speaks plugin protocol %d, prox speaks %d: rebuild it against this prox's sdk",
			ErrIncompatible, where, rc.ProtocolVersion, sdk.ProtocolVersion)
	}
	addr, err := rc.Addr()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrLaunch, where, err)
	}
	l.mu.Lock()
	used := l.reattached[id]
	if l.reattached == nil {
		l.reattached = map[string]bool{}
	}
	l.reattached[id] = true
	l.mu.Unlock()
	if used {
		return nil, fmt.Errorf("%w: %s: this debug plugin is already attached, and it serves one block in one run of prox: "+
			"use a config with one %s block, and start the plugin again for each run", ErrLaunch, where, id)
	}
	return &plugin.ReattachConfig{
		Protocol:        plugin.Protocol(rc.Protocol),
		ProtocolVersion: rc.ProtocolVersion,
		Addr:            addr,
		Pid:             rc.PID,
		ReattachFunc: func() (runner.AttachedRunner, error) {
			if !debugPluginRunning(rc.PID) {
				return nil, fmt.Errorf("%s: no process %d runs: start the plugin again in debug mode and export the line it prints, "+
					"or unset %s", where, rc.PID, sdk.ReattachEnv)
			}
			conn, err := net.DialTimeout(addr.Network(), addr.String(), 5*time.Second)
			if err != nil {
				return nil, fmt.Errorf("%s: the plugin does not answer (%w): start it again in debug mode, or unset %s",
					where, err, sdk.ReattachEnv)
			}
			_ = conn.Close()
			return &debugPlugin{pid: rc.PID, detached: make(chan struct{})}, nil
		},
	}, nil
}

// debugPlugin is go-plugin's handle on an attached debug plugin. Unlike a
// launched plugin's, its Kill never kills: the process is the author's,
// perhaps stopped in a debugger. Kill only stops waiting for it.
type debugPlugin struct {
	pid      int
	detached chan struct{}
	once     sync.Once
}

var _ runner.AttachedRunner = (*debugPlugin)(nil)

// Wait returns once the plugin process has exited, or after Kill.
func (d *debugPlugin) Wait(ctx context.Context) error {
	tick := time.NewTicker(debugPollInterval)
	defer tick.Stop()
	for debugPluginRunning(d.pid) {
		select {
		case <-d.detached:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Kill detaches from the plugin without signalling it.
func (d *debugPlugin) Kill(context.Context) error {
	d.once.Do(func() { close(d.detached) })
	return nil
}

// ID returns the plugin's PID.
func (d *debugPlugin) ID() string { return strconv.Itoa(d.pid) }

// PluginToHost keeps the plugin's addresses: it runs on this machine.
func (d *debugPlugin) PluginToHost(network, address string) (string, string, error) {
	return network, address, nil
}

// HostToPlugin keeps the host's addresses: the plugin runs on this machine.
func (d *debugPlugin) HostToPlugin(network, address string) (string, string, error) {
	return network, address, nil
}

// debugPluginRunning reports whether pid runs: it exists and, where /proc
// tells, is not a zombie waiting for its parent (the author's shell).
func debugPluginRunning(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		// Without /proc at all, trust kill; with it, the process is gone.
		_, noProc := os.Stat("/proc/self")
		return noProc != nil
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) == 0 || f[0] != "Z"
}
