package loader

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/prox-dev/prox/internal/runnertag"
	execrunner "github.com/prox-dev/prox/plugins/runner/exec"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startEscapee starts, through r, a process that starts a descendant in a
// session of its own (setsid), and returns the process and the
// descendant's PID.
func startEscapee(t *testing.T, r sdk.Runner) (sdk.Process, int) {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "escapee.pid")
	p, err := r.Start(context.Background(), &sdk.ProcessConfig{
		Name: "escape", Env: testEnv(),
		Command: []string{"sh", "-c", `setsid sh -c 'printf %s $$ > "$0.tmp" && mv "$0.tmp" "$0"; exec sleep 100' "$0" & exec sleep 100`, pidFile},
	})
	require.NoError(t, err)
	escapee := readPIDFile(t, pidFile)
	t.Cleanup(func() {
		for _, pid := range []int{p.PID(), escapee} {
			if alive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	requireAlive(t, escapee, "the escapee")
	return p, escapee
}

// Without cgroups, kill -9 of the runner plugin leaves a descendant that
// left its process group without its subreaper; it carries the plugin's
// tag, by which the loader finds and kills it.
func TestRunnerPluginDeathKillsWhatCarriesItsTag(t *testing.T) {
	t.Parallel()
	l := newLoader(t, selfOptions(t, "exec", execrunner.ContainmentEnv+"=subreaper"))
	ctx := context.Background()
	inst, err := l.Launch(ctx, sdk.KindRunner, execrunner.Name)
	require.NoError(t, err)
	require.NotEmpty(t, inst.proc.tag)
	r := NewRelaunchingRunner(l, inst)
	p, escapee := startEscapee(t, r)
	require.Equal(t, "subreaper", p.(sdk.Containment).Containment())
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(escapee) + "/environ")
	require.NoError(t, err)
	require.True(t, runnertag.Carries(environ, inst.proc.tag), "the escapee carries the plugin's tag")

	require.NoError(t, syscall.Kill(inst.PID(), syscall.SIGKILL))
	requireGone(t, escapee, "the escapee")
	require.Eventually(t, inst.Exited, waitFor, tick)

	// The relaunched plugin has a tag of its own.
	p2, _ := startEscapee(t, r)
	require.NotSame(t, inst, r.Instance())
	assert.NotEqual(t, inst.proc.tag, r.Instance().proc.tag)
	requireAlive(t, p2.PID(), "the new run")
}

// A sink plugin gets no tag: nothing is swept when it exits.
func TestOnlyRunnerPluginsAreTagged(t *testing.T) {
	t.Parallel()
	l := newLoader(t, selfOptions(t, "exec"))
	inst, err := l.Launch(context.Background(), sdk.KindSink, "file")
	require.NoError(t, err)
	assert.Empty(t, inst.proc.tag)
}
