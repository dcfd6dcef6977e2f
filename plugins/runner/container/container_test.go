package container

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOutputOnBothStreams(t *testing.T) {
	t.Parallel()
	p := start(t, newRunner(t), processConfig(t, sh("echo out 1; echo err 1 >&2; echo out 2; echo err 2 >&2"), nil))
	assert.Equal(t, "out 1\nout 2\n", p.stdout.all(t))
	assert.Equal(t, "err 1\nerr 2\n", p.stderr.all(t))
	require.NoError(t, p.wait(t))
}

func TestStreamsSeparatedAndOrdered(t *testing.T) {
	t.Parallel()
	const n = 10000
	p := start(t, newRunner(t), processConfig(t, sh(fmt.Sprintf(`
		i=0; while [ $i -lt %[1]d ]; do echo "out $i"; i=$((i+1)); done &
		i=0; while [ $i -lt %[1]d ]; do echo "err $i" >&2; i=$((i+1)); done &
		wait`, n)), nil))
	stdout, stderr := p.stdout.all(t), p.stderr.all(t)
	require.NoError(t, p.wait(t))
	check := func(name, got string) {
		lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
		require.Len(t, lines, n, name)
		for i, l := range lines {
			require.Equal(t, fmt.Sprintf("%s %d", name, i), l)
		}
	}
	check("out", stdout)
	check("err", stderr)
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	p := start(t, newRunner(t), processConfig(t, sh("echo crashing >&2; exit 3"), nil))
	assert.Equal(t, "crashing\n", p.stderr.all(t))
	err := p.wait(t)
	assert.Equal(t, &sdk.ExitError{Code: 3}, err)
	// An exit code above 128 is not a signal unless one was delivered.
	p = start(t, newRunner(t), processConfig(t, sh("exit 137"), nil))
	assert.Equal(t, &sdk.ExitError{Code: 137}, p.wait(t))
}

func TestCommandDefaultsToImage(t *testing.T) {
	t.Parallel()
	p := start(t, newRunner(t), processConfig(t, nil, nil))
	assert.Equal(t, "image default command\n", p.stdout.all(t))
	require.NoError(t, p.wait(t))
}

func TestSignalReachesMainProcess(t *testing.T) {
	t.Parallel()
	p := start(t, newRunner(t), processConfig(t, sh(`
		trap 'echo got TERM; exit 7' TERM
		echo ready
		sleep 1000 & wait`), nil))
	require.Eventually(t, func() bool { return p.stdout.contains("ready\n") }, waitFor, tick)
	require.NoError(t, p.Signal(syscall.SIGTERM))
	assert.Equal(t, &sdk.ExitError{Code: 7}, p.wait(t))
	assert.Equal(t, "ready\ngot TERM\n", p.stdout.all(t))
	// Signalling a container that is gone is not an error.
	require.NoError(t, p.Signal(syscall.SIGTERM))
}

func TestInitForwardsSignalAndSignalReported(t *testing.T) {
	t.Parallel()
	c := engineClient(t)
	p := start(t, newRunner(t), processConfig(t, sh("echo ready; exec sleep 1000"), map[string]any{"init": true}))
	require.Eventually(t, func() bool { return p.stdout.contains("ready\n") }, waitFor, tick)
	res, err := c.ContainerInspect(context.Background(), p.ID(), client.ContainerInspectOptions{})
	require.NoError(t, err)
	require.NotNil(t, res.Container.HostConfig.Init)
	assert.True(t, *res.Container.HostConfig.Init)

	// sleep has no handler: the init forwards TERM, sleep dies of it, the
	// init exits 128+15, which is reported as the signal.
	require.NoError(t, p.Signal(syscall.SIGTERM))
	err = p.wait(t)
	assert.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGTERM"}, err)
	assert.Equal(t, "killed by SIGTERM", err.Error())
}

// TestStopEscalation drives a stop the way the host does: the stop signal,
// the stop timeout, then SIGKILL, on a container whose PID 1 ignores
// SIGTERM.
func TestStopEscalation(t *testing.T) {
	t.Parallel()
	const stopTimeout = time.Second
	c := engineClient(t)
	p := start(t, newRunner(t), processConfig(t, sh(`
		trap '' TERM
		echo ready
		while :; do sleep 1; done`), nil))
	require.Eventually(t, func() bool { return p.stdout.contains("ready\n") }, waitFor, tick)

	require.NoError(t, p.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
		t.Fatalf("the container ended on SIGTERM: %v", p.Wait())
	case <-time.After(stopTimeout):
	}
	res, err := c.ContainerInspect(context.Background(), p.ID(), client.ContainerInspectOptions{})
	require.NoError(t, err)
	require.True(t, res.Container.State.Running, "the container ignores SIGTERM")

	require.NoError(t, p.Signal(syscall.SIGKILL))
	assert.Equal(t, &sdk.ExitError{Code: -1, Signal: "SIGKILL"}, p.wait(t))
	assert.True(t, containerGone(t, c, p.ID()))
}

