package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNegotiateAPIVersion(t *testing.T) {
	tests := []struct {
		host, plugin []int
		want         int
	}{
		{[]int{1}, []int{1}, 1},
		{[]int{1, 2}, []int{1}, 1},
		{[]int{1}, []int{1, 2}, 1},
		{[]int{1, 2, 3}, []int{2, 3, 4}, 3},
		{[]int{3, 1, 2}, []int{2, 1}, 2},
		{[]int{1, 2}, []int{3, 4}, 0},
		{nil, []int{1}, 0},
		{[]int{1}, nil, 0},
		{nil, nil, 0},
		{[]int{2, 2}, []int{2}, 2},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, NegotiateAPIVersion(tt.host, tt.plugin), "host %v, plugin %v", tt.host, tt.plugin)
	}
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		name string
		want syscall.Signal
	}{
		{"TERM", syscall.SIGTERM},
		{"sigterm", syscall.SIGTERM},
		{"SIGTERM", syscall.SIGTERM},
		{"SIGKILL", syscall.SIGKILL},
		{"kill", syscall.SIGKILL},
		{" hup ", syscall.SIGHUP},
		{"SigInt", syscall.SIGINT},
		{"usr1", syscall.SIGUSR1},
	}
	for _, tt := range tests {
		got, err := ParseSignal(tt.name)
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.want, got, tt.name)
	}
	for _, bad := range []string{"bogus", "SIGBOGUS", "", "SIG", "9", "SIGTERM2"} {
		_, err := ParseSignal(bad)
		require.Error(t, err, "%q", bad)
		assert.Contains(t, err.Error(), fmt.Sprintf("%q", bad))
	}
}

