package pluginhost

import (
	"context"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/proto"
)

// Base is the host's view of the base service that every plugin component
// serves. The host uses it; plugin authors never implement it (Serve does).
type Base interface {
	// Info describes the component.
	Info(ctx context.Context) (*sdk.Info, error)
	// Schemas returns the schema of the component's config block and, for
	// runners, of its per-process block (nil when there is none).
	Schemas(ctx context.Context) (config, process *sdk.Schema, err error)
	// Configure delivers the decoded config with the negotiated API version.
	Configure(ctx context.Context, cfg *sdk.Config) error
	// Shutdown asks the component to release what it holds.
	Shutdown(ctx context.Context) error
}

// baseClient is the host side of the base service.
type baseClient struct {
	client proto.BaseClient
}

var _ Base = (*baseClient)(nil)

func (c *baseClient) Info(ctx context.Context) (*sdk.Info, error) {
	resp, err := c.client.Info(ctx, &proto.InfoRequest{})
	if err != nil {
		return nil, fromGRPC("info", err)
	}
	info := &sdk.Info{Plugin: resp.Plugin, Name: resp.Name, Kind: sdk.Kind(resp.Kind), Version: resp.Version, Capabilities: resp.Capabilities}
	switch resp.Command {
	case proto.CommandRequirement_COMMAND_REQUIRED:
		info.Command = sdk.CommandRequired
	case proto.CommandRequirement_COMMAND_OPTIONAL:
		info.Command = sdk.CommandOptional
	}
	for _, v := range resp.ApiVersions {
		info.APIVersions = append(info.APIVersions, int(v))
	}
	return info, nil
}

func (c *baseClient) Schemas(ctx context.Context) (*sdk.Schema, *sdk.Schema, error) {
	resp, err := c.client.ConfigSchema(ctx, &proto.ConfigSchemaRequest{})
	if err != nil {
		// Unimplemented: a plugin without schemas takes no attributes.
		return nil, nil, absent(fromGRPC("config schema", err))
	}
	return schemaFromProto(resp.Config), schemaFromProto(resp.Process), nil
}

func (c *baseClient) Configure(ctx context.Context, cfg *sdk.Config) error {
	_, err := c.client.Configure(ctx, &proto.ConfigureRequest{
		ApiVersion: uint32(cfg.APIVersion),
		ValuesJson: cfg.Values,
		CheckOnly:  cfg.CheckOnly,
	})
	if err == nil {
		return nil
	}
	// Unimplemented: the plugin takes no configuration.
	return configureError(err)
}

func (c *baseClient) Shutdown(ctx context.Context) error {
	_, err := c.client.Shutdown(ctx, &proto.ShutdownRequest{})
	// Unimplemented (a plugin built with an SDK without Shutdown): it holds
	// nothing to release, and the host kills its process anyway.
	return absent(fromGRPC("shutdown", err))
}

func schemaFromProto(s *proto.Schema) *sdk.Schema {
	if s == nil {
		return nil
	}
	out := &sdk.Schema{}
	for _, a := range s.Attributes {
		out.Attributes = append(out.Attributes, sdk.Attribute{Name: a.Name, Type: a.Type, Required: a.Required, Description: a.Description})
	}
	return out
}
