package loader

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/internal/pluginhost"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// debugProcess is a plugin binary started by hand in debug mode, as an
// author would.
type debugProcess struct {
	cmd    *exec.Cmd
	line   string      // the PROX_REATTACH_PLUGINS=... line it printed
	value  string      // the line's value, as a shell would export it
	stderr *syncBuffer // from launch_test.go
	exited chan struct{}
	err    error // its exit, once exited is closed
}

// startDebugPlugin runs `path -debug args...` and reads the reattach line it
// prints. The process is reaped in the background (like a shell would) and
// killed when the test ends if it still runs.
func startDebugPlugin(t *testing.T, path string, args ...string) *debugProcess {
	t.Helper()
	cmd := exec.Command(path, append([]string{"-debug"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	d := &debugProcess{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = d.stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-d.exited
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() {
		}
		d.err = cmd.Wait()
		close(d.exited)
	}()
	select {
	case line, ok := <-lines:
		require.True(t, ok, "the debug plugin printed nothing; stderr:\n%s", d.stderr.String())
		d.line = line
	case <-d.exited:
		t.Fatalf("the debug plugin exited (%v); stderr:\n%s", d.err, d.stderr.String())
	}
	// Export it as a shell would: the value is single-quoted.
	value, ok := strings.CutPrefix(d.line, sdk.ReattachEnv+"=")
	require.True(t, ok, "the line %q does not set %s", d.line, sdk.ReattachEnv)
	out, err := exec.Command("sh", "-c", "export "+d.line+`; printf %s "$`+sdk.ReattachEnv+`"`).Output()
	require.NoError(t, err)
	require.NotEqual(t, value, string(out), "the value should be quoted for the shell")
	d.value = string(out)
	return d
}

// exit waits for the debug plugin to exit and returns how it exited.
func (d *debugProcess) exit(t *testing.T) error {
	t.Helper()
	select {
	case <-d.exited:
		return d.err
	case <-time.After(waitFor):
		t.Fatalf("the debug plugin did not exit within %s; stderr:\n%s", waitFor, d.stderr.String())
		return nil
	}
}

func TestReattachToDebugPlugin(t *testing.T) {
	t.Parallel()
	path, _ := tinyPlugin(t)
	dbg := startDebugPlugin(t, path, "runner.tiny")
	rcs, err := pluginhost.ParseReattach(dbg.value)
	require.NoError(t, err)
	require.Contains(t, rcs, "runner.tiny")
	assert.Equal(t, dbg.cmd.Process.Pid, rcs["runner.tiny"].PID)

	// No plugin block, no plugin directory: the component is found only
	// through the environment.
	l := newLoader(t, Options{Env: []string{"PATH=" + os.Getenv("PATH"), sdk.ReattachEnv + "=" + dbg.value}})
	ctx := context.Background()
	inst, err := l.Launch(ctx, sdk.KindRunner, "tiny")
	require.NoError(t, err, "stderr of the debug plugin:\n%s", dbg.stderr.String())
	assert.Equal(t, dbg.cmd.Process.Pid, inst.PID())
	assert.Equal(t, "debug", inst.Source.Plugin)
	assert.Equal(t, path, inst.Source.Path, "the binary, found through /proc")
	assert.Equal(t, "tiny", inst.Info.Plugin)
	require.NoError(t, inst.Configure(ctx, []byte(`{"greeting":"hi"}`)))
	assert.Equal(t, "through the debug plugin\n", runTiny(t, inst, "echo through the debug plugin"))

	// A debug plugin serves one block.
	_, err = l.Launch(ctx, sdk.KindRunner, "tiny")
	require.ErrorIs(t, err, ErrLaunch)
	assert.Contains(t, err.Error(), "already attached")

	// prox is done: the plugin exits by itself, successfully; it was not
	// killed.
	require.NoError(t, l.Close(ctx))
	require.NoError(t, dbg.exit(t), "stderr of the debug plugin:\n%s", dbg.stderr.String())
}

func TestReattachLeavesOtherComponentsAlone(t *testing.T) {
	t.Parallel()
	value := `{"sink.mem":{"protocol":"grpc","protocol_version":1,"network":"unix","address":"/nonexistent","pid":1}}`
	l := newLoader(t, selfOptions(t, "exec", sdk.ReattachEnv+"="+value))
	inst, err := l.Launch(context.Background(), sdk.KindRunner, "exec")
	require.NoError(t, err)
	assert.True(t, inst.Source.Builtin)
}

func TestReattachErrors(t *testing.T) {
	t.Parallel()
	// A process that has exited: its PID runs nothing.
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	socket := filepath.Join(t.TempDir(), "no-such-socket")
	tests := []struct {
		name  string
		value string
		is    error
		want  []string
	}{
		{"malformed", `{"runner.tiny":`, ErrLaunch, []string{sdk.ReattachEnv, "unset it"}},
		{"not running", `{"runner.tiny":{"protocol":"grpc","protocol_version":1,"network":"unix","address":"` + socket + `","pid":` +
			strconv.Itoa(gone.Process.Pid) + `}}`, ErrLaunch, []string{"runner.tiny", sdk.ReattachEnv, "start the plugin again"}},
		{"not listening", `{"runner.tiny":{"protocol":"grpc","protocol_version":1,"network":"unix","address":"` + socket + `","pid":` +
			strconv.Itoa(os.Getpid()) + `}}`, ErrLaunch, []string{"does not answer", socket}},
		{"other protocol", `{"runner.tiny":{"protocol":"grpc","protocol_version":99,"network":"unix","address":"` + socket + `","pid":1}}`,
			ErrIncompatible, []string{"protocol 99", "rebuild"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLoader(t, Options{Env: []string{sdk.ReattachEnv + "=" + tt.value}})
			err := launchErr(t, l, sdk.KindRunner, "tiny")
			require.ErrorIs(t, err, tt.is)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "\n", "a one-line error")
		})
	}
}
