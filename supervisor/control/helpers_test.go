package control

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/logs"
	execrunner "github.com/prox-dev/prox/plugins/runner/exec"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor"
	"github.com/stretchr/testify/require"
)

// waitFor is the deadline of every wait in this package's tests; tick is
// the polling interval.
const (
	waitFor = 20 * time.Second
	tick    = 5 * time.Millisecond
)

// instance is a real supervisor (with the exec runner, in process), a
// real log manager and the control server on a socket in a temp folder.
type instance struct {
	sup    *supervisor.Manager
	logs   *logs.Manager
	server *Server
	client *Client
	socket string
	// dir is the processes' working folder.
	dir string
}

// proc is a process of a test instance: a shell script.
type proc struct {
	name   string
	script string
	// command, when set, replaces /bin/sh -c script.
	command []string
	// group is the process block it is an instance of; default name.
	group string
}

// startInstance starts the processes and serves the API; everything is
// stopped in t.Cleanup.
func startInstance(t testing.TB, procs ...proc) *instance {
	t.Helper()
	logger := hclog.New(&hclog.LoggerOptions{Name: "test", Output: testWriter{t}, Level: hclog.Warn})
	inst := &instance{
		logs:   logs.NewManager(logs.ManagerOptions{Logger: logger}),
		socket: filepath.Join(t.TempDir(), ".prox", "prox.sock"),
	}
	runner := sdk.Runner(execrunner.New())
	dir := t.TempDir()
	inst.dir = dir
	var specs []supervisor.ProcessSpec
	for _, p := range procs {
		command := p.command
		if command == nil {
			command = []string{"/bin/sh", "-c", p.script}
		}
		specs = append(specs, supervisor.ProcessSpec{
			Name:        p.name,
			Group:       p.group,
			Runner:      runner,
			RunnerName:  "exec",
			StopTimeout: 5 * time.Second,
			Config: sdk.ProcessConfig{
				Name:    p.name,
				Command: command,
				Env:     []string{"PATH=/usr/bin:/bin"},
				Dir:     dir,
			},
		})
	}
	inst.sup = supervisor.New(specs, supervisor.Options{Logger: logger, OutputBatch: inst.logs.WriteStableBatch})
	if err := inst.sup.Start(context.Background()); err != nil {
		t.Logf("some processes did not start: %v", err)
	}
	ln, err := Listen(inst.socket)
	require.NoError(t, err)
	inst.server = Serve(ln, Options{Supervisor: inst.sup, Logs: inst.logs, Logger: logger, Version: "test", Config: "prox.hcl"})
	inst.client = NewClient(inst.socket)
	t.Cleanup(func() {
		inst.client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		require.NoError(t, inst.server.Close(ctx))
		require.NoError(t, inst.sup.Stop(ctx))
		require.NoError(t, inst.logs.Close(ctx))
	})
	return inst
}

// ctx returns a context that ends with the test.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// waitState waits until the named process is in state.
func (inst *instance) waitState(t *testing.T, name string, state supervisor.State) supervisor.ProcessInfo {
	t.Helper()
	var info supervisor.ProcessInfo
	require.Eventually(t, func() bool {
		info, _ = inst.sup.Process(name)
		return info.State == state
	}, waitFor, tick, "process %s never became %s", name, state)
	return info
}

// waitLines waits until the log manager holds n lines of process.
func (inst *instance) waitLines(t *testing.T, process string, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		return len(inst.logs.Query(logs.Filter{Processes: []string{process}}, 0)) >= n
	}, waitFor, tick, "process %s never wrote %d lines", process, n)
}

// testWriter sends log output to t.Log.
type testWriter struct{ t testing.TB }

// Write implements io.Writer.
func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// requireNoGoroutineLeak waits until no more goroutines run than before
// (with slack for the runtime's own), and dumps them if that never happens.
func requireNoGoroutineLeak(t *testing.T, before int) {
	t.Helper()
	ok := false
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		if runtime.NumGoroutine() <= before {
			ok = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !ok {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("goroutines leaked: %d before, %d now\n%s", before, runtime.NumGoroutine(), bytes.TrimSpace(buf[:n]))
	}
}

// mode returns the permission bits of path.
func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Mode().Perm()
}

// ticker is a script that prints "NAME tick N" every 20 ms.
func ticker(name string) string {
	return fmt.Sprintf(`i=0; while :; do i=$((i+1)); echo "%s tick $i"; sleep 0.02; done`, name)
}

// sh is a process running script with /bin/sh.
func sh(name, script string) proc { return proc{name: name, script: script} }
