package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/prox-dev/prox/internal/wire"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ServeConfig lists the components a plugin binary serves.
type ServeConfig struct {
	// Name is the plugin's name, e.g. "myplugin". Required.
	Name string
	// Version is the plugin's version, e.g. "0.1.0". Required.
	Version string
	// APIVersions overrides the API versions the components speak; default
	// APIVersions.
	APIVersions []int
	// Runners are the runner components by name.
	Runners map[string]Runner
	// Sinks are the sink components by name.
	Sinks map[string]Sink
	// Logger receives the SDK's logs; default a JSON hclog logger on stderr,
	// which the host turns into its own log lines.
	Logger hclog.Logger

	// DefaultBufferPool makes the SDK's gRPC buffer pool gRPC's
	// process-wide default before the plugin serves: less CPU per large
	// log message. Off by default, since it changes the
	// pool of every gRPC connection of the process, including the
	// plugin's own to other services; prox's built-in plugins turn it on.
	DefaultBufferPool bool
	// ReleaseMemory makes the plugin give its idle memory back to the
	// operating system: its freed heap (debug.FreeOSMemory) and the pages
	// of its binary that its work touched once (package initialisers, the
	// launch, a start of every process), which come back from the page
	// cache when they are used again. It does so once the host has
	// configured it (its launch is over), and whenever it has served no
	// call for a second after serving some, so that an idle plugin holds a
	// few megabytes, not tens. Off by default, since it acts on the whole
	// process; prox's built-in plugins turn it on.
	ReleaseMemory bool
}

// Description is what `<binary> describe` prints.
type Description struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	APIVersions []int    `json:"api_versions"`
	Runners     []string `json:"runners"`
	Sinks       []string `json:"sinks"`
}

// Describe returns the description of the plugin set.
func (c *ServeConfig) Describe() *Description {
	d := &Description{Name: c.Name, Version: c.Version, APIVersions: c.apiVersions(), Runners: []string{}, Sinks: []string{}}
	for n := range c.Runners {
		d.Runners = append(d.Runners, n)
	}
	for n := range c.Sinks {
		d.Sinks = append(d.Sinks, n)
	}
	sort.Strings(d.Runners)
	sort.Strings(d.Sinks)
	return d
}

func (c *ServeConfig) apiVersions() []int {
	if len(c.APIVersions) > 0 {
		return c.APIVersions
	}
	return APIVersions
}

// Serve runs the plugin binary:
//
//   - with the single argument "describe", it prints the Description as
//     JSON and returns, without starting gRPC;
//   - with the argument "-debug" (optionally followed by KIND.NAME), or with
//     DebugEnv set when no host launched it, it serves in debug mode (see
//     ServeDebug): for an author who runs the plugin by hand, under a
//     debugger, and attaches prox to it;
//   - otherwise it serves the component the host asked for (ComponentEnv,
//     or the only one) until the host ends it.
//
// Nothing may be written to stdout before Serve: go-plugin's handshake uses
// it. Serve exits the process with status 1 on a configuration error.
func Serve(c *ServeConfig) {
	args := os.Args[1:]
	if len(args) == 1 && args[0] == "describe" {
		if err := json.NewEncoder(os.Stdout).Encode(c.Describe()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if component, ok := debugRequested(args, os.Getenv); ok {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := ServeDebug(ctx, c, component, os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", c.Name, err)
			os.Exit(1)
		}
		return
	}
	if err := serve(c, os.Getenv(ComponentEnv), os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", c.Name, err)
		os.Exit(1)
	}
}

// ServeComponent serves the component kind.name of c; it is Serve for hosts
// that pick the component by argument (prox's own plugin-serve command).
func ServeComponent(c *ServeConfig, kind Kind, name string) error {
	return serve(c, string(kind)+"."+name, os.Stderr)
}

// componentSet returns the go-plugin plugin set that serves one component
// described by info, and the function that releases what the component
// holds when the plugin must go without the host's Shutdown call (nil for
// a sink): for a runner, it kills whatever the runner started, then calls
// its Shutdown (Shutdowner) unless the host did, bounded to
// releaseTimeout. Serve and ServeDebug share it. With a trim
// (ServeConfig.ReleaseMemory), the plugin gives its idle memory back once
// the host has configured it: its launch is over.
func componentSet(info Info, component any, trim *idleTrim) (plugin.PluginSet, func()) {
	set := plugin.PluginSet{}
	base := &baseServer{info: info, component: component}
	if trim != nil {
		base.configured = func() { go trim.release() }
	}
	var release func()
	switch info.Kind {
	case KindRunner:
		rs := newRunnerServer(component.(Runner))
		base.shutdown = rs.killAll
		rs.base = base
		set[pluginRunner] = &runnerPlugin{server: rs}
		release = func() {
			rs.killAll()
			base.releaseComponent(releaseTimeout)
		}
	case KindSink:
		set[pluginSink] = &sinkPlugin{server: &sinkServer{impl: component.(Sink)}}
	}
	set[pluginBase] = &basePlugin{server: base}
	return set, release
}

// releaseTimeout bounds a runner's Shutdown when the plugin must go
// without the host's call: as long as the host would have waited for it.
const releaseTimeout = 5 * time.Second

// component returns the component kind.name of c and its Info.
func (c *ServeConfig) component(kind Kind, name string) (Info, any) {
	info := Info{Plugin: c.Name, Name: name, Kind: kind, Version: c.Version, APIVersions: c.apiVersions()}
	if kind == KindRunner {
		return info, c.Runners[name]
	}
	return info, c.Sinks[name]
}

// grpcServer returns the function that builds the plugin's gRPC server:
// prox's message limits and buffer pool, and trim's interceptors.
func grpcServer(trim *idleTrim) func([]grpc.ServerOption) *grpc.Server {
	return func(opts []grpc.ServerOption) *grpc.Server {
		opts = append(opts, wire.ServerOptions()...)
		opts = append(opts, trim.serverOptions()...)
		return grpc.NewServer(opts...)
	}
}

func serve(c *ServeConfig, component string, stderr io.Writer) error {
	kind, name, err := c.pick(component)
	if err != nil {
		return err
	}
	logger := c.Logger
	if logger == nil {
		logger = hclog.New(&hclog.LoggerOptions{Name: c.Name, Output: stderr, JSONFormat: true, Level: hclog.Trace})
	}
	info, comp := c.component(kind, name)
	trim := newIdleTrim(c.ReleaseMemory)
	set, release := componentSet(info, comp, trim)
	if c.DefaultBufferPool {
		wire.InstallBufferPool() // before plugin.Serve starts any gRPC
	}

	// The host gives its plugins a parent-death signal of SIGTERM, and may
	// send SIGTERM itself: release everything (a runner kills its processes
	// and shuts down, removing what it made for them) before exiting, so
	// nothing outlives the host.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		if release != nil {
			release()
		}
		// Exiting here skips go-plugin's own cleanup of its socket.
		removeSocketDir(os.Getenv(plugin.EnvUnixSocketDir))
		os.Exit(2)
	}()

	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         set,
		Logger:          logger,
		GRPCServer:      grpcServer(trim),
	})
	return nil
}

