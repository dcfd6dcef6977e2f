package loader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
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
	described map[string]*sdk.Description // by binary path
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

// Resolve finds the plugin that serves kind.name: a built-in first, then
// the config's plugin blocks, then the plugin directories.
func (l *Loader) Resolve(kind sdk.Kind, name string) (*Source, error) {
	if l.opts.Builtin(kind, name) {
		args := append(append([]string{}, l.opts.SelfArgs...), string(kind), name)
		return &Source{Builtin: true, Path: l.opts.Self, Args: args, Plugin: "builtin"}, nil
	}
	candidates := append(append([]External{}, l.opts.External...), dirPlugins(l.opts.PluginDirs)...)
	var tried []string
	for _, ext := range candidates {
		src := &Source{Path: ext.Path, SHA256: ext.SHA256, Plugin: ext.Name}
		d, err := l.describe(src)
		if err != nil {
			return nil, err
		}
		if provides(d, kind, name) {
			return src, nil
		}
		tried = append(tried, fmt.Sprintf("%s (%s)", ext.Name, d.Summary()))
	}
	msg := fmt.Sprintf("no plugin provides %s %q: it is not built in", kind, name)
	if len(tried) > 0 {
		msg += "; plugins searched: " + strings.Join(tried, ", ")
	} else {
		msg += fmt.Sprintf(" and no external plugin was found (plugin blocks, or %s* files in %s)",
			PluginFilePrefix, strings.Join(l.opts.PluginDirs, ", "))
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, msg)
}

func (l *Loader) describe(src *Source) (*sdk.Description, error) {
	l.mu.Lock()
	d, ok := l.described[src.Path]
	l.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := describe(src)
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
	src, err := l.Resolve(kind, name)
	if err != nil {
		return nil, err
	}
	return l.LaunchSource(ctx, src, kind, name)
}

// LaunchSource launches kind.name from src.
func (l *Loader) LaunchSource(ctx context.Context, src *Source, kind sdk.Kind, name string) (*Instance, error) {
	id := string(kind) + "." + name
	if err := verify(src); err != nil {
		return nil, err
	}
	cmd := exec.Command(src.Path, src.Args...)
	cmd.Env = append(append([]string{}, l.opts.Env...), sdk.ComponentEnv+"="+id)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group: a Ctrl-C at the terminal reaches prox,
		// which stops everything in order, not the plugins directly.
		Setpgid: true,
		// If prox dies, even by SIGKILL, the plugin gets SIGTERM and kills
		// what it started. The launching thread is locked (see spawner).
		Pdeathsig: syscall.SIGTERM,
	}
	logger := l.opts.Logger.Named("plugin").With("component", id)
	if logger.GetLevel() == hclog.Info {
		// go-plugin reports every plugin start and exit at info: that is
		// debug detail for a prox user. Needs IndependentLevels.
		logger.SetLevel(hclog.Warn)
	}
	cc := &plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          sdk.HostPlugins(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Managed:          true,
		SkipHostEnv:      true,
		StartTimeout:     l.opts.StartTimeout,
		Logger:           logger,
		GRPCDialOptions:  sdk.GRPCClientOptions(),
	}
	client := plugin.NewClient(cc)
	var rpc plugin.ClientProtocol
	err := spawn(func() error {
		var err error
		rpc, err = client.Client()
		return err
	})
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("%w: %s from %s: %s", ErrLaunch, id, src.Path, explainLaunch(err))
	}
	inst := &Instance{Kind: kind, Name: name, Source: src, client: client}
	if err := inst.init(ctx, rpc); err != nil {
		client.Kill()
		return nil, fmt.Errorf("%s from %s: %w", id, src.Path, err)
	}
	l.mu.Lock()
	l.instances = append(l.instances, inst)
	l.mu.Unlock()
	l.logger.Debug("plugin launched", "component", id, "path", src.Path, "pid", inst.PID(), "api_version", inst.APIVersion)
	return inst, nil
}

// explainLaunch turns go-plugin's start errors into advice.
func explainLaunch(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		return msg + " (the plugin wrote to stdout before serving, or is not a prox plugin)"
	case strings.Contains(msg, "Incompatible API version"), strings.Contains(msg, "protocol version"):
		return fmt.Sprintf("%s (prox speaks plugin protocol %d)", msg, sdk.ProtocolVersion)
	case strings.Contains(msg, "exited before we could connect"):
		return msg + " (see the plugin's log lines above)"
	}
	return msg
}

// Close shuts every launched plugin down: a Shutdown call with a deadline,
// then the process is killed. It returns the first error.
func (l *Loader) Close(ctx context.Context) error {
	l.mu.Lock()
	instances := l.instances
	l.instances = nil
	l.mu.Unlock()
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
