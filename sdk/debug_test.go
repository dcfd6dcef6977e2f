package sdk

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/prox-dev/prox/internal/wire"

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
	got, err := parseReattachLine(out)
	require.NoError(t, err)
	assert.Equal(t, map[string]wire.ReattachConfig{"runner.vm": rc}, got)
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
	rcs, err := parseReattachLine(value)
	require.NoError(t, err)
	require.Len(t, rcs, 1)
	for id, rc := range rcs {
		return id, rc, done
	}
	return "", wire.ReattachConfig{}, done
}

func awaitServe(t *testing.T, done <-chan error) error {
	t.Helper()
	r, _ := await(t, async(func() (error, error) { return <-done, nil }), "ServeDebug")
	return r
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

// parseReattachLine parses the value of ReattachEnv as a host reads it,
// without its checks (internal/pluginhost.ParseReattach's tests have
// those); the quotes of the printed line (not of a shell's value) are
// dropped.
func parseReattachLine(value string) (map[string]wire.ReattachConfig, error) {
	if len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'' {
		value = value[1 : len(value)-1]
	}
	var out map[string]wire.ReattachConfig
	err := json.Unmarshal([]byte(value), &out)
	return out, err
}
