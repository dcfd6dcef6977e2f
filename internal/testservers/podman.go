package testservers

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
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

	"github.com/stretchr/testify/require"
)

// TestImage is the image the Podman service holds: busybox, made offline.
// Its default command prints "image default command".
const TestImage = "prox-test/busybox:latest"

// containersConf is what Podman needs on the test machines: runc (crun
// refuses the hybrid cgroups), cgroupfs, no journald, and rlimits root may
// set.
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

// PodmanService is a Docker-compatible API service (`podman system
// service`) on a private storage holding TestImage. One serves a whole
// test binary: Podman starts it on first use, StopPodman (from TestMain)
// stops it.
type PodmanService struct {
	// Addr is its API's address, unix://…/podman.sock.
	Addr string

	dir  string
	env  []string
	cmd  *exec.Cmd
	done chan struct{}
}

var (
	podmanOnce sync.Once
	podman     *PodmanService
	podmanErr  error
	podmanSkip string
)

// Podman returns the test binary's Podman service, starting it on first
// use. Without podman, runc, busybox or root the test is skipped, or fails
// when CI=true.
func Podman(tb testing.TB) *PodmanService {
	tb.Helper()
	podmanOnce.Do(func() { podman, podmanSkip, podmanErr = startPodman() })
	if podmanSkip != "" {
		Missing(tb, "%s", podmanSkip)
	}
	require.NoError(tb, podmanErr, "start the podman API service")
	return podman
}

// StopPodman stops the Podman service if Podman started one: it removes
// every container, stops the service and deletes its files. It returns
// the prox containers (label prox=1) that were left behind, one per line,
// "" when none were. TestMain calls it after the tests.
func StopPodman() string {
	if podman == nil {
		return ""
	}
	return podman.stop()
}

// startPodman checks the prerequisites, imports the test image into a
// private storage and starts `podman system service` on a private socket.
// It returns a reason to skip when a prerequisite is missing.
func startPodman() (*PodmanService, string, error) {
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
	s := &PodmanService{dir: dir, Addr: "unix://" + filepath.Join(dir, "podman.sock"), done: make(chan struct{})}
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
func (s *PodmanService) launch() error {
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
	imp := s.Command("import", "--change", `CMD ["sh","-c","echo image default command"]`, "-", TestImage)
	imp.Stdin = bytes.NewReader(rootfs)
	if out, err := imp.CombinedOutput(); err != nil {
		return fmt.Errorf("podman import: %w: %s", err, out)
	}

	logf, err := os.Create(filepath.Join(s.dir, "service.log"))
	if err != nil {
		return err
	}
	// Its own process group, so that stop reaches whatever it started.
	s.cmd = s.Command("system", "service", "--time=0", s.Addr)
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

// Command returns a podman command on the service's private storage and
// settings.
func (s *PodmanService) Command(args ...string) *exec.Cmd {
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
func (s *PodmanService) waitReady(within time.Duration) error {
	sock := strings.TrimPrefix(s.Addr, "unix://")
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
			return fmt.Errorf("podman API at %s not ready after %s: %w", s.Addr, within, err)
		}
	}
}

// stop lists the prox containers left behind, removes every container,
// stops the service and deletes its files. It returns the leftovers.
func (s *PodmanService) stop() string {
	var out []byte
	if s.env != nil {
		out, _ = s.Command("ps", "-a", "--filter", "label=prox=1", "--format", "{{.Names}} {{.Labels}}").Output()
		_ = s.Command("rm", "-af", "-t", "0").Run()
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
