package loader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/prox-dev/prox/internal/pluginhost"
	"github.com/prox-dev/prox/internal/runnertag"
	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
)

// Options configure a Loader.
type Options struct {
	// Logger receives the loader's logs and the plugins' own logs.
	Logger hclog.Logger
	// Self is the prox binary that serves the built-in components (with
	// SelfArgs + KIND NAME); default os.Executable().
	Self string
	// SelfArgs precede KIND NAME; default ["plugin-serve"].
	SelfArgs []string
	// Dir is the working directory of plugin processes: the
	// configuration's folder; default prox's own.
	Dir string
	// Lock, when set, holds the SHA-256 every external binary must have.
	Lock *Lock
	// Builtin reports whether kind.name is served by Self.
	Builtin func(kind sdk.Kind, name string) bool
	// External are the plugin blocks of the config.
	External []External
	// PluginDirs are searched for prox-plugin-NAME binaries, in order.
	PluginDirs []string
	// StartTimeout bounds a plugin's handshake; default 10s.
	StartTimeout time.Duration
	// Env is the environment of plugin processes; default os.Environ().
	Env []string
}

// Loader launches plugin components and owns their processes.
type Loader struct {
	opts   Options
	logger hclog.Logger

	mu        sync.Mutex
	instances []*Instance
	closed    bool
	described map[string]*sdk.Description // by binary path
	// reattached are the components attached to debug plugins (see
	// reattach.go).
	reattached map[string]bool
}

// New returns a Loader.
func New(opts Options) (*Loader, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Self == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("failed to find the prox binary: %w", err)
		}
		opts.Self = self
	}
	if opts.SelfArgs == nil {
		opts.SelfArgs = []string{"plugin-serve"}
	}
	if opts.Builtin == nil {
		opts.Builtin = func(sdk.Kind, string) bool { return false }
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if opts.Env == nil {
		opts.Env = os.Environ()
	}
	return &Loader{opts: opts, logger: opts.Logger.Named("loader"), described: map[string]*sdk.Description{}}, nil
}

func (l *Loader) describe(src *Source) (*sdk.Description, error) {
	l.mu.Lock()
	d, ok := l.described[src.Path]
	l.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := describe(src, l.opts.Env)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.described[src.Path] = d
	l.mu.Unlock()
	return d, nil
}

// Launch starts the plugin that serves kind.name, checks its identity and
// API version, and reads its schemas. The caller configures it
// (Instance.Configure) before use.
func (l *Loader) Launch(ctx context.Context, kind sdk.Kind, name string) (*Instance, error) {
	// A component served by a debug plugin needs no resolution (reattach.go).
	src, err := l.reattachSource(kind, name)
	if src == nil && err == nil {
		src, err = l.Resolve(kind, name)
	}
	if err != nil {
		return nil, err
	}
	return l.LaunchSource(ctx, src, kind, name)
}

// LaunchSource launches kind.name from src.
func (l *Loader) LaunchSource(ctx context.Context, src *Source, kind sdk.Kind, name string) (*Instance, error) {
	id := string(kind) + "." + name
	reattach, err := l.reattachment(kind, name)
	if err != nil {
		return nil, err
	}
	if reattach == nil {
		if err := verify(src); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(src.Path, src.Args...)
	// Plugins run in the configuration's folder, so that a relative path in
	// a plugin block (a log file, a volume) means what it says there.
	cmd.Dir = l.opts.Dir
	cmd.Env = append(append([]string{}, l.opts.Env...), sdk.ComponentEnv+"="+id)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group: a Ctrl-C at the terminal reaches prox,
		// which stops everything in order, not the plugins directly.
		Setpgid: true,
		// If prox dies, even by SIGKILL, the plugin gets SIGTERM and kills
		// what it started. The thread that forks it is locked (see spawn).
		Pdeathsig: syscall.SIGTERM,
	}
	logger := newPluginLogger(l.opts.Logger, id)
	if logger.GetLevel() == hclog.Info {
		// go-plugin reports every plugin start and exit at info: that is
		// debug detail for a prox user. Needs IndependentLevels.
		logger.SetLevel(hclog.Warn)
	}
	stderr := &tailBuffer{max: stderrTailSize}
	proc := &pluginProcess{cmd: cmd, log: l.logger.With("component", id)}
	if kind == sdk.KindRunner {
		// A tag of its own in the runner's environment, which it hands on
		// to its processes (internal/runnertag): what they leave can be
		// found once the plugin is gone (pluginProcess.sweep).
		proc.tag = runnertag.New()
		cmd.Env = runnertag.With(cmd.Env, proc.tag)
	}
	// prox's buffer pool for the proto codec too, before the first
	// connection (see wire.InstallBufferPool); once per process.
	wire.InstallBufferPool()
	cc := &plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          pluginhost.HostPlugins(),
		RunnerFunc:       proc.runnerFunc,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Managed:          true,
		SkipHostEnv:      true,
		StartTimeout:     l.opts.StartTimeout,
		Logger:           logger,
		GRPCDialOptions:  wire.ClientOptions(),
		// A copy of the plugin's stderr (go-plugin also logs it), so that a
		// plugin that dies before the handshake can be explained even
		// when the logger discards its lines.
		Stderr: stderr,
	}
	if reattach != nil {
		// Attach to the running debug plugin instead of launching one.
		cc.RunnerFunc, cc.Reattach, proc = nil, reattach, nil
	}
	client := plugin.NewClient(cc)
	// Only the fork runs on the spawner's thread (pluginProcess.Start):
	// plugins launched at once make their handshakes at once.
	rpc, err := client.Client()
	if err != nil {
		// Kill waits for go-plugin's goroutines, the reaping of the process
		// and the reading of its stderr included.
		client.Kill()
		msg, sentinel := explainLaunch(err, cmd.ProcessState)
		if strings.Contains(msg, "timeout while waiting for plugin to start") {
			msg += fmt.Sprintf(" (it did not complete the handshake within %s)", l.opts.StartTimeout)
		}
		if tail := stderr.lastLines(stderrTailLines); tail != "" && sentinel == ErrLaunch {
			msg += "; its last output on stderr:\n" + tail
		}
		if sentinel != ErrLaunch {
			return nil, fmt.Errorf("%w: %w: %s from %s: %s", ErrLaunch, sentinel, id, src.Path, msg)
		}
		return nil, fmt.Errorf("%w: %s from %s: %s", ErrLaunch, id, src.Path, msg)
	}
	inst := &Instance{Kind: kind, Name: name, Source: src, client: client, proc: proc}
	if err := inst.init(ctx, rpc); err != nil {
		client.Kill()
		return nil, fmt.Errorf("%s from %s: %w", id, src.Path, err)
	}
	l.mu.Lock()
	if l.closed {
		// Close ran while this plugin was starting: it would be left
		// behind.
		l.mu.Unlock()
		client.Kill()
		return nil, fmt.Errorf("%w: %s from %s: the loader was closed", ErrLaunch, id, src.Path)
	}
	l.instances = append(l.instances, inst)
	l.mu.Unlock()
	l.logger.Debug("plugin launched", "component", id, "path", src.Path, "pid", inst.PID(), "api_version", inst.APIVersion)
	return inst, nil
}