func TestSignalName(t *testing.T) {
	for sig, want := range map[os.Signal]string{
		syscall.SIGTERM: "SIGTERM",
		syscall.SIGKILL: "SIGKILL",
		os.Interrupt:    "SIGINT",
		syscall.SIGHUP:  "SIGHUP",
	} {
		got, err := SignalName(sig)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	for _, bad := range []os.Signal{syscall.Signal(0), syscall.Signal(200), fakeSignal{}} {
		_, err := SignalName(bad)
		assert.Error(t, err, "%v", bad)
	}
	// Every named signal survives the round trip.
	for s := syscall.Signal(1); s < 32; s++ {
		name, err := SignalName(s)
		if err != nil {
			continue
		}
		got, err := ParseSignal(name)
		require.NoError(t, err, name)
		assert.Equal(t, s, got, name)
	}
}

func TestExitErrorAndStream(t *testing.T) {
	assert.Equal(t, "exit status 2", (&ExitError{Code: 2}).Error())
	assert.Equal(t, "killed by SIGKILL", (&ExitError{Code: -1, Signal: "SIGKILL"}).Error())
	assert.Equal(t, "stdout", Stdout.String())
	assert.Equal(t, "stderr", Stderr.String())
	assert.Equal(t, "unknown", Stream(0).String())
}

type nopSink struct{}

func (nopSink) Write(context.Context, *Batch) error { return nil }
func (nopSink) Flush(context.Context) error         { return nil }
func (nopSink) Close(context.Context) error         { return nil }

func TestDescribe(t *testing.T) {
	c := &ServeConfig{
		Name:    "myplugin",
		Version: "0.1.0",
		Runners: map[string]Runner{"vm": &fakeRunner{}, "container": &fakeRunner{}, "exec": &fakeRunner{}},
		Sinks:   map[string]Sink{"slack": nopSink{}, "file": nopSink{}},
	}
	raw, err := json.Marshal(c.Describe())
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"myplugin","version":"0.1.0","api_versions":[1],
		"runners":["container","exec","vm"],"sinks":["file","slack"]}`, string(raw))
	// Keys in this order, nothing else.
	assert.Equal(t, `{"name":"myplugin","version":"0.1.0","api_versions":[1],"runners":["container","exec","vm"],"sinks":["file","slack"]}`, string(raw))
	assert.Equal(t, "runner.container, runner.exec, runner.vm, sink.file, sink.slack", c.Describe().Summary())

	empty := &ServeConfig{Name: "none", Version: "1", APIVersions: []int{1, 2}}
	raw, err = json.Marshal(empty.Describe())
	require.NoError(t, err)
	assert.Equal(t, `{"name":"none","version":"1","api_versions":[1,2],"runners":[],"sinks":[]}`, string(raw))
	assert.Equal(t, "no components", empty.Describe().Summary())
}

func TestPick(t *testing.T) {
	single := &ServeConfig{Name: "p", Runners: map[string]Runner{"vm": &fakeRunner{}}}
	singleSink := &ServeConfig{Name: "p", Sinks: map[string]Sink{"slack": nopSink{}}}
	many := &ServeConfig{
		Name:    "p",
		Runners: map[string]Runner{"vm": &fakeRunner{}, "exec": &fakeRunner{}},
		Sinks:   map[string]Sink{"file": nopSink{}},
	}
	none := &ServeConfig{Name: "p"}

	tests := []struct {
		name      string
		c         *ServeConfig
		component string
		kind      Kind
		comp      string
		err       []string
	}{
		{"single-default", single, "", KindRunner, "vm", nil},
		{"single-sink-default", singleSink, "", KindSink, "slack", nil},
		{"single-explicit", single, "runner.vm", KindRunner, "vm", nil},
		{"runner", many, "runner.exec", KindRunner, "exec", nil},
		{"sink", many, "sink.file", KindSink, "file", nil},
		{"name-with-dot", &ServeConfig{Runners: map[string]Runner{"a.b": &fakeRunner{}, "c": &fakeRunner{}}}, "runner.a.b", KindRunner, "a.b", nil},
		{"many-default", many, "", "", "", []string{"3 components", ComponentEnv}},
		{"none-default", none, "", "", "", []string{"0 components"}},
		{"not-kind-name", many, "vm", "", "", []string{`component "vm" is not KIND.NAME`}},
		{"unknown-kind", many, "job.vm", "", "", []string{`unknown component kind "job"`}},
		{"unknown-runner", many, "runner.nope", "", "", []string{`no runner named "nope"`, "runner.exec, runner.vm, sink.file"}},
		{"unknown-sink", many, "sink.vm", "", "", []string{`no sink named "vm"`, "runner.exec, runner.vm, sink.file"}},
		{"single-wrong-name", single, "runner.other", "", "", []string{`no runner named "other"`, "runner.vm"}},
		{"none-named", none, "sink.x", "", "", []string{"no components"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, name, err := tt.c.pick(tt.component)
			if tt.err == nil {
				require.NoError(t, err)
				assert.Equal(t, tt.kind, kind)
				assert.Equal(t, tt.comp, name)
				return
			}
			require.Error(t, err)
			for _, want := range tt.err {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestServeRefusesUnknownComponent(t *testing.T) {
	// serve fails before it touches go-plugin or stdout.
	err := serve(&ServeConfig{Name: "p", Runners: map[string]Runner{"vm": &fakeRunner{}}}, "sink.vm", io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no sink named "vm"`)
}

func TestRemoveSocketDirRemovesOnlyAHostsPluginFolderOfSockets(t *testing.T) {
	socketIn := func(dir string) string {
		t.Helper()
		path := filepath.Join(dir, "plugin123")
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		require.NoError(t, err)
		l.SetUnlinkOnClose(false) // as a killed plugin leaves it
		require.NoError(t, l.Close())
		return path
	}
	base := t.TempDir()

	ours, err := os.MkdirTemp(base, socketDirPrefix)
	require.NoError(t, err)
	socketIn(ours)
	removeSocketDir(ours)
	assert.NoDirExists(t, ours, "the host's folder for this plugin, with its socket")

	other := filepath.Join(base, "shared-sockets")
	require.NoError(t, os.Mkdir(other, 0o700))
	sock := socketIn(other)
	removeSocketDir(other)
	assert.FileExists(t, sock, "a folder the host did not make for this plugin is left alone")

	mixed, err := os.MkdirTemp(base, socketDirPrefix)
	require.NoError(t, err)
	sock = socketIn(mixed)
	keep := filepath.Join(mixed, "notes.txt")
	require.NoError(t, os.WriteFile(keep, []byte("x"), 0o600))
	removeSocketDir(mixed)
	assert.NoFileExists(t, sock)
	assert.FileExists(t, keep, "only sockets are removed")

	removeSocketDir("") // not launched by a host: nothing to do
}

// fakeSignal is an os.Signal that is not a syscall.Signal.
type fakeSignal struct{}

func (fakeSignal) String() string { return "fake" }
func (fakeSignal) Signal()        {}
