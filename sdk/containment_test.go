package sdk

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

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

func (r *containedRunner) Start(ctx context.Context, cfg *ProcessConfig) (Process, error) {
	p, err := r.fakeRunner.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &containedProcess{fakeProcess: p.(*fakeProcess), cgroup: r.cgroup, containment: r.containment}, nil
}

func startContained(t *testing.T, r Runner) Process {
	t.Helper()
	set, _ := componentSet(Info{Kind: KindRunner}, r, false)
	c := connect(t, KindRunner, set)
	p, err := c.Runner.Start(context.Background(), &ProcessConfig{Name: "web"})
	require.NoError(t, err)
	return p
}

// The host sees the cgroup and containment the plugin's process reports.
func TestStartReportsCgroupAndContainment(t *testing.T) {
	p := startContained(t, &containedRunner{fakeRunner: newFakeRunner(t), cgroup: "/sys/fs/cgroup/prox-1-ab/web-1", containment: "cgroup"})
	require.Implements(t, (*LocalCgroup)(nil), p)
	require.Implements(t, (*Containment)(nil), p)
	assert.Equal(t, "/sys/fs/cgroup/prox-1-ab/web-1", p.(LocalCgroup).LocalCgroup())
	assert.Equal(t, "cgroup", p.(Containment).Containment())

	// An older exec runner reports a process group and no containment.
	p = startContained(t, &containedRunner{fakeRunner: newFakeRunner(t)})
	assert.Empty(t, p.(LocalCgroup).LocalCgroup())
	assert.Equal(t, "process-group", p.(Containment).Containment())

	// A runner whose processes are not local says nothing.
	p = startContained(t, newFakeRunner(t))
	assert.Empty(t, p.(LocalCgroup).LocalCgroup())
	assert.Empty(t, p.(Containment).Containment())
}

// slowShutdownRunner's Shutdown blocks until released.
type slowShutdownRunner struct {
	*configurableRunner
	release chan struct{}
}

func (r *slowShutdownRunner) Shutdown() error {
	<-r.release
	return r.configurableRunner.Shutdown()
}

// A plugin told to terminate (SIGTERM) calls its runner's Shutdown, once,
// not after the host did, and not for longer than the bound.
func TestReleaseCallsShutdownOnce(t *testing.T) {
	cr := &configurableRunner{fakeRunner: newFakeRunner(t)}
	_, release := componentSet(Info{Kind: KindRunner}, cr, false)
	release()
	release()
	assert.Equal(t, 1, cr.shutdowns)

	cr = &configurableRunner{fakeRunner: newFakeRunner(t)}
	set, release := componentSet(Info{Kind: KindRunner}, cr, false)
	_, err := set[pluginBase].(*basePlugin).server.Shutdown(context.Background(), nil)
	require.NoError(t, err)
	release()
	assert.Equal(t, 1, cr.shutdowns, "the host's Shutdown was the one")

	slow := &slowShutdownRunner{configurableRunner: &configurableRunner{fakeRunner: newFakeRunner(t)}, release: make(chan struct{})}
	defer close(slow.release)
	base := &baseServer{component: slow}
	done := make(chan struct{})
	go func() {
		base.releaseComponent(10 * time.Millisecond)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("releaseComponent waited for a Shutdown that does not return")
	}
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
