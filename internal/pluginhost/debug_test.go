package pluginhost

import (
	"bufio"
	"context"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseReattachToleratesQuotes(t *testing.T) {
	// Quotes kept by copying the line into a file are tolerated.
	got, err := ParseReattach(`'{"sink.mem":{"protocol":"grpc","protocol_version":1,"network":"tcp","address":"127.0.0.1:7000","pid":7}}'`)
	require.NoError(t, err)
	addr, err := got["sink.mem"].Addr()
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:7000", addr.String())
}

func TestParseReattachRejects(t *testing.T) {
	for value, want := range map[string]string{
		`not json`: "is not the JSON",
		`{"vm":{"protocol":"grpc","network":"unix","address":"/x","pid":1}}`:          `key "vm" is not runner.NAME`,
		`{"task.vm":{"protocol":"grpc","network":"unix","address":"/x","pid":1}}`:     `key "task.vm"`,
		`{"runner.vm":{"protocol":"netrpc","network":"unix","address":"/x","pid":1}}`: `protocol "netrpc"`,
		`{"runner.vm":{"protocol":"grpc","network":"udp","address":"/x","pid":1}}`:    `network "udp"`,
		`{"runner.vm":{"protocol":"grpc","network":"unix","pid":1}}`:                  "no address",
		`{"runner.vm":{"protocol":"grpc","network":"unix","address":"/x"}}`:           "no pid",
	} {
		_, err := ParseReattach(value)
		require.Error(t, err, value)
		assert.Contains(t, err.Error(), want, value)
		assert.Contains(t, err.Error(), sdk.ReattachEnv, value)
	}
}

// debugServer runs ServeDebug in the background and returns the reattach
// config it printed and the channel of its result.
func debugServer(t *testing.T, ctx context.Context, c *sdk.ServeConfig, component string) (string, wire.ReattachConfig, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- sdk.ServeDebug(ctx, c, component, pw)
		_ = pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err, "ServeDebug printed no line")
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	value, ok := strings.CutPrefix(strings.TrimSpace(line), sdk.ReattachEnv+"=")
	require.True(t, ok, "the line %q does not set %s", line, sdk.ReattachEnv)
	rcs, err := ParseReattach(value)
	require.NoError(t, err)
	require.Len(t, rcs, 1)
	for id, rc := range rcs {
		return id, rc, done
	}
	return "", wire.ReattachConfig{}, done
}

// attach connects to a debug server as a host does.
func attach(t *testing.T, rc wire.ReattachConfig) (plugin.ClientProtocol, *Dispensed) {
	t.Helper()
	addr, err := rc.Addr()
	require.NoError(t, err)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          HostPlugins(),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  wire.ClientOptions(),
		Logger:           hclog.NewNullLogger(),
		// Test: the host must not kill this very process.
		Reattach: &plugin.ReattachConfig{Protocol: plugin.Protocol(rc.Protocol), ProtocolVersion: rc.ProtocolVersion, Addr: addr, Pid: rc.PID, Test: true},
	})
	rpc, err := client.Client()
	require.NoError(t, err)
	d, err := Dispense(rpc, sdk.KindRunner)
	require.NoError(t, err)
	return rpc, d
}

func awaitServe(t *testing.T, done <-chan error) error {
	t.Helper()
	r, _ := await(t, async(func() (error, error) { return <-done, nil }), "ServeDebug")
	return r
}

func TestServeDebugServesUntilTheHostIsDone(t *testing.T) {
	fr := newFakeRunner(t)
	c := &sdk.ServeConfig{Name: "dbg", Version: "0.0.1", Runners: map[string]sdk.Runner{"vm": fr}, Sinks: map[string]sdk.Sink{"rec": &recordingSink{}},
		Logger: hclog.NewNullLogger()}
	id, rc, done := debugServer(t, context.Background(), c, "runner.vm")
	assert.Equal(t, "runner.vm", id)
	assert.Equal(t, os.Getpid(), rc.PID)
	assert.Equal(t, sdk.ProtocolVersion, rc.ProtocolVersion)

	rpc, d := attach(t, rc)
	info, err := d.Base.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, &sdk.Info{Plugin: "dbg", Name: "vm", Kind: sdk.KindRunner, Version: "0.0.1", APIVersions: sdk.APIVersions, Command: sdk.CommandRequired}, info)
	p, err := d.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "web", Command: []string{"true"}})
	require.NoError(t, err)
	assert.Equal(t, fr.proc(t, "web").pid, p.PID())

	// The host closes the connection: the debug plugin stops serving and
	// kills what it still runs.
	require.NoError(t, rpc.Close())
	require.NoError(t, awaitServe(t, done))
	assert.Equal(t, syscall.SIGKILL, fr.proc(t, "web").nextSignal(t))
}

func TestServeDebugStopsWhenCancelled(t *testing.T) {
	fr := newFakeRunner(t)
	c := &sdk.ServeConfig{Name: "dbg", Version: "0.0.1", Runners: map[string]sdk.Runner{"vm": fr}, Logger: hclog.NewNullLogger()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	id, rc, done := debugServer(t, ctx, c, "")
	assert.Equal(t, "runner.vm", id, "the only component is served by default")
	rpc, d := attach(t, rc)
	defer rpc.Close()
	_, err := d.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "web", Command: []string{"true"}})
	require.NoError(t, err)

	cancel() // Ctrl-C
	require.NoError(t, awaitServe(t, done))
	assert.Equal(t, syscall.SIGKILL, fr.proc(t, "web").nextSignal(t))
}
