package container

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/require"
)

const (
	// testImage is the image every test runs: busybox, made offline. Its
	// default command prints "image default command".
	testImage = "prox-test/busybox:latest"
	waitFor   = 30 * time.Second
	tick      = 20 * time.Millisecond
)

// containersConf is what Podman needs on the test machines: runc (crun refuses the hybrid cgroups), cgroupfs, no
// journald, and rlimits root may set.
const containersConf = `[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`

// registriesConf makes short image names resolve locally only: no test
// ever reaches for a registry.
const registriesConf = "unqualified-search-registries = []\n"

// podmanService is the Docker-compatible API service shared by the
// package's tests; TestMain stops it.
type podmanService struct {
	dir  string
	addr string // unix://…/podman.sock
	env  []string
	cmd  *exec.Cmd
	done chan struct{}
}

var (
	serviceOnce sync.Once
	service     *podmanService
	serviceErr  error
	serviceSkip string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if service != nil {
		if leftovers := service.stop(); leftovers != "" {
			fmt.Fprintf(os.Stderr, "containers left behind by the tests:\n%s\n", leftovers)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// engineAddr starts the shared Podman API service on first use and returns
// its address. Without podman, runc or busybox the test is skipped, or
// fails when CI=true.
func engineAddr(t testing.TB) string {
	t.Helper()
	serviceOnce.Do(func() { service, serviceSkip, serviceErr = startPodman() })
	if serviceSkip != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: not skipping; scripts/test.sh installs podman runc busybox-static)", serviceSkip)
		}
		t.Skip(serviceSkip)
	}
	require.NoError(t, serviceErr, "start the podman API service")
	return service.addr
}

// startPodman checks the prerequisites, imports the test image into a
// private storage and starts `podman system service` on a private socket.
// It returns a reason to skip when a prerequisite is missing.
func startPodman() (*podmanService, string, error) {
	for _, bin := range []string{"podman", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, bin + " is not installed (Debian packages: podman runc busybox-static)", nil
		}
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		return nil, "/bin/busybox is missing (Debian package busybox-static)", nil
	}
	if os.Geteuid() != 0 {
		return nil, "the podman tests run as root (rootful podman with a private storage)", nil
	}
	dir, err := os.MkdirTemp("", "prox-container-")
	if err != nil {
		return nil, "", err
	}
	s := &podmanService{dir: dir, addr: "unix://" + filepath.Join(dir, "podman.sock"), done: make(chan struct{})}
	if err := s.launch(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "service.log"))
		s.stop()
		if len(log) > 0 {
			err = fmt.Errorf("%w; service log:\n%s", err, log)
		}
		return nil, "", err
	}
	return s, "", nil
}

// launch writes the settings, imports the test image and starts the
// service, returning once it answers.
func (s *podmanService) launch() error {
	conf := filepath.Join(s.dir, "containers.conf")
	regs := filepath.Join(s.dir, "registries.conf")
	if err := os.WriteFile(conf, []byte(containersConf), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(regs, []byte(registriesConf), 0o644); err != nil {
		return err
	}
	s.env = append(os.Environ(), "CONTAINERS_CONF="+conf, "CONTAINERS_REGISTRIES_CONF="+regs)

	rootfs, err := busyboxTar()
	if err != nil {
		return err
	}
	imp := s.podman("import", "--change", `CMD ["sh","-c","echo image default command"]`, "-", testImage)
	imp.Stdin = bytes.NewReader(rootfs)
	if out, err := imp.CombinedOutput(); err != nil {
		return fmt.Errorf("podman import: %w: %s", err, out)
	}

	logf, err := os.Create(filepath.Join(s.dir, "service.log"))
	if err != nil {
		return err
	}
	// Its own process group, so that stop reaches whatever it started.
	s.cmd = s.podman("system", "service", "--time=0", s.addr)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		_ = logf.Close()
		s.cmd = nil
		return fmt.Errorf("start podman system service: %w", err)
	}
	go func() {
		_ = s.cmd.Wait()
		_ = logf.Close()
		close(s.done)
	}()
	return s.waitReady(30 * time.Second)
}

// podman returns a podman command on the private storage and settings.
func (s *podmanService) podman(args ...string) *exec.Cmd {
	global := []string{
		"--root", filepath.Join(s.dir, "storage"),
		"--runroot", filepath.Join(s.dir, "run"),
		"--tmpdir", filepath.Join(s.dir, "tmp"),
		"--storage-driver", "vfs",
	}
	cmd := exec.Command("podman", append(global, args...)...)
	cmd.Env = s.env
	return cmd
}

