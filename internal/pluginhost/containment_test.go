package pluginhost

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// containedRunner starts fakeRunner processes that report a local process
// group, cgroup and containment, as the exec runner's do (or only a group,
// as an older exec runner's).
type containedRunner struct {
	*fakeRunner
	cgroup, containment string
}

type containedProcess struct {
	*fakeProcess
	cgroup, containment string
}

func (p *containedProcess) LocalProcessGroup() int { return p.pid }
func (p *containedProcess) LocalCgroup() string    { return p.cgroup }
func (p *containedProcess) Containment() string    { return p.containment }

func (r *containedRunner) Start(ctx context.Context, cfg *sdk.ProcessConfig) (sdk.Process, error) {
	p, err := r.fakeRunner.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &containedProcess{fakeProcess: p.(*fakeProcess), cgroup: r.cgroup, containment: r.containment}, nil
}

func startContained(t *testing.T, r sdk.Runner) sdk.Process {
	t.Helper()
	c := connect(t, &sdk.ServeConfig{Name: "test", Runners: map[string]sdk.Runner{"r": r}})
	p, err := c.Runner.Start(context.Background(), &sdk.ProcessConfig{Name: "web"})
	require.NoError(t, err)
	return p
}

// The host sees the cgroup and containment the plugin's process reports.
func TestStartReportsCgroupAndContainment(t *testing.T) {
	p := startContained(t, &containedRunner{fakeRunner: newFakeRunner(t), cgroup: "/sys/fs/cgroup/prox-1-ab/web-1", containment: "cgroup"})
	require.Implements(t, (*sdk.LocalCgroup)(nil), p)
	require.Implements(t, (*sdk.Containment)(nil), p)
	assert.Equal(t, "/sys/fs/cgroup/prox-1-ab/web-1", p.(sdk.LocalCgroup).LocalCgroup())
	assert.Equal(t, "cgroup", p.(sdk.Containment).Containment())

	// An older exec runner reports a process group and no containment.
	p = startContained(t, &containedRunner{fakeRunner: newFakeRunner(t)})
	assert.Empty(t, p.(sdk.LocalCgroup).LocalCgroup())
	assert.Equal(t, "process-group", p.(sdk.Containment).Containment())

	// A runner whose processes are not local says nothing.
	p = startContained(t, newFakeRunner(t))
	assert.Empty(t, p.(sdk.LocalCgroup).LocalCgroup())
	assert.Empty(t, p.(sdk.Containment).Containment())
}

// The host writes nowhere on a plugin's word but in a cgroup2 folder.
func TestRemoveLocalCgroupLeavesOtherFoldersAlone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "prox-1-ab", "web-1")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	kill := filepath.Join(dir, "cgroup.kill")
	require.NoError(t, os.WriteFile(kill, nil, 0o644))
	for _, path := range []string{dir, dir + "/", dir + "/../web-1", "relative/web-1"} {
		removeLocalCgroup(path)
	}
	b, err := os.ReadFile(kill)
	require.NoError(t, err)
	assert.Empty(t, b, "cgroup.kill written")
	assert.DirExists(t, dir)
}
