package pluginhost

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestFromGRPC(t *testing.T) {
	assert.NoError(t, fromGRPC("op", nil))

	plain := errors.New("boom")
	err := fromGRPC("op", plain)
	assert.ErrorIs(t, err, plain)
	assert.Equal(t, "op: boom", err.Error())

	tests := []struct {
		code codes.Code
		is   error
	}{
		{codes.Unavailable, sdk.ErrPluginUnavailable},
		{codes.Canceled, context.Canceled},
		{codes.DeadlineExceeded, context.DeadlineExceeded},
		{codes.NotFound, sdk.ErrUnknownHandle},
		{codes.Unimplemented, sdk.ErrUnimplemented},
	}
	for _, tt := range tests {
		err := fromGRPC("op", status.Error(tt.code, "detail"))
		assert.ErrorIs(t, err, tt.is, tt.code.String())
	}
	err = fromGRPC("configure", status.Error(codes.Unknown, "bad image"))
	assert.Equal(t, "configure: bad image", err.Error())
	assert.Contains(t, fromGRPC("op", status.Error(codes.Unavailable, "conn reset")).Error(), "conn reset")
}

func TestHostPluginsAndOptions(t *testing.T) {
	set := HostPlugins()
	assert.Contains(t, set, pluginBase)
	assert.Contains(t, set, pluginRunner)
	assert.Contains(t, set, pluginSink)
	// The buffer pool, the transport sizes (4) and the message limits.
	assert.Len(t, wire.ClientOptions(), 6)
}

// The SDK puts the defaults in the values before Configure, and in a
// process's settings before Start.
func TestDefaultsReachTheComponent(t *testing.T) {
	cr := &configurableRunner{fakeRunner: newFakeRunner(t), configSchema: defaultsSchema, processSchema: defaultsSchema}
	c := connect(t, &sdk.ServeConfig{Name: "p", Runners: map[string]sdk.Runner{"vm": cr}})
	ctx := context.Background()
	require.NoError(t, c.Base.Configure(ctx, &sdk.Config{APIVersion: 1, Values: []byte(`{"timeout":null,"count":5,"mode":null,"plain":null}`)}))
	require.Len(t, cr.configs, 1)
	assert.JSONEq(t, `{"timeout":30000000000,"count":5,"mode":"fast","plain":null}`, string(cr.configs[0].Values))

	_, err := c.Runner.Start(ctx, &sdk.ProcessConfig{Name: "web", Command: []string{"x"}})
	require.NoError(t, err)
	fp := cr.proc(t, "web")
	require.NotNil(t, fp.cfg.Settings)
	assert.JSONEq(t, `{"timeout":30000000000,"count":20,"mode":"fast"}`, string(fp.cfg.Settings.Values))
}

// defaultsSchema has a Default of each kind and an attribute without one.
var defaultsSchema = &sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "timeout", Type: sdk.TypeDuration, Default: 30 * time.Second},
	{Name: "count", Type: sdk.TypeInteger, Default: 20},
	{Name: "mode", Type: sdk.TypeString, Default: "fast"},
	{Name: "plain", Type: sdk.TypeString},
}}
