package sdk

import (
	"context"
	"testing"

	"github.com/hashicorp/go-plugin"
	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
)

// oldBase is the base service of a plugin built with an SDK that had only
// Info: every other RPC answers gRPC Unimplemented.
type oldBase struct {
	proto.UnimplementedBaseServer
}

func (oldBase) Info(context.Context, *proto.InfoRequest) (*proto.InfoResponse, error) {
	return &proto.InfoResponse{Plugin: "old", Name: "vm", Kind: string(KindRunner), Version: "0.0.1", ApiVersions: []uint32{1}}, nil
}

type oldBasePlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (oldBasePlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &baseClient{client: proto.NewBaseClient(c)}, nil
}

func (oldBasePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	proto.RegisterBaseServer(s, oldBase{})
	return nil
}

// TestUnimplementedOptionalRPCsAreAbsent: the host treats an optional base
// RPC that the plugin does not implement as the absence of the capability,
// not as an error; so closing such a plugin does not fail.
func TestUnimplementedOptionalRPCsAreAbsent(t *testing.T) {
	c := connect(t, Kind(""), map[string]plugin.Plugin{pluginBase: oldBasePlugin{}})
	ctx := context.Background()

	info, err := c.Base.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, "old", info.Plugin)

	config, process, err := c.Base.Schemas(ctx)
	require.NoError(t, err, "no ConfigSchema: no schema")
	assert.Nil(t, config)
	assert.Nil(t, process)
	require.NoError(t, c.Base.Configure(ctx, &Config{APIVersion: 1, Values: []byte(`{}`)}), "no Configure: nothing to configure")
	require.NoError(t, c.Base.Shutdown(ctx), "no Shutdown: nothing to release")
}