// socketDirPrefix starts the name of the folder a go-plugin host creates
// for one plugin's socket (os.MkdirTemp(..., "plugin-dir")) and names in
// plugin.EnvUnixSocketDir.
const socketDirPrefix = "plugin-dir"

// removeSocketDir removes the sockets in dir, and dir once empty, when dir
// is a folder a go-plugin host made for this plugin alone. The host removes
// it when it ends the plugin; when the host itself was killed (prox after
// SIGKILL: its plugins get SIGTERM as their parent-death signal), nobody
// else would, and every such death would leave a folder in the temporary
// directory. Anything but sockets, or a folder of another name, is left
// alone.
func removeSocketDir(dir string) {
	if dir == "" || !strings.HasPrefix(filepath.Base(dir), socketDirPrefix) {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Type()&fs.ModeSocket != 0 {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	_ = os.Remove(dir) // fails, harmlessly, unless it is empty now
}

// pick resolves "KIND.NAME" (or "" with a single component) to a component.
func (c *ServeConfig) pick(component string) (Kind, string, error) {
	if component == "" {
		total := len(c.Runners) + len(c.Sinks)
		if total != 1 {
			return "", "", fmt.Errorf("%d components; set %s to KIND.NAME to pick one", total, ComponentEnv)
		}
		for n := range c.Runners {
			return KindRunner, n, nil
		}
		for n := range c.Sinks {
			return KindSink, n, nil
		}
	}
	kind, name, ok := strings.Cut(component, ".")
	if !ok {
		return "", "", fmt.Errorf("component %q is not KIND.NAME", component)
	}
	switch Kind(kind) {
	case KindRunner:
		if _, ok := c.Runners[name]; ok {
			return KindRunner, name, nil
		}
	case KindSink:
		if _, ok := c.Sinks[name]; ok {
			return KindSink, name, nil
		}
	default:
		return "", "", fmt.Errorf("unknown component kind %q (want runner or sink)", kind)
	}
	return "", "", fmt.Errorf("this plugin has no %s named %q (it has %s)", kind, name, c.Describe().Summary())
}

// Summary lists the components as "runner.NAME, sink.NAME".
func (d *Description) Summary() string {
	var parts []string
	for _, r := range d.Runners {
		parts = append(parts, "runner."+r)
	}
	for _, s := range d.Sinks {
		parts = append(parts, "sink."+s)
	}
	if len(parts) == 0 {
		return "no components"
	}
	return strings.Join(parts, ", ")
}
