package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/prox-dev/prox/internal/wire"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// ReattachEnv is the environment variable that makes prox attach to plugins
// already running in debug mode instead of launching them. Its value is a
// JSON object from "KIND.NAME" to how to reach the component, exactly as a plugin in
// debug mode prints it:
//
//	PROX_REATTACH_PLUGINS='{"runner.chaos":{"protocol":"grpc",...}}'
const ReattachEnv = "PROX_REATTACH_PLUGINS"

// DebugEnv, set to "1" or "true", starts a plugin binary in debug mode like
// the -debug flag, for debuggers that make passing flags awkward. It is
// ignored when a host launched the binary (the handshake's magic cookie is
// in the environment), so exporting it in a shell that then runs prox does
// not break prox's own launches.
const DebugEnv = "PROX_PLUGIN_DEBUG"

// reattachLine returns the shell line that attaches prox to the component
// id ("KIND.NAME") served at rc:
//
//	PROX_REATTACH_PLUGINS='{"runner.chaos":{...}}'
func reattachLine(id string, rc wire.ReattachConfig) string {
	b, err := json.Marshal(map[string]wire.ReattachConfig{id: rc})
	if err != nil {
		// A map of plain structs always marshals.
		panic(err)
	}
	quoted := strings.ReplaceAll(string(b), `'`, `'\''`)
	return ReattachEnv + "='" + quoted + "'"
}

// debugRequested reports whether args and the environment ask for debug
// mode, and which component ("" for the default) to serve.
func debugRequested(args []string, getenv func(string) string) (string, bool) {
	if len(args) >= 1 && (args[0] == "-debug" || args[0] == "--debug") {
		if len(args) >= 2 {
			return args[1], true
		}
		return getenv(ComponentEnv), true
	}
	if getenv(Handshake.MagicCookieKey) != "" {
		return "", false
	}
	switch strings.ToLower(getenv(DebugEnv)) {
	case "1", "true", "yes":
		return getenv(ComponentEnv), true
	}
	return "", false
}

// ServeDebug serves the component of c named by component ("KIND.NAME", or
// "" when c has one component) in debug mode: on its own listener, without
// the handshake on stdout, so that it can run under a debugger. Once it
// listens, it writes the line that attaches prox to it (ReattachEnv) to out, followed by a newline, and a
// short explanation to the logger (stderr by default).
//
// It returns when the host that attached is done with the component (it
// closes the connection after shutting the component down), or when ctx is
// cancelled; either way a runner's remaining processes are killed first. A
// debug plugin therefore serves one run of prox: start it again for the
// next one.
func ServeDebug(ctx context.Context, c *ServeConfig, component string, out io.Writer) error {
	kind, name, err := c.pick(component)
	if err != nil {
		return fmt.Errorf("debug mode: %w (or name it after the flag: -debug KIND.NAME)", err)
	}
	id := string(kind) + "." + name
	logger := c.Logger
	if logger == nil {
		logger = hclog.New(&hclog.LoggerOptions{Name: c.Name, Output: os.Stderr, Level: hclog.Debug})
	}
	info, comp := c.component(kind, name)
	trim := newIdleTrim(c.ReleaseMemory)
	set, release := componentSet(info, comp, trim)
	if c.DefaultBufferPool {
		wire.InstallBufferPool()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	go plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         set,
		Logger:          logger,
		GRPCServer:      grpcServer(trim),
		Test: &plugin.ServeTestConfig{
			Context:          ctx,
			ReattachConfigCh: reattach,
			CloseCh:          closed,
		},
	})
	// Whatever ends the serving, nothing the component started survives it.
	defer func() {
		if release != nil {
			release()
		}
	}()

	var prc *plugin.ReattachConfig
	select {
	case prc = <-reattach:
	case <-closed:
		return errors.New("debug mode: the plugin server stopped before it listened (see the log above)")
	}
	rc := wire.ReattachConfig{
		Protocol:        string(prc.Protocol),
		ProtocolVersion: prc.ProtocolVersion,
		Network:         prc.Addr.Network(),
		Address:         prc.Addr.String(),
		PID:             prc.Pid,
	}
	logger.Info("debug mode: serving "+id+"; to attach prox, run it with the line below in its environment (export it); "+
		"the plugin stops when prox is done with it, or on Ctrl-C", "pid", rc.PID, "address", rc.Address)
	if _, err := fmt.Fprintln(out, reattachLine(id, rc)); err != nil {
		return fmt.Errorf("debug mode: %w", err)
	}

	select {
	case <-closed:
		logger.Info("debug mode: the host closed the connection; exiting")
	case <-ctx.Done():
		<-closed
	}
	return nil
}
