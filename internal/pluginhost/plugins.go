package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/go-plugin"
	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/proto"
	"google.golang.org/grpc"
)

// Names under which go-plugin dispenses a component's services: the
// sdk serves them by the same names.
const (
	pluginBase   = "base"
	pluginRunner = string(sdk.KindRunner)
	pluginSink   = string(sdk.KindSink)
)

// errHostOnly answers a plugin-side call of the host's glue: the host never
// serves (the sdk does).
var errHostOnly = errors.New("the host dispenses plugins; the sdk serves them")

// basePlugin glues the base service's client into go-plugin.
type basePlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (basePlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return errHostOnly }

func (basePlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &baseClient{client: proto.NewBaseClient(c)}, nil
}

// runnerPlugin glues the runner service's client into go-plugin.
type runnerPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (runnerPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return errHostOnly }

func (runnerPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &runnerClient{client: proto.NewRunnerClient(c)}, nil
}

// sinkPlugin glues the sink service's client into go-plugin.
type sinkPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (sinkPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return errHostOnly }

func (sinkPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return newSinkClient(c), nil
}

// HostPlugins is the plugin set a host passes to go-plugin's ClientConfig.
func HostPlugins() plugin.PluginSet {
	return plugin.PluginSet{
		pluginBase:   basePlugin{},
		pluginRunner: runnerPlugin{},
		pluginSink:   sinkPlugin{},
	}
}

// Dispensed is what a host gets from a connected plugin component.
type Dispensed struct {
	Base   Base
	Runner sdk.Runner // set for runner components
	Sink   sdk.Sink   // set for sink components
}

// Dispense returns the base service and the kind's service of a connected
// plugin client.
func Dispense(c plugin.ClientProtocol, kind sdk.Kind) (*Dispensed, error) {
	raw, err := c.Dispense(pluginBase)
	if err != nil {
		return nil, err
	}
	d := &Dispensed{Base: raw.(Base)}
	switch kind {
	case sdk.KindRunner:
		raw, err = c.Dispense(pluginRunner)
		if err != nil {
			return nil, err
		}
		d.Runner = raw.(sdk.Runner)
	case sdk.KindSink:
		raw, err = c.Dispense(pluginSink)
		if err != nil {
			return nil, err
		}
		d.Sink = raw.(sdk.Sink)
	}
	return d, nil
}

// ParseReattach parses the value of ReattachEnv. Surrounding single quotes,
// left over from copying the printed line into a file, are tolerated.
func ParseReattach(value string) (map[string]wire.ReattachConfig, error) {
	value = strings.TrimSpace(value)
	if len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'' {
		value = value[1 : len(value)-1]
	}
	var out map[string]wire.ReattachConfig
	if err := json.Unmarshal([]byte(value), &out); err != nil {
		return nil, fmt.Errorf("%s is not the JSON a plugin prints in debug mode: %w", sdk.ReattachEnv, err)
	}
	for id, rc := range out {
		kind, name, ok := strings.Cut(id, ".")
		if !ok || name == "" || (sdk.Kind(kind) != sdk.KindRunner && sdk.Kind(kind) != sdk.KindSink) {
			return nil, fmt.Errorf("%s: key %q is not runner.NAME or sink.NAME", sdk.ReattachEnv, id)
		}
		switch {
		case rc.Protocol != string(plugin.ProtocolGRPC):
			return nil, fmt.Errorf("%s: %s: protocol %q, want %q", sdk.ReattachEnv, id, rc.Protocol, plugin.ProtocolGRPC)
		case rc.Network != "unix" && rc.Network != "tcp":
			return nil, fmt.Errorf("%s: %s: network %q, want \"unix\" or \"tcp\"", sdk.ReattachEnv, id, rc.Network)
		case rc.Address == "":
			return nil, fmt.Errorf("%s: %s: no address", sdk.ReattachEnv, id)
		case rc.PID <= 0:
			return nil, fmt.Errorf("%s: %s: no pid", sdk.ReattachEnv, id)
		}
	}
	return out, nil
}
