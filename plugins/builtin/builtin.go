// Package builtin is the catalog of the plugins that ship inside the prox
// binary. They run out of process like any other plugin: the host re-executes
// its own binary as `prox plugin-serve KIND NAME`, which calls Serve.
package builtin

import (
	"fmt"
	"sort"

	"github.com/prox-dev/prox/internal/version"
	containerrunner "github.com/prox-dev/prox/plugins/runner/container"
	execrunner "github.com/prox-dev/prox/plugins/runner/exec"
	sshrunner "github.com/prox-dev/prox/plugins/runner/ssh"
	alertmanagersink "github.com/prox-dev/prox/plugins/sink/alertmanager"
	filesink "github.com/prox-dev/prox/plugins/sink/file"
	syslogsink "github.com/prox-dev/prox/plugins/sink/syslog"
	webhooksink "github.com/prox-dev/prox/plugins/sink/webhook"
	"github.com/prox-dev/prox/sdk"
)

// PluginName is the plugin name the built-in components report in Info.
const PluginName = "builtin"

// Component names one built-in component.
type Component struct {
	Kind sdk.Kind
	Name string
}

// String returns "KIND.NAME".
func (c Component) String() string { return string(c.Kind) + "." + c.Name }

var runners = map[string]func() sdk.Runner{
	execrunner.Name:      func() sdk.Runner { return execrunner.NewForPlugin() },
	containerrunner.Name: func() sdk.Runner { return containerrunner.New() },
	sshrunner.Name:       func() sdk.Runner { return sshrunner.New() },
}

var sinks = map[string]func() sdk.Sink{
	alertmanagersink.Name: func() sdk.Sink { return alertmanagersink.New() },
	filesink.Name:         func() sdk.Sink { return filesink.New() },
	webhooksink.Name:      func() sdk.Sink { return webhooksink.New() },
	syslogsink.Name:       func() sdk.Sink { return syslogsink.New() },
}

// Has reports whether kind.name is a built-in component.
func Has(kind sdk.Kind, name string) bool {
	switch kind {
	case sdk.KindRunner:
		_, ok := runners[name]
		return ok
	case sdk.KindSink:
		_, ok := sinks[name]
		return ok
	}
	return false
}

// Components lists the built-in components, sorted.
func Components() []Component {
	var out []Component
	for n := range runners {
		out = append(out, Component{sdk.KindRunner, n})
	}
	for n := range sinks {
		out = append(out, Component{sdk.KindSink, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Serve serves the built-in component kind.name as a plugin process until
// the host ends it.
func Serve(kind, name string) error {
	k := sdk.Kind(kind)
	if !Has(k, name) {
		return fmt.Errorf("no built-in %s named %q", kind, name)
	}
	return sdk.ServeComponent(serveConfig(k, name), k, name)
}

// serveConfig is the configuration that serves the built-in component
// kind.name. The built-ins are prox's own: they take the SDK's
// process-wide tuning, which a third-party plugin chooses.
func serveConfig(kind sdk.Kind, name string) *sdk.ServeConfig {
	cfg := &sdk.ServeConfig{Name: PluginName, Version: version.Version, DefaultBufferPool: true, ReleaseMemory: true}
	switch kind {
	case sdk.KindRunner:
		cfg.Runners = map[string]sdk.Runner{name: runners[name]()}
	case sdk.KindSink:
		cfg.Sinks = map[string]sdk.Sink{name: sinks[name]()}
	}
	return cfg
}

// Schemas returns the schemas the built-in component kind.name declares:
// of its block and, for a runner, of a process's per-process block (nil
// when it declares none); ok is false when there is no such component. The
// component is created for the question only: nothing is served,
// configured or connected to.
func Schemas(kind sdk.Kind, name string) (config, process *sdk.Schema, ok bool) {
	var component any
	switch kind {
	case sdk.KindRunner:
		if newRunner, found := runners[name]; found {
			component = newRunner()
		}
	case sdk.KindSink:
		if newSink, found := sinks[name]; found {
			component = newSink()
		}
	}
	if component == nil {
		return nil, nil, false
	}
	if c, is := component.(sdk.Configurable); is {
		config = c.ConfigSchema()
	}
	if p, is := component.(sdk.ProcessConfigurable); is {
		process = p.ProcessSchema()
	}
	return config, process, true
}