func TestLabelsNameAndRemovalAfterExit(t *testing.T) {
	t.Parallel()
	c := engineClient(t)
	r := newRunner(t)
	p := start(t, r, processConfig(t, sh("echo ready; exec sleep 1000"), nil))
	require.Eventually(t, func() bool { return p.stdout.contains("ready\n") }, waitFor, tick)

	res, err := c.ContainerInspect(context.Background(), p.ID(), client.ContainerInspectOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"prox": "1", "prox.config": r.label, "prox.process": "TestLabelsNameAndRemovalAfterExit"},
		pick(res.Container.Config.Labels, "prox", "prox.config", "prox.process"))
	assert.Regexp(t, `^/?prox-TestLabelsNameAndRemovalAfterExit-[0-9a-f]{8}$`, res.Container.Name)
	assert.Positive(t, p.PID())
	assert.Equal(t, res.Container.State.Pid, p.PID())

	require.NoError(t, p.Signal(syscall.SIGKILL))
	require.Error(t, p.wait(t))
	// Wait returns once the container is removed.
	assert.True(t, containerGone(t, c, p.ID()))

	// A given name is used as is.
	name := "prox-test-named-" + randomHex(t)
	p = start(t, r, processConfig(t, sh("echo named"), map[string]any{"name": name}))
	assert.Equal(t, "named\n", p.stdout.all(t))
	require.NoError(t, p.wait(t))
	gone, err := isGone(context.Background(), c, name)
	require.NoError(t, err)
	assert.True(t, gone)
}

func pick(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

func TestLeftoverSweep(t *testing.T) {
	t.Parallel()
	c := engineClient(t)
	addr := engineAddr(t)
	label := uniqueLabel(t)
	ctx := context.Background()
	create := func(labelValue string, run bool) string {
		res, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config: &container.Config{Image: testImage, Cmd: []string{"sleep", "1000"},
				Labels: map[string]string{LabelManaged: "1", LabelConfig: labelValue, LabelProcess: "old"}},
		})
		require.NoError(t, err)
		t.Cleanup(func() { _, _ = c.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true}) })
		if run {
			_, err = c.ContainerStart(ctx, res.ID, client.ContainerStartOptions{})
			require.NoError(t, err)
		}
		return res.ID
	}
	stopped := create(label, false)
	running := create(label, true)
	other := create(label+"-other", false)

	r := New()
	require.NoError(t, r.Configure(configValues(t, map[string]any{"host": addr, "label": label})))
	t.Cleanup(func() { require.NoError(t, r.Shutdown()) })
	assert.True(t, containerGone(t, c, stopped), "a stopped leftover is removed")
	assert.True(t, containerGone(t, c, running), "a running leftover is removed")
	assert.False(t, containerGone(t, c, other), "a container of another config is kept")
}

func TestShutdownRemovesEverything(t *testing.T) {
	t.Parallel()
	c := engineClient(t)
	r := New()
	require.NoError(t, r.Configure(configValues(t, map[string]any{"host": engineAddr(t), "label": uniqueLabel(t)})))
	var procs []*started
	for i := range 2 {
		p := start(t, r, processConfig(t, sh(fmt.Sprintf("echo up %d; exec sleep 1000", i)), nil))
		require.Eventually(t, func() bool { return p.stdout.contains("up") }, waitFor, tick)
		procs = append(procs, p)
	}
	require.NoError(t, r.Shutdown())
	for _, p := range procs {
		assert.True(t, containerGone(t, c, p.ID()))
		require.True(t, isClosed(p.done), "Shutdown waits for its processes")
		assert.Error(t, p.Wait())
	}
	_, err := r.Start(context.Background(), processConfig(t, sh("true"), nil))
	require.ErrorContains(t, err, "shut down")
}

func TestImageNotFound(t *testing.T) {
	t.Parallel()
	c := engineClient(t)
	r := newRunner(t)

	_, err := r.Start(context.Background(), processConfig(t, nil, map[string]any{"image": "prox-test/nosuch:latest", "pull": "never"}))
	require.ErrorContains(t, err, `image "prox-test/nosuch:latest" is not available and pull is "never"`)

	// A pull that fails: a registry address where nothing listens, on
	// loopback.
	image := "127.0.0.1:1/prox-test/nosuch:latest"
	_, err = r.Start(context.Background(), processConfig(t, nil, map[string]any{"image": image, "pull": "missing"}))
	require.ErrorContains(t, err, `image "`+image+`" could not be pulled`)

	list, err := c.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelConfig+"="+r.label)})
	require.NoError(t, err)
	assert.Empty(t, list.Items, "a failed start leaves no container")
}

func TestNoEngine(t *testing.T) {
	addr := "unix://" + filepath.Join(t.TempDir(), "nothing.sock")
	err := New().Configure(configValues(t, map[string]any{"host": addr}))
	require.ErrorContains(t, err, "no container engine answers at "+addr)
	attrs := sdk.AttributeErrors(err)
	require.Len(t, attrs, 1, "the block's host is at fault")
	assert.Equal(t, "host", attrs[0].Attribute)

	// DOCKER_HOST is the default address.
	t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
	err = New().Configure(configValues(t, map[string]any{}))
	require.ErrorContains(t, err, "no container engine answers at tcp://127.0.0.1:1")
	assert.Empty(t, sdk.AttributeErrors(err), "the block sets no host")

	_, err = New().Start(context.Background(), processConfig(t, nil, nil))
	require.ErrorContains(t, err, "not configured")
}

