package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/internal/testservers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statsConfig runs a busy process over ssh and one in a container, with
// /metrics on a loopback port. Its verbs: the metrics address, the sshd's
// port, the test user, its identity and known_hosts, the Podman address,
// a label of the run's own and the test image.
const statsConfig = `
metrics {
  address = %q
}

runner "ssh" "box" {
  host          = "127.0.0.1"
  port          = %d
  user          = %q
  identity_file = %q
  known_hosts   = %q
  use_agent     = false
}

runner "container" "podman" {
  host  = %q
  label = %q
}

process "remote" {
  runner  = "ssh.box"
  command = ["sh", "-c", "echo remote up; while :; do :; done"]
}

process "boxed" {
  runner  = "container.podman"
  command = ["sh", "-c", "echo boxed up; while :; do :; done"]
  container {
    image   = %q
    pull    = "never"
    network = "none"
    init    = true
  }
}
`

// TestUpMetricsOfRemoteProcesses: /metrics carries the CPU time and
// memory of an ssh process (from the remote /proc) and of a container
// (from the engine's stats API), through the runners' Stats: prox cannot
// read either itself; and prox top shows them.
func TestUpMetricsOfRemoteProcesses(t *testing.T) {
	srv := testservers.StartSSHD(t)
	podman := testservers.Podman(t)
	addr := "127.0.0.1:" + strconv.Itoa(testservers.FreePort(t))
	cfg := filepath.Join(t.TempDir(), "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(statsConfig, addr,
		srv.Port, testservers.TestUser, srv.Identity, srv.KnownHosts,
		podman.Addr, "e2e-stats-"+randomHex(t), testservers.TestImage)), 0o644))
	r := startUp(t, cfg)
	r.waitOutput(t, "remote up", "boxed up")

	series := func(text, name, process string) (float64, bool) {
		m := regexp.MustCompile(`(?m)^` + name + `\{process="` + process + `",replica=""\} (\S+)$`).FindStringSubmatch(text)
		if m == nil {
			return 0, false
		}
		v, err := strconv.ParseFloat(m[1], 64)
		require.NoError(t, err)
		return v, true
	}
	var text string
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.NoError(t, err)
		text = string(b)
		ready := true
		for _, p := range []string{"remote", "boxed"} {
			cpu, ok := series(text, "prox_process_cpu_seconds_total", p)
			ready = ready && ok && cpu > 0.2
		}
		if ready {
			break
		}
		require.False(t, time.Now().After(deadline), "no CPU time of the busy remote and boxed processes in /metrics:\n%s\nprox stderr:\n%s", text, r.stderrString())
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range []string{"remote", "boxed"} {
		mem, ok := series(text, "prox_process_memory_bytes", p)
		assert.True(t, ok, "prox_process_memory_bytes of %s", p)
		assert.Positive(t, mem, "memory of %s", p)
	}

	// prox top shows them as figures, not –.
	t.Run("top", func(t *testing.T) {
		requireTmux(t)
		top := fmt.Sprintf("'%s' top -config '%s'; echo EXIT=$?; sleep 600", buildProx(t), cfg)
		s := newTmux(t, 100, 30, []string{"NO_COLOR=1"}, top)
		figures := regexp.MustCompile(`^\d+(\.\d)?$`)
		mem := regexp.MustCompile(`^\d+(\.\d)?[BKMG]$`)
		shown := s.waitScreen("the CPU% and memory of remote and boxed", func(sc string) bool {
			for _, p := range []string{"remote", "boxed"} {
				m := topRow(p).FindStringSubmatch(sc)
				if m == nil || !figures.MatchString(m[5]) || !mem.MatchString(m[6]) {
					return false
				}
			}
			return true
		})
		t.Logf("prox top shows:\n%s", shown)
		s.keys("q")
		s.waitScreen("prox top exit 0", func(sc string) bool { return strings.Contains(sc, "EXIT=0") })
	})

	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, r.wait(t), "stderr:\n%s", r.stderrString())
	requireNoneLeft(t, r.marker)
}
