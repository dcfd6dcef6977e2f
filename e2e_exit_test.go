package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// psProcess is the part of a `prox ps -json` object these tests read.
type psProcess struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	PID      int    `json:"pid"`
	Restarts int    `json:"restarts"`
	LastExit *struct {
		Code int `json:"code"`
	} `json:"last_exit"`
}

// ps runs `prox ps -json` against the prox up of config.
func ps(t *testing.T, config string) ([]psProcess, error) {
	t.Helper()
	cmd := exec.Command(buildProx(t), "ps", "-json", "-config", config)
	cmd.Env = append(os.Environ(), "PROX_SOCKET=") // the socket beside config
	out, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	var procs []psProcess
	err = json.Unmarshal(out, &procs)
	return procs, err
}

// TestUpSeesAnExitWhileAnEscapedDescendantHoldsTheOutput: a process whose
// descendant left its process group (setsid) and keeps the output pipes
// open is seen to exit when it exits: `prox ps` shows it, the restart
// policy restarts it, and Ctrl-C stops prox without waiting on the pipe.
func TestUpSeesAnExitWhileAnEscapedDescendantHoldsTheOutput(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(`
process "esc" {
  command = ["sh", "-c", "setsid sh -c 'echo escaped $$; exec sleep 3600' & sleep 1; exit 1"]
  restart {
    policy       = "on-failure"
    backoff      = "0s"
    max_restarts = 100
  }
}
`), 0o644))
	// Contained (a cgroup, the subreaper), the escaped sleep dies with its
	// process and holds nothing: the exec runner is told to keep to the
	// process group.
	r := startUpEnv(t, cfg, "PROX_EXEC_CONTAINMENT=process-group")
	// The escaped sleeps outlive prox (nothing contains them): kill them
	// by the PIDs they printed, then check that nothing else is left.
	escaped := func() []int {
		var pids []int
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, l := range r.stdout {
			if f, ok := strings.CutPrefix(l, "esc | escaped "); ok {
				if pid, err := strconv.Atoi(f); err == nil {
					pids = append(pids, pid)
				}
			}
		}
		return pids
	}
	killEscaped := func() {
		for _, pid := range escaped() {
			cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			if strings.Contains(string(cmdline), "sleep\x003600") {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	t.Cleanup(killEscaped)

	// The exit of the first run is seen and the policy restarts it.
	var last psProcess
	if !assert.Eventually(t, func() bool {
		procs, err := ps(t, cfg)
		if err != nil || len(procs) != 1 {
			return false
		}
		last = procs[0]
		return last.Restarts >= 1 && last.LastExit != nil && last.LastExit.Code == 1
	}, 30*time.Second, 50*time.Millisecond) {
		t.Fatalf("the exit was never seen: prox ps says %+v (PID %d: state %q)\n%s",
			last, last.PID, processState(last.PID), r.output())
	}
	r.waitOutput(t, `^esc \| escaped \d+$`)
	stillHeld := false
	for _, pid := range escaped() {
		st := processState(pid)
		stillHeld = stillHeld || (st != "" && st != "Z")
	}

	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	code := r.wait(t)
	assert.Equal(t, 0, code, "stderr:\n%s", r.stderrString())
	assert.NotContains(t, r.stderrString(), "did not end after SIGKILL")
	assert.Contains(t, r.stderrString(), "exited: process=esc state=crashed code=1")
	if stillHeld {
		// Nothing ended the escaped sleep: its pipes were abandoned.
		assert.Regexp(t, `output cut off: .*process=esc`, r.stderrString())
	}
	killEscaped()
	requireNoneLeft(t, r.marker)
}
