package command

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/cli"
	"github.com/prox-dev/prox/agent"
	"github.com/prox-dev/prox/supervisor/control"
	"github.com/stretchr/testify/require"
)

// Deadlines of the control commands' tests.
const (
	ctlWait = 30 * time.Second
	ctlTick = 10 * time.Millisecond
)

// runningProx is a real `prox up`, run in process (its plugins are this
// test binary, re-executed), on a configuration in a temp folder, with its
// control socket in the default place beside it.
type runningProx struct {
	dir    string
	config string
	socket string
	up     *cli.MockUi
	sigs   chan os.Signal
	done   chan int
	client *control.Client
}

// startProx writes hcl to prox.hcl in a temp folder, runs `prox up` on it
// and waits until its control API answers and every named process runs.
// It is interrupted, and must exit, in t.Cleanup.
func startProx(t *testing.T, hcl string, running ...string) *runningProx {
	t.Helper()
	return startProxIn(t, t.TempDir(), hcl, running...)
}

// startProxIn is startProx with the configuration in dir.
func startProxIn(t *testing.T, dir, hcl string, running ...string) *runningProx {
	t.Helper()
	t.Setenv(agent.SocketEnv, "") // the default socket, whatever the environment says
	rp := &runningProx{
		dir:    dir,
		config: filepath.Join(dir, "prox.hcl"),
		socket: filepath.Join(dir, ".prox", "prox.sock"),
		up:     cli.NewMockUi(),
		sigs:   make(chan os.Signal, 1),
		done:   make(chan int, 1),
	}
	require.NoError(t, os.WriteFile(rp.config, []byte(hcl), 0o644))
	up := &UpCommand{Meta: newMeta(rp.up), signals: rp.sigs}
	go func() { rp.done <- up.Run([]string{"-config", rp.config, "-log-level", "warn"}) }()
	rp.client = control.NewClient(rp.socket)
	t.Cleanup(func() {
		rp.client.Close()
		rp.stop(t)
	})
	deadline := time.Now().Add(ctlWait)
	for {
		select {
		case code := <-rp.done:
			rp.done <- code
			t.Fatalf("prox up exited with %d before it was ready\nstdout: %s\nstderr: %s", code, rp.up.OutputWriter.String(), rp.up.ErrorWriter.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := rp.client.Status(ctx)
		cancel()
		if err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "the control API never answered: %v", err)
		time.Sleep(ctlTick)
	}
	for _, name := range running {
		rp.waitState(t, name, "running")
	}
	return rp
}

// stop interrupts prox up (once) and waits for it to exit; it returns the
// exit code.
func (rp *runningProx) stop(t *testing.T) int {
	t.Helper()
	select {
	case rp.sigs <- os.Interrupt:
	default:
	}
	select {
	case code := <-rp.done:
		rp.done <- code
		return code
	case <-time.After(ctlWait):
		t.Fatalf("prox up did not exit after the interrupt\nstderr: %s", rp.up.ErrorWriter.String())
		return -1
	}
}

// waitState waits until the named process is in state, as the API says.
func (rp *runningProx) waitState(t *testing.T, name, state string) control.Process {
	t.Helper()
	var p *control.Process
	require.Eventually(t, func() bool {
		var err error
		p, err = rp.client.Process(context.Background(), name)
		return err == nil && p.State == state
	}, ctlWait, ctlTick, "process %s never became %s", name, state)
	return *p
}

// run runs a control command of this prox, found from its -config, and
// returns its exit code, stdout and stderr.
func (rp *runningProx) run(t *testing.T, name string, args ...string) (int, string, string) {
	t.Helper()
	return runCommand(t, name, append([]string{"-config", rp.config}, args...)...)
}

// runCommand runs the named command of the CLI with args.
func runCommand(t *testing.T, name string, args ...string) (int, string, string) {
	t.Helper()
	ui := cli.NewMockUi()
	factory, ok := Commands(newMeta(ui))[name]
	require.True(t, ok, "no command %q", name)
	cmd, err := factory()
	require.NoError(t, err)
	code := cmd.Run(args)
	return code, ui.OutputWriter.String(), ui.ErrorWriter.String()
}

// lines splits output into its non-empty lines.
func lines(out string) []string {
	var res []string
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) != "" {
			res = append(res, l)
		}
	}
	return res
}
