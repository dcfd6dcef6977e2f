package sdk

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prox-dev/prox/sdk/proto"
)

// baseServer is the plugin side of the base service; it wraps a runner or a
// sink and answers from its optional interfaces.
type baseServer struct {
	proto.UnimplementedBaseServer
	info      Info
	component any
	// apiVersion is the API version the host picked in Configure.
	apiVersion atomic.Int32
	// shutdown runs before the component's own Shutdown (a runner server
	// kills what is left of its processes).
	shutdown func()
	// shutdownCalled: the host called Shutdown.
	shutdownCalled atomic.Bool
	// configured, when set, runs once a Configure that is not a check has
	// succeeded: the plugin's launch is over (ServeConfig.ReleaseMemory).
	// It must not block.
	configured func()
}

func (s *baseServer) Info(context.Context, *proto.InfoRequest) (*proto.InfoResponse, error) {
	resp := &proto.InfoResponse{Plugin: s.info.Plugin, Name: s.info.Name, Kind: string(s.info.Kind), Version: s.info.Version}
	for _, v := range s.info.APIVersions {
		resp.ApiVersions = append(resp.ApiVersions, uint32(v))
	}
	if _, ok := s.component.(Execer); ok {
		resp.Capabilities = append(resp.Capabilities, CapabilityExec)
	}
	if l, ok := s.component.(LocalRunner); ok && l.RunsLocally() {
		resp.Capabilities = append(resp.Capabilities, CapabilityLocal)
	}
	if _, ok := s.component.(Runner); ok {
		resp.Command = proto.CommandRequirement_COMMAND_REQUIRED
		if d, ok := s.component.(DefaultCommander); ok && d.HasDefaultCommand() {
			resp.Command = proto.CommandRequirement_COMMAND_OPTIONAL
		}
	}
	return resp, nil
}

func (s *baseServer) ConfigSchema(context.Context, *proto.ConfigSchemaRequest) (*proto.ConfigSchemaResponse, error) {
	resp := &proto.ConfigSchemaResponse{}
	if c, ok := s.component.(Configurable); ok {
		resp.Config = schemaToProto(c.ConfigSchema())
	}
	if p, ok := s.component.(ProcessConfigurable); ok {
		resp.Process = schemaToProto(p.ProcessSchema())
	}
	return resp, nil
}

func (s *baseServer) Configure(_ context.Context, req *proto.ConfigureRequest) (*proto.ConfigureResponse, error) {
	s.apiVersion.Store(int32(req.ApiVersion))
	if err := s.configure(req); err != nil {
		return nil, err
	}
	if s.configured != nil && !req.CheckOnly {
		s.configured()
	}
	return &proto.ConfigureResponse{}, nil
}

// configure hands the request's values to the component, when it is
// Configurable.
func (s *baseServer) configure(req *proto.ConfigureRequest) error {
	c, ok := s.component.(Configurable)
	if !ok {
		return nil
	}
	values, err := c.ConfigSchema().ApplyDefaults(req.ValuesJson)
	if err != nil {
		return configureStatus(fmt.Errorf("the plugin's schema: %w", err))
	}
	if err := c.Configure(&Config{APIVersion: int(req.ApiVersion), Values: values, CheckOnly: req.CheckOnly}); err != nil {
		return configureStatus(err)
	}
	return nil
}

func (s *baseServer) Shutdown(context.Context, *proto.ShutdownRequest) (*proto.ShutdownResponse, error) {
	s.shutdownCalled.Store(true)
	if s.shutdown != nil {
		s.shutdown()
	}
	if c, ok := s.component.(Shutdowner); ok {
		if err := c.Shutdown(); err != nil {
			return nil, fmt.Errorf("shutdown: %w", err)
		}
	}
	return &proto.ShutdownResponse{}, nil
}

// releaseComponent calls the component's Shutdown (Shutdowner), unless the
// host did, waiting for it at most timeout: for a plugin about to exit
// without the host's word.
func (s *baseServer) releaseComponent(timeout time.Duration) {
	c, ok := s.component.(Shutdowner)
	if !ok || s.shutdownCalled.Swap(true) {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Shutdown()
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

func schemaToProto(s *Schema) *proto.Schema {
	if s == nil {
		return nil
	}
	out := &proto.Schema{}
	for _, a := range s.Attributes {
		out.Attributes = append(out.Attributes, &proto.Attribute{Name: a.Name, Type: a.Type, Required: a.Required, Description: a.Description})
	}
	return out
}