// explainLaunch turns go-plugin's start errors into advice, and tells
// which sentinel error besides ErrLaunch describes them. state is the
// plugin process's, nil if it was not reaped. go-plugin's messages are
// matched case-insensitively: their capitalisation changed between
// releases.
func explainLaunch(err error, state *os.ProcessState) (string, error) {
	msg := err.Error()
	lower := strings.ToLower(msg)
	exitedEarly := strings.Contains(lower, "exited before we could connect")
	noOutput := strings.Contains(lower, "failed to read any lines from plugin's stdout")
	switch {
	case exitedEarly, noOutput && state != nil && state.Exited():
		// go-plugin reports a plugin that exits before its handshake
		// either way, depending on whether it sees the exit or the end of
		// stdout first.
		msg = "the plugin exited before the handshake"
		if state != nil {
			msg += " (" + state.String() + ")"
		}
		return msg, ErrLaunch
	case strings.Contains(lower, "unrecognized remote plugin message") && !noOutput:
		return msg + "\n(the plugin wrote to stdout before serving, or is not a prox plugin)", ErrLaunch
	case strings.Contains(lower, "incompatible api version"),
		strings.Contains(lower, "incompatible core api version"),
		strings.Contains(lower, "protocol version"):
		return fmt.Sprintf("%s (prox speaks plugin protocol %d)", msg, sdk.ProtocolVersion), ErrIncompatible
	}
	return msg, ErrLaunch
}

// stderrTailSize bounds the copy of a plugin's stderr kept for launch
// errors; stderrTailLines is how many of its last lines an error quotes.
const (
	stderrTailSize  = 4 << 10
	stderrTailLines = 10
)

// tailBuffer is an io.Writer that keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// lastLines returns up to n of the last non-empty lines written, indented.
func (b *tailBuffer) lastLines(n int) string {
	b.mu.Lock()
	text := string(b.buf)
	b.mu.Unlock()
	var lines []string
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimRight(line, "\r \t"); line != "" {
			lines = append(lines, "  "+line)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Close shuts every launched plugin down, all at once: a Shutdown call with
// a deadline, then the process is killed. It returns their errors joined.
// A launch after Close fails.
func (l *Loader) Close(ctx context.Context) error {
	l.mu.Lock()
	instances := l.instances
	l.instances = nil
	l.closed = true
	l.mu.Unlock()
	return closeAll(ctx, instances)
}

// CloseKind shuts down, all at once, every launched plugin of one kind
// (prox up closes its runners while the sinks still drain), as Close
// does; the loader stays open.
func (l *Loader) CloseKind(ctx context.Context, kind sdk.Kind) error {
	l.mu.Lock()
	var closing []*Instance
	l.instances = slices.DeleteFunc(l.instances, func(inst *Instance) bool {
		if inst.Kind == kind {
			closing = append(closing, inst)
			return true
		}
		return false
	})
	l.mu.Unlock()
	return closeAll(ctx, closing)
}

// closeAll closes instances concurrently and joins their errors.
func closeAll(ctx context.Context, instances []*Instance) error {
	var wg sync.WaitGroup
	errs := make([]error, len(instances))
	for i, inst := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = inst.Close(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
