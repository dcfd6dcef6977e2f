package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/bench/internal/scenario"
)

// binaries are the programs a benchmark runs.
type binaries struct {
	prox     string // "" when no prox peer runs
	load     string
	noopSink string // "" unless the floor scenario runs
}

// build builds prox (unless given or not needed), proxload (unless given)
// and, when needNoop, the no-op sink plugin from the module this command
// belongs to.
func build(ctx context.Context, o *options, needProx, needNoop bool, log hclog.Logger) (*binaries, error) {
	b := &binaries{prox: o.prox, load: o.load}
	if (b.prox != "" || !needProx) && b.load != "" && !needNoop {
		return b, nil
	}
	goBin, err := goCommand()
	if err != nil {
		return nil, err
	}
	root, err := moduleRoot(ctx, goBin)
	if err != nil {
		return nil, err
	}
	binDir := filepath.Join(o.work, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, fmt.Errorf("bin folder: %w", err)
	}
	if b.load == "" {
		b.load = filepath.Join(binDir, "proxload")
		log.Info("building", "binary", b.load)
		if err := goBuild(ctx, goBin, root, b.load, "./bench/cmd/proxload"); err != nil {
			return nil, err
		}
	}
	if b.prox == "" && needProx {
		b.prox = filepath.Join(binDir, "prox")
		log.Info("building", "binary", b.prox)
		if err := goBuild(ctx, goBin, root, b.prox, "."); err != nil {
			return nil, err
		}
	}
	if needNoop {
		b.noopSink = filepath.Join(binDir, scenario.NoopSinkComm)
		log.Info("building", "binary", b.noopSink)
		if err := goBuild(ctx, goBin, root, b.noopSink, "./bench/cmd/noopsink"); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// goCommand finds the go command: on PATH, else in this toolchain's GOROOT.
func goCommand() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	// bench runs from the source tree (go run ./bench), where the
	// GOROOT it was built with is this machine's.
	//lint:ignore SA1019 the binary is not copied to another machine
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("go command not found on PATH nor at %s", p)
	}
	return p, nil
}

// moduleRoot returns the folder of the prox module's go.mod, as seen from
// the current folder.
func moduleRoot(ctx context.Context, goBin string) (string, error) {
	out, err := exec.CommandContext(ctx, goBin, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the prox module: run from the repository")
	}
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", fmt.Errorf("read go.mod: %w", err)
	}
	if !bytes.Contains(b, []byte("module github.com/prox-dev/prox\n")) {
		return "", fmt.Errorf("%s is not prox's go.mod: run from the repository", gomod)
	}
	return filepath.Dir(gomod), nil
}

func goBuild(ctx context.Context, goBin, root, out, pkg string) error {
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, pkg)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, stderr.String())
	}
	return nil
}

// fileSinkAvailable reports whether prox accepts a configuration that
// uses the file sink (prox validate launches the plugins it names).
func fileSinkAvailable(ctx context.Context, prox, work string) bool {
	dir, err := os.MkdirTemp(work, "sink-check-")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "prox.hcl")
	body := fmt.Sprintf("sink \"file\" \"bench\" {\n  path = %q\n}\nprocess \"x\" {\n  command = [\"true\"]\n  sinks   = [\"file.bench\"]\n}\n",
		filepath.Join(dir, "{process}.log"))
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		return false
	}
	return exec.CommandContext(ctx, prox, "validate", "-config", cfg).Run() == nil
}

// proxHasQuiet reports whether `prox up` takes -quiet.
func proxHasQuiet(ctx context.Context, prox string) bool {
	out, _ := exec.CommandContext(ctx, prox, "up", "-h").CombinedOutput()
	return bytes.Contains(out, []byte("-quiet"))
}

func sortStrings(s []string) { sort.Strings(s) }
