package scenario

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prox-dev/prox/bench/internal/peers"
	"github.com/stretchr/testify/require"
)

// binDir holds the binaries the tests build, once per test run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scenario-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// builds maps a package to its *buildResult.
var builds sync.Map

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// goBuild builds a package of this module (relative to its root) once.
func goBuild(t *testing.T, pkg, name string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &buildResult{})
	b := v.(*buildResult)
	b.once.Do(func() {
		// go test puts its own GOROOT/bin first on PATH.
		goBin, err := exec.LookPath("go")
		if err != nil {
			b.err = fmt.Errorf("go command not found on PATH: %w", err)
			return
		}
		b.path = filepath.Join(binDir, name)
		cmd := exec.Command(goBin, "build", "-o", b.path, pkg)
		cmd.Dir = filepath.Join("..", "..", "..")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			b.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, stderr.String())
		}
	})
	require.NoError(t, b.err)
	return b.path
}

// testEnv is an Env with small scenarios and the workload built.
func testEnv(t *testing.T) *Env {
	t.Helper()
	return &Env{
		Load: goBuild(t, "./bench/cmd/proxload", "proxload"),
		Params: Params{
			S1Procs: 2, S1Lines: 20000, S1Size: 100,
			S2Procs: 5, S3Procs: 3, StopTimeout: 300 * time.Millisecond,
			S4Duration: time.Second, StartPlugins: []int{2},
			IdleProcs: 3, IdleDuration: 300 * time.Millisecond,
		},
		Grace: 500 * time.Millisecond,
	}
}

// proxPeer builds prox from the repository.
func proxPeer(t *testing.T) peers.Prox {
	t.Helper()
	return peers.Prox{Bin: goBuild(t, ".", "prox"), Sink: true, Quiet: true}
}

// requireSupervisord skips the test when supervisord is missing, except
// under CI=true, where it fails.
func requireSupervisord(t *testing.T) {
	t.Helper()
	if peers.SupervisordInstalled() {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("supervisord (Debian package supervisor) is not installed")
	}
	t.Skip("supervisord (Debian package supervisor) is not installed")
}

// run runs sc once with p in a temporary folder.
func run(t *testing.T, e *Env, sc *Scenario, p peers.Peer) *Result {
	t.Helper()
	r := sc.Run(e, p, filepath.Join(t.TempDir(), "run"), 1)
	require.True(t, r.OK(), "run failed: %s", r.Error)
	require.NotNil(t, r.Watch)
	return r
}

// lossyPeer is a shell baseline that keeps only the first 5000 bytes of
// each process's output.
type lossyPeer struct{}

func (lossyPeer) Name() string    { return "lossy" }
func (lossyPeer) Version() string { return "test" }

func (lossyPeer) Prepare(dir string, spec *peers.Spec) (*peers.Setup, error) {
	setup, err := peers.Shell{}.Prepare(dir, spec)
	if err != nil {
		return nil, err
	}
	script := "#!/bin/sh\n"
	for _, p := range spec.Processes {
		script += fmt.Sprintf("%s 2>&1 | { head -c 5000 > %q; cat > /dev/null; } &\n", shellJoin(p.Argv), setup.Logs[p.Name])
	}
	script += "wait\n"
	if err := os.WriteFile(setup.Config, []byte(script), 0o755); err != nil {
		return nil, err
	}
	return setup, nil
}

func shellJoin(argv []string) string {
	out := ""
	for i, a := range argv {
		if i > 0 {
			out += " "
		}
		out += a
	}
	return out
}
