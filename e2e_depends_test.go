package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// logIndex returns the position in s of the first line containing all
// parts, -1 if none.
func logIndex(s string, parts ...string) int {
	for i, line := range strings.Split(s, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return i
		}
	}
	return -1
}

func TestUpDependenciesAndHealth(t *testing.T) {
	dir := t.TempDir()
	server := filepath.Join(dir, "httpready")
	out, err := exec.Command("go", "build", "-o", server, "./testdata/httpready").CombinedOutput()
	require.NoError(t, err, string(out))
	port := freePort(t)
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
process "web" {
  command = [%q, "-addr", "127.0.0.1:%d", "-delay", "300ms"]
  health {
    interval = "50ms"
    http {
      url = "http://127.0.0.1:%d/health"
    }
  }
}

process "api" {
  command = ["sh", "-c", "echo api started; exec sleep 300"]
  depends_on "web" {
    condition = "healthy"
  }
}

process "announcer" {
  command = ["sh", "-c", "sleep 0.2; echo READY now; exec sleep 300"]
  health {
    interval = "20ms"
    log {
      match = "^READY"
    }
  }
}

process "after_log" {
  command    = ["sh", "-c", "echo after log; exec sleep 300"]
  depends_on = ["api"]
  depends_on "announcer" {
    condition = "healthy"
  }
}
`, server, port, port)), 0o644))

	r := startUp(t, cfg)
	r.waitOutput(t, `^api +\| api started$`, `^after_log +\| after log$`, `^web +\| httpready: ready$`)
	// The output can reach stdout before the log line about it reaches stderr.
	require.Eventually(t, func() bool {
		logs := r.stderrString()
		return logIndex(logs, "started:", "process=after_log") >= 0 && logIndex(logs, "started:", "process=api ") >= 0
	}, 30*time.Second, 10*time.Millisecond)
	logs := r.stderrString()
	webHealthy := logIndex(logs, "health:", "process=web", "status=healthy")
	apiStarted := logIndex(logs, "started:", "process=api ")
	announcerHealthy := logIndex(logs, "health:", "process=announcer", "status=healthy")
	afterStarted := logIndex(logs, "started:", "process=after_log")
	require.GreaterOrEqual(t, webHealthy, 0, logs)
	require.GreaterOrEqual(t, announcerHealthy, 0, logs)
	assert.Greater(t, apiStarted, webHealthy, "api started only once web was healthy:\n%s", logs)
	assert.Greater(t, afterStarted, announcerHealthy, "after_log waited for the log check:\n%s", logs)
	assert.Greater(t, afterStarted, apiStarted, "after_log waited for api:\n%s", logs)

	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, r.wait(t))
	logs = r.stderrString()
	// Reverse order: dependents stop first.
	assert.Less(t, logIndex(logs, "exited:", "process=after_log"), logIndex(logs, "exited:", "process=api "), logs)
	assert.Less(t, logIndex(logs, "exited:", "process=api "), logIndex(logs, "exited:", "process=web"), logs)
	requireNoneLeft(t, r.marker)
}

func TestUpFailedDependency(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(`
process "migrate" {
  command = ["sh", "-c", "echo migration failed; exit 3"]
}

process "app" {
  command = ["sh", "-c", "echo app must not run"]
  depends_on "migrate" {
    condition = "completed_successfully"
  }
}
`), 0o644))
	r := startUp(t, cfg)
	assert.Equal(t, 1, r.wait(t))
	logs := r.stderrString()
	assert.Contains(t, logs, `not started: process=app reason="dependency \"migrate\" did not complete successfully (exit code 3)"`)
	r.mu.Lock()
	assert.NotContains(t, strings.Join(r.stdout, "\n"), "app must not run")
	r.mu.Unlock()
	requireNoneLeft(t, r.marker)
}