// waitReady polls the API's /_ping until it answers OK.
func (s *podmanService) waitReady(within time.Duration) error {
	sock := strings.TrimPrefix(s.addr, "unix://")
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	deadline := time.Now().Add(within)
	for {
		resp, err := hc.Get("http://podman/_ping")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-s.done:
			return errors.New("podman system service exited before it was ready")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("podman API at %s not ready after %s: %w", s.addr, within, err)
		}
	}
}

// stop lists the prox containers left behind, removes every container,
// stops the service and deletes its files. It returns the leftovers.
func (s *podmanService) stop() string {
	var out []byte
	if s.env != nil {
		out, _ = s.podman("ps", "-a", "--filter", "label=prox=1", "--format", "{{.Names}} {{.Labels}}").Output()
		_ = s.podman("rm", "-af", "-t", "0").Run()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
	_ = os.RemoveAll(s.dir)
	return strings.TrimSpace(string(out))
}

// busyboxTar returns a root filesystem as a tar: /bin/busybox and a
// symlink per applet, and the usual empty directories.
func busyboxTar() ([]byte, error) {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, err
	}
	list, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, d := range []string{"bin", "etc", "tmp", "proc", "sys", "dev", "root"} {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: now}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb)), ModTime: now}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bb); err != nil {
		return nil, err
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.ContainsAny(applet, "[/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", Mode: 0o777, ModTime: now}); err != nil {
			return nil, err
		}
	}
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644, Size: int64(len(passwd)), ModTime: now}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(passwd); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// engineClient returns a client of the shared engine for the test's own
// checks.
func engineClient(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(client.WithHost(engineAddr(t)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// randomHex returns 8 random hex digits.
func randomHex(t testing.TB) string {
	var b [4]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return hex.EncodeToString(b[:])
}

// uniqueLabel returns a config label no other test uses.
func uniqueLabel(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.Name())
	return "test-" + name + "-" + randomHex(t)
}

// newRunner returns a Runner configured for the shared engine with a label
// of its own, shut down when the test ends.
func newRunner(t testing.TB) *Runner {
	t.Helper()
	addr := engineAddr(t)
	r := New()
	require.NoError(t, r.Configure(configValues(t, map[string]any{"host": addr, "label": uniqueLabel(t)})))
	t.Cleanup(func() { require.NoError(t, r.Shutdown()) })
	return r
}

// configValues returns an sdk.Config holding values as JSON.
func configValues(t testing.TB, values map[string]any) *sdk.Config {
	t.Helper()
	return &sdk.Config{APIVersion: 1, Values: mustJSON(t, values)}
}

// mustJSON marshals v.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// processConfig returns the config of a process named after the test that
// runs command (nil: the image's) in the test image with extra settings.
// It has no network unless the settings give one (nil: the engine's
// default): a bridge network costs seconds per container here.
func processConfig(t testing.TB, command []string, settings map[string]any) *sdk.ProcessConfig {
	t.Helper()
	s := map[string]any{"image": testImage, "pull": "never", "network": "none"}
	for k, v := range settings {
		s[k] = v
	}
	name := strings.ReplaceAll(t.Name(), "/", "_")
	return &sdk.ProcessConfig{Name: name, Command: command, Settings: configValues(t, s)}
}

// collector drains a stream in the background (sdktest.Output).
type collector struct{ *sdktest.Output }

func collect(r io.Reader) *collector { return &collector{sdktest.Collect(r)} }

func (c *collector) contains(s string) bool { return c.Contains(s) }

// all waits for EOF and returns everything read.
func (c *collector) all(t testing.TB) string {
	t.Helper()
	return c.All(t, waitFor)
}

// started is a container under test with its output being collected.
type started struct {
	*Process
	stdout, stderr *collector
}

// start starts cfg on r; the runner's Shutdown removes it if the test
// leaves it running.
func start(t testing.TB, r *Runner, cfg *sdk.ProcessConfig) *started {
	t.Helper()
	p, err := r.Start(context.Background(), cfg)
	require.NoError(t, err)
	proc := p.(*Process)
	return &started{Process: proc, stdout: collect(p.Stdout()), stderr: collect(p.Stderr())}
}

// wait waits for the process, failing the test if it takes too long.
func (s *started) wait(t testing.TB) error {
	t.Helper()
	select {
	case <-s.done:
		return s.Wait()
	case <-time.After(waitFor):
		t.Fatalf("container %s did not finish", s.name)
		return nil
	}
}

// containerGone reports whether the engine no longer knows the container.
func containerGone(t testing.TB, c *client.Client, id string) bool {
	t.Helper()
	gone, err := isGone(context.Background(), c, id)
	require.NoError(t, err)
	return gone
}

// sh returns the argv running script in the container's shell.
func sh(script string) []string { return []string{"sh", "-c", script} }
