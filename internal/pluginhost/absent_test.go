package pluginhost

import (
	"context"
	"testing"

	"github.com/prox-dev/prox/sdk"
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
	return &proto.InfoResponse{Plugin: "old", Name: "vm", Kind: string(sdk.KindRunner), Version: "0.0.1", ApiVersions: []uint32{1}}, nil
}

// TestUnimplementedOptionalRPCsAreAbsent: the host treats an optional base
// RPC that the plugin does not implement as the absence of the capability,
// not as an error; so closing such a plugin does not fail.
func TestUnimplementedOptionalRPCsAreAbsent(t *testing.T) {
	c := struct{ Base Base }{&baseClient{client: proto.NewBaseClient(generatedConn(t, func(s *grpc.Server) { proto.RegisterBaseServer(s, oldBase{}) }))}}
	ctx := context.Background()

	info, err := c.Base.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, "old", info.Plugin)

	config, process, err := c.Base.Schemas(ctx)
	require.NoError(t, err, "no ConfigSchema: no schema")
	assert.Nil(t, config)
	assert.Nil(t, process)
	require.NoError(t, c.Base.Configure(ctx, &sdk.Config{APIVersion: 1, Values: []byte(`{}`)}), "no Configure: nothing to configure")
	require.NoError(t, c.Base.Shutdown(ctx), "no Shutdown: nothing to release")
}
