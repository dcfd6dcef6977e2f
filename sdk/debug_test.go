package sdk

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/prox-dev/prox/internal/wire"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDebugRequested(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		component string
		debug     bool
	}{
		{"no args", nil, nil, "", false},
		{"describe", []string{"describe"}, nil, "", false},
		{"flag", []string{"-debug"}, nil, "", true},
		{"double dash flag", []string{"--debug"}, nil, "", true},
		{"flag with component", []string{"-debug", "sink.mem"}, nil, "sink.mem", true},
		{"flag and component env", []string{"-debug"}, map[string]string{ComponentEnv: "runner.vm"}, "runner.vm", true},
		{"env", nil, map[string]string{DebugEnv: "1"}, "", true},
		{"env true", nil, map[string]string{DebugEnv: "TRUE", ComponentEnv: "runner.vm"}, "runner.vm", true},
		{"env off", nil, map[string]string{DebugEnv: "0"}, "", false},
		{"env ignored when a host launched the plugin", nil,
			map[string]string{DebugEnv: "1", Handshake.MagicCookieKey: Handshake.MagicCookieValue}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			component, debug := debugRequested(tt.args, func(k string) string { return tt.env[k] })
			assert.Equal(t, tt.debug, debug)
			assert.Equal(t, tt.component, component)
		})
	}
}

func TestReattachLineRoundTrip(t *testing.T) {
	rc := wire.ReattachConfig{Protocol: "grpc", ProtocolVersion: ProtocolVersion, Network: "unix", Address: "/tmp/it's here/plugin1", PID: 42}
	line := reattachLine("runner.vm", rc)
	require.True(t, strings.HasPrefix(line, ReattachEnv+"='{"), line)

	// What a POSIX shell makes of the line is the environment's value.
	out, err := execShell(t, line+`; printf %s "$`+ReattachEnv+`"`)
	require.NoError(t, err)
	got, err := ParseReattach(out)
	require.NoError(t, err)
	assert.Equal(t, map[string]wire.ReattachConfig{"runner.vm": rc}, got)

	// Quotes kept by copying the line into a file are tolerated.
	got, err = ParseReattach(`'{"sink.mem":{"protocol":"grpc","protocol_version":1,"network":"tcp","address":"127.0.0.1:7000","pid":7}}'`)
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
		assert.Contains(t, err.Error(), ReattachEnv, value)
	}
}

// debugServer runs ServeDebug in the background and returns the reattach
// config it printed and the channel of its result.
func debugServer(t *testing.T, ctx context.Context, c *ServeConfig, component string) (string, wire.ReattachConfig, <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- ServeDebug(ctx, c, component, pw)
		_ = pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err, "ServeDebug printed no line")
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	value, ok := strings.CutPrefix(strings.TrimSpace(line), ReattachEnv+"=")
	require.True(t, ok, "the line %q does not set %s", line, ReattachEnv)
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
		HandshakeConfig:  Handshake,
		Plugins:          HostPlugins(),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  wire.ClientOptions(),
		Logger:           hclog.NewNullLogger(),
		// Test: the host must not kill this very process.
		Reattach: &plugin.ReattachConfig{Protocol: plugin.Protocol(rc.Protocol), ProtocolVersion: rc.ProtocolVersion, Addr: addr, Pid: rc.PID, Test: true},
	})
	rpc, err := client.Client()
	require.NoError(t, err)
	d, err := Dispense(rpc, KindRunner)
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
	c := &ServeConfig{Name: "dbg", Version: "0.0.1", Runners: map[string]Runner{"vm": fr}, Sinks: map[string]Sink{"rec": &recordingSink{}},
		Logger: hclog.NewNullLogger()}
	id, rc, done := debugServer(t, context.Background(), c, "runner.vm")
	assert.Equal(t, "runner.vm", id)
	assert.Equal(t, os.Getpid(), rc.PID)
	assert.Equal(t, ProtocolVersion, rc.ProtocolVersion)

	rpc, d := attach(t, rc)
	info, err := d.Base.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, &Info{Plugin: "dbg", Name: "vm", Kind: KindRunner, Version: "0.0.1", APIVersions: APIVersions, Command: CommandRequired}, info)
	p, err := d.Runner.Start(context.Background(), &ProcessConfig{Name: "web", Command: []string{"true"}})
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
	c := &ServeConfig{Name: "dbg", Version: "0.0.1", Runners: map[string]Runner{"vm": fr}, Logger: hclog.NewNullLogger()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	id, rc, done := debugServer(t, ctx, c, "")
	assert.Equal(t, "runner.vm", id, "the only component is served by default")
	rpc, d := attach(t, rc)
	defer rpc.Close()
	_, err := d.Runner.Start(context.Background(), &ProcessConfig{Name: "web", Command: []string{"true"}})
	require.NoError(t, err)

	cancel() // Ctrl-C
	require.NoError(t, awaitServe(t, done))
	assert.Equal(t, syscall.SIGKILL, fr.proc(t, "web").nextSignal(t))
}

func TestServeDebugRefusesUnknownComponent(t *testing.T) {
	c := &ServeConfig{Name: "dbg", Runners: map[string]Runner{"vm": &fakeRunner{}}}
	err := ServeDebug(context.Background(), c, "sink.vm", io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no sink named "vm"`)
}

// execShell runs script with sh and returns its stdout.
func execShell(t *testing.T, script string) (string, error) {
	t.Helper()
	out, err := exec.Command("sh", "-c", script).Output()
	return string(out), err
}
