package loader

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/prox-dev/prox/internal/pluginhost"
	"github.com/prox-dev/prox/sdk"
)

// shutdownTimeout bounds a plugin's Shutdown call when the caller's context
// has no earlier deadline.
const shutdownTimeout = 5 * time.Second

// killTimeout bounds go-plugin's own shutdown of a plugin (its Kill: a
// Shutdown call to its controller, up to 2 s for the plugin to exit, then
// SIGKILL), whose controller call has no deadline: a plugin that stopped
// answering (frozen by SIGSTOP) would hold it for good. Past it, prox
// sends SIGKILL itself.
const killTimeout = 5 * time.Second

// Instance is one launched plugin component.
type Instance struct {
	Kind   sdk.Kind
	Name   string
	Source *Source
	// Info is what the plugin reported.
	Info *sdk.Info
	// APIVersion is the API version negotiated with the plugin.
	APIVersion int
	// ConfigSchema and ProcessSchema are the schemas the plugin declared
	// (ProcessSchema only for runners; either may be nil).
	ConfigSchema  *sdk.Schema
	ProcessSchema *sdk.Schema
	// Base is the component's base service; Runner or Sink its own.
	Base   pluginhost.Base
	Runner sdk.Runner
	Sink   sdk.Sink

	client    *plugin.Client
	proc      *pluginProcess  // nil for a debug plugin prox attached to
	values    json.RawMessage // the values of the last Configure, for a relaunch
	closeOnce sync.Once
	closeErr  error
}

func (i *Instance) init(ctx context.Context, rpc plugin.ClientProtocol) error {
	d, err := pluginhost.Dispense(rpc, i.Kind)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrLaunch, err)
	}
	i.Base, i.Runner, i.Sink = d.Base, d.Runner, d.Sink
	info, err := d.Base.Info(ctx)
	if err != nil {
		return err
	}
	if info.Kind != i.Kind || info.Name != i.Name {
		return fmt.Errorf("%w: asked for %s %q, the plugin serves %s %q", ErrIncompatible, i.Kind, i.Name, info.Kind, info.Name)
	}
	i.Info = info
	i.APIVersion = sdk.NegotiateAPIVersion(sdk.APIVersions, info.APIVersions)
	if i.APIVersion == 0 {
		return fmt.Errorf("%w: the plugin speaks API versions %v, prox speaks %v", ErrIncompatible, info.APIVersions, sdk.APIVersions)
	}
	i.ConfigSchema, i.ProcessSchema, err = d.Base.Schemas(ctx)
	return err
}

// ID returns "KIND.NAME".
func (i *Instance) ID() string { return string(i.Kind) + "." + i.Name }

// Check has the plugin check the decoded config values without using them
// (sdk.Config.CheckOnly): for prox validate. The instance is not
// configured afterwards.
func (i *Instance) Check(ctx context.Context, values json.RawMessage) error {
	if err := i.Base.Configure(ctx, &sdk.Config{APIVersion: i.APIVersion, Values: values, CheckOnly: true}); err != nil {
		return fmt.Errorf("failed to configure %s: %w", i.ID(), err)
	}
	return nil
}

// Configure hands the decoded config values to the plugin.
func (i *Instance) Configure(ctx context.Context, values json.RawMessage) error {
	if err := i.Base.Configure(ctx, &sdk.Config{APIVersion: i.APIVersion, Values: values}); err != nil {
		return fmt.Errorf("failed to configure %s: %w", i.ID(), err)
	}
	i.values = values
	return nil
}

// PID returns the plugin process's PID, also after it exited; 0 if it never
// started.
func (i *Instance) PID() int {
	if i.proc != nil {
		return i.proc.PID()
	}
	if rc := i.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Exited reports whether the plugin process has exited.
func (i *Instance) Exited() bool { return i.client.Exited() }

// Close asks the component to shut down (bounded by ctx and
// shutdownTimeout), then kills the plugin process. A plugin that does not
// answer Shutdown in time (frozen, or stuck) is killed at once with
// SIGKILL, which also ends a stopped process; go-plugin's own shutdown is
// bounded by killTimeout the same way. Close thus returns within
// shutdownTimeout plus killTimeout for a plugin prox launched. It is safe
// to call more than once.
func (i *Instance) Close(ctx context.Context) error {
	i.closeOnce.Do(func() {
		if i.proc != nil {
			i.proc.closing.Store(true)
		}
		if !i.client.Exited() {
			sctx, cancel := context.WithTimeout(ctx, shutdownTimeout)
			i.closeErr = i.Base.Shutdown(sctx)
			unanswered := sctx.Err() != nil
			cancel()
			if unanswered {
				i.closeErr = fmt.Errorf("%s did not answer its shutdown within %s, killed: %w", i.ID(), shutdownTimeout, i.closeErr)
				i.forceKill()
			}
		}
		killed := make(chan struct{})
		go func() {
			defer close(killed)
			i.client.Kill()
		}()
		select {
		case <-killed:
		case <-time.After(killTimeout):
			if i.proc == nil {
				// A debug plugin is its user's, and is left as it is:
				// only prox's side of it is given up on.
				return
			}
			i.forceKill()
			<-killed // the plugin's connection ends with it
		}
	})
	return i.closeErr
}

// forceKill kills the plugin process with SIGKILL, which ends it even when
// it is stopped; as for a plugin that died, what it leaves is swept once
// it has exited (pluginProcess.sweep). A debug plugin is left alone.
func (i *Instance) forceKill() {
	if i.proc == nil {
		return
	}
	i.proc.forced.Store(true)
	if err := i.proc.Kill(context.Background()); err != nil {
		i.proc.log.Warn("could not kill the plugin", "error", err)
	}
}
