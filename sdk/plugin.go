package sdk

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk/proto"
	"google.golang.org/grpc"
)

// Names under which the components are dispensed through go-plugin.
const (
	pluginBase   = "base"
	pluginRunner = string(KindRunner)
	pluginSink   = string(KindSink)
)

// basePlugin glues the base service into go-plugin.
type basePlugin struct {
	plugin.NetRPCUnsupportedPlugin
	server *baseServer
}

func (p *basePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	proto.RegisterBaseServer(s, p.server)
	return nil
}

func (p *basePlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &baseClient{client: proto.NewBaseClient(c)}, nil
}

// runnerPlugin glues the runner service into go-plugin.
type runnerPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	server *runnerServer
}

func (p *runnerPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	proto.RegisterRunnerServer(s, p.server)
	return nil
}

func (p *runnerPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &runnerClient{client: proto.NewRunnerClient(c)}, nil
}

// sinkPlugin glues the sink service into go-plugin.
type sinkPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	server *sinkServer
}

func (p *sinkPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	// The generated service, with Write decoded by batchCodec.
	s.RegisterService(&sinkServiceDesc, p.server)
	return nil
}

func (p *sinkPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return newSinkClient(c), nil
}

// HostPlugins is the plugin set a host passes to go-plugin's ClientConfig.
func HostPlugins() plugin.PluginSet {
	return plugin.PluginSet{
		pluginBase:   &basePlugin{},
		pluginRunner: &runnerPlugin{},
		pluginSink:   &sinkPlugin{},
	}
}

// Dispensed is what a host gets from a connected plugin component.
type Dispensed struct {
	Base   Base
	Runner Runner // set for runner components
	Sink   Sink   // set for sink components
}

// Dispense returns the base service and the kind's service of a connected
// plugin client.
func Dispense(c plugin.ClientProtocol, kind Kind) (*Dispensed, error) {
	raw, err := c.Dispense(pluginBase)
	if err != nil {
		return nil, err
	}
	d := &Dispensed{Base: raw.(Base)}
	switch kind {
	case KindRunner:
		raw, err = c.Dispense(pluginRunner)
		if err != nil {
			return nil, err
		}
		d.Runner = raw.(Runner)
	case KindSink:
		raw, err = c.Dispense(pluginSink)
		if err != nil {
			return nil, err
		}
		d.Sink = raw.(Sink)
	}
	return d, nil
}

// GRPCClientOptions are the dial options a host should use with plugins:
// see wire.ClientOptions.
func GRPCClientOptions() []grpc.DialOption {
	return wire.ClientOptions()
}