func TestEnvironmentFiltered(t *testing.T) {
	t.Parallel()
	env := []string{
		"PATH=/host/bin", "HOME=/host/home", "USER=someone", "SHELL=/bin/zsh", "TERM=xterm-kitty",
		"SSH_AUTH_SOCK=/tmp/agent", "XDG_RUNTIME_DIR=/run/user/1000", "DOCKER_HOST=unix:///x",
		"FOO=bar", "EMPTY=",
	}
	cfg := processConfig(t, []string{"env"}, nil)
	cfg.Env = env
	p := start(t, newRunner(t), cfg)
	out := p.stdout.all(t)
	require.NoError(t, p.wait(t))
	vars := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	assert.Contains(t, vars, "FOO=bar")
	assert.Contains(t, vars, "EMPTY=")
	for _, leaked := range []string{"PATH=/host/bin", "HOME=/host/home", "USER=someone", "SHELL=/bin/zsh", "TERM=xterm-kitty"} {
		assert.NotContains(t, vars, leaked)
	}
	for _, v := range vars {
		assert.False(t, strings.HasPrefix(v, "SSH_") || strings.HasPrefix(v, "XDG_") || strings.HasPrefix(v, "DOCKER_"), v)
	}
}

func TestDirAndUser(t *testing.T) {
	t.Parallel()
	cfg := processConfig(t, sh("pwd; id -u; id -g"), map[string]any{"user": "65534:65534"})
	cfg.Dir = "/tmp"
	p := start(t, newRunner(t), cfg)
	assert.Equal(t, "/tmp\n65534\n65534\n", p.stdout.all(t))
	require.NoError(t, p.wait(t))
}

func TestVolumes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "greeting"), []byte("hello from the host\n"), 0o644))
	p := start(t, newRunner(t), processConfig(t, sh("cat /data/greeting; touch /data/new && echo writable || echo read-only"),
		map[string]any{"volumes": []string{dir + ":/data:ro"}}))
	assert.Equal(t, "hello from the host\nread-only\n", p.stdout.all(t))
	require.NoError(t, p.wait(t))
	assert.NoFileExists(t, filepath.Join(dir, "new"))
}

func TestPortsPublishedOnLoopback(t *testing.T) {
	t.Parallel()
	c := engineClient(t)
	port := freePort(t)
	p := start(t, newRunner(t), processConfig(t, sh("mkdir -p /www && echo hello over http > /www/index.html && exec httpd -f -p 8080 -h /www"),
		map[string]any{"ports": []string{fmt.Sprintf("%d:8080", port)}, "network": nil}))

	res, err := c.ContainerInspect(context.Background(), p.ID(), client.ContainerInspectOptions{})
	require.NoError(t, err)
	bindings := res.Container.HostConfig.PortBindings[network.MustParsePort("8080/tcp")]
	require.Len(t, bindings, 1)
	assert.Equal(t, netip.MustParseAddr("127.0.0.1"), bindings[0].HostIP)
	assert.Equal(t, fmt.Sprint(port), bindings[0].HostPort)

	var body string
	require.Eventually(t, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/index.html", port))
		if err != nil {
			return false
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		body = string(b)
		return err == nil && resp.StatusCode == http.StatusOK
	}, waitFor, 50*time.Millisecond)
	assert.Equal(t, "hello over http\n", body)
	require.NoError(t, p.Signal(syscall.SIGKILL))
	require.Error(t, p.wait(t))
}

// freePort returns a TCP port free on 127.0.0.1 right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	r := newRunner(t)
	_, err := r.Start(context.Background(), &sdk.ProcessConfig{Name: "web"})
	require.EqualError(t, err, `the process has no "container" block: it needs at least an image`)

	_, err = r.Start(context.Background(), processConfig(t, nil, map[string]any{"pull": "sometimes"}))
	require.ErrorContains(t, err, `pull "sometimes"`)

	// A command the image does not have: the engine refuses to start it,
	// and the created container goes.
	c := engineClient(t)
	_, err = r.Start(context.Background(), processConfig(t, []string{"/no/such/program"}, nil))
	require.ErrorContains(t, err, "start container")
	require.ErrorContains(t, err, "/no/such/program", "the engine's reason")
	list, lerr := c.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelConfig+"="+r.label)})
	require.NoError(t, lerr)
	assert.Empty(t, list.Items)
}

func TestSignalUnsupported(t *testing.T) {
	t.Parallel()
	p := start(t, newRunner(t), processConfig(t, sh("exit 0"), nil))
	require.Error(t, p.Signal(fakeSignal{}))
	require.NoError(t, p.wait(t))
}

type fakeSignal struct{}

func (fakeSignal) String() string { return "fake" }
func (fakeSignal) Signal()        {}
