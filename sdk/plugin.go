package sdk

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	"github.com/prox-dev/prox/sdk/proto"
	"google.golang.org/grpc"
)

// Names under which the components are dispensed through go-plugin. The
// host (internal/pluginhost) dispenses them by the same names.
const (
	pluginBase   = "base"
	pluginRunner = string(KindRunner)
	pluginSink   = string(KindSink)
)

// errServeOnly answers a host-side call of the plugin side's glue: the
// host's glue is internal/pluginhost's.
var errServeOnly = errors.New("the sdk serves plugins; a host dispenses them with internal/pluginhost")

// basePlugin glues the base service into go-plugin.
type basePlugin struct {
	plugin.NetRPCUnsupportedPlugin
	server *baseServer
}

func (p *basePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	proto.RegisterBaseServer(s, p.server)
	return nil
}

func (p *basePlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errServeOnly
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

func (p *runnerPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errServeOnly
}

// sinkPlugin glues the sink service into go-plugin.
type sinkPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	server *sinkServer
}

func (p *sinkPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	// The generated service, with Write decoded through incomingBatch.
	s.RegisterService(&sinkServiceDesc, p.server)
	return nil
}

func (p *sinkPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errServeOnly
}
