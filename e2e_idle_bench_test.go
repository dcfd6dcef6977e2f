package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/internal/memtrim"
	"github.com/prox-dev/prox/internal/testservers"
	"github.com/stretchr/testify/require"
)

// BenchmarkIdleWithEveryBuiltin measures what a user with a full prox.hcl
// pays in memory while nothing happens: prox with every built-in plugin
// in use, the exec, ssh (to a private sshd, as the test user) and
// container (the Podman service, the busybox test image) runners each
// running one idle process, and the file, syslog (to a private rsyslogd)
// and webhook (an HTTP server on loopback) sinks, named by every process.
// Once every process runs and the plugins have given their start's memory
// back (memtrim.SettleDelay after their start), it reads the RSS and PSS
// of prox and of each plugin process (prox re-executed as `prox
// plugin-serve KIND NAME`; not the managed processes, sshd or Podman) from
// /proc/PID/smaps_rollup. prox is built without the race detector, as a
// user runs it, also when the benchmark itself runs under -race.
//
//	go test -run '^$' -bench IdleWithEveryBuiltin -benchtime 1x -count 3 .
func BenchmarkIdleWithEveryBuiltin(b *testing.B) {
	srv := testservers.StartSSHD(b)
	syslogd := testservers.StartRsyslogd(b, nil)
	podman := testservers.Podman(b)
	webhook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(webhook.Close)
	bin := plainProx.path(b)

	dir := b.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	label := "bench-idle-" + randomHex(b)
	require.NoError(b, os.WriteFile(cfg, []byte(fmt.Sprintf(everyBuiltinConfig,
		srv.Port, testservers.TestUser, srv.Identity, srv.KnownHosts,
		podman.Addr, label,
		syslogd.Address("tcp"),
		webhook.URL,
		testservers.TestImage,
	)), 0o644))

	var total memSample
	b.ResetTimer()
	for range b.N {
		total = total.add(idleRun(b, bin, cfg, label, srv, podman))
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(total.pss)/n/1e6, "pss-MB")
	b.ReportMetric(float64(total.rss)/n/1e6, "rss-MB")
	b.ReportMetric(float64(total.procs)/n, "procs")
	// Benchmark logs are cut after 10 lines: the total first, then a line
	// per process.
	table := []string{fmt.Sprintf("idle, every built-in in use (mean of %d run(s)): %d processes, RSS %.1f MB, PSS %.1f MB",
		b.N, total.procs/b.N, float64(total.rss)/n/1e6, float64(total.pss)/n/1e6), "process: RSS MB, PSS MB"}
	for _, name := range total.names() {
		m := total.byName[name]
		b.ReportMetric(float64(m.pss)/n/1e6, name+"-pss-MB")
		table = append(table, fmt.Sprintf("%s: %.1f, %.1f", name, float64(m.rss)/n/1e6, float64(m.pss)/n/1e6))
	}
	b.Log(strings.Join(table, "\n"))
}

// everyBuiltinConfig is the benchmark's prox.hcl: every built-in runner
// and sink, one idle process per runner. Its verbs are the sshd's port,
// the test user, its identity and known_hosts, the Podman address and a
// label of the run's own, the rsyslogd address, the webhook URL and the
// test image.
const everyBuiltinConfig = `
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

sink "file" "logs" {
  path = "logs/{process}.log"
}

sink "syslog" "central" {
  address = %q
}

sink "webhook" "alerts" {
  url = %q
}

process "local" {
  command = ["sleep", "3600"]
  sinks   = ["file.logs", "syslog.central", "webhook.alerts"]
}

process "remote" {
  runner  = "ssh.box"
  command = ["sleep", "3600"]
  sinks   = ["file.logs", "syslog.central", "webhook.alerts"]
}

process "boxed" {
  runner  = "container.podman"
  command = ["sleep", "3600"]
  sinks   = ["file.logs", "syslog.central", "webhook.alerts"]
  container {
    image   = %q
    pull    = "never"
    network = "none"
    init    = true
  }
}
`

// idleProcesses are the processes of everyBuiltinConfig.
var idleProcesses = []string{"local", "remote", "boxed"}

// idleRun runs `prox up` on cfg until every process runs and the plugins
// have settled idle, samples the memory of prox and its plugins, stops
// prox with SIGTERM and checks that nothing it started is left.
func idleRun(b *testing.B, bin, cfg, label string, srv *testservers.SSHD, podman *testservers.PodmanService) memSample {
	b.Helper()
	marker := "PROX_E2E_MARKER=" + randomHex(b)
	cmd := exec.Command(bin, "up", "-config", cfg)
	cmd.Env = append(os.Environ(), marker, "NO_COLOR=1")
	var out bytes.Buffer
	var mu sync.Mutex
	cmd.Stdout = &lockedWriter{mu: &mu, w: &out}
	cmd.Stderr = cmd.Stdout
	require.NoError(b, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	output := func() string {
		mu.Lock()
		defer mu.Unlock()
		return out.String()
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
			killMarked(marker)
		}
	}()

	waitAllRunning(b, bin, cfg, exited, output)
	// Every process runs: prox's start is over (it released once already)
	// and so are the plugins' launches. Both give memory back again
	// SettleDelay later; then the figures only fall while a release is
	// still at work.
	time.Sleep(memtrim.SettleDelay)
	smp := settledSample(b, cmd.Process.Pid)
	require.Equal(b, 7, smp.procs, "prox and six plugin processes: %v\n%s", smp.names(), output())

	require.NoError(b, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		stopped = true
		require.NoError(b, err, "prox up exits cleanly on SIGTERM:\n%s", output())
	case <-time.After(60 * time.Second):
		b.Fatalf("prox did not stop within 60 s of SIGTERM:\n%s", output())
	}
	requireNothingLeft(b, marker, label, srv, podman)
	return smp
}

// waitAllRunning polls `prox ps -json` until every process of the
// configuration runs.
func waitAllRunning(b *testing.B, bin, cfg string, exited chan error, output func() string) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for {
		ps := exec.Command(bin, "ps", "-json", "-config", cfg)
		ps.Env = append(os.Environ(), "PROX_SOCKET=") // the socket beside cfg
		if raw, err := ps.Output(); err == nil {
			last = string(raw)
			var procs []psProcess
			require.NoError(b, json.Unmarshal(raw, &procs), last)
			running := 0
			for _, p := range procs {
				if p.State == "running" {
					running++
				}
			}
			if running == len(idleProcesses) && len(procs) == len(idleProcesses) {
				return
			}
		}
		select {
		case err := <-exited:
			exited <- err
			b.Fatalf("prox up exited (%v) before every process ran:\n%s", err, output())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("not every process ran within 60 s: %s\n%s", last, output())
		}
	}
}

// settledSample samples prox's memory until it stops falling (two samples
// in a row within 1 % of each other in total RSS) and returns the last.
func settledSample(b *testing.B, prox int) memSample {
	b.Helper()
	deadline := time.Now().Add(20 * time.Second)
	prev := sampleProx(b, prox)
	for {
		time.Sleep(250 * time.Millisecond)
		cur := sampleProx(b, prox)
		if cur.procs == prev.procs && cur.rss >= prev.rss*99/100 {
			return cur
		}
		if time.Now().After(deadline) {
			b.Fatalf("prox's memory never settled: %d then %d bytes RSS", prev.rss, cur.rss)
		}
		prev = cur
	}
}

// procMem is one process's (or kind's) resident and proportional set
// sizes in bytes.
type procMem struct {
	rss, pss int64
}

// memSample is the memory of prox and its plugin processes.
type memSample struct {
	procMem
	procs int
	// byName holds each process's figures: "prox", or the plugin's name
	// (e.g. "runner-exec", "sink-file").
	byName map[string]procMem
}

// names returns the processes of s, sorted, prox first.
func (s memSample) names() []string {
	var out []string
	for name := range s.byName {
		if name != "prox" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return append([]string{"prox"}, out...)
}

// add returns the sum of s and o, process by process.
func (s memSample) add(o memSample) memSample {
	sum := memSample{procMem: procMem{rss: s.rss + o.rss, pss: s.pss + o.pss}, procs: s.procs + o.procs, byName: map[string]procMem{}}
	for _, m := range []map[string]procMem{s.byName, o.byName} {
		for name, v := range m {
			t := sum.byName[name]
			sum.byName[name] = procMem{rss: t.rss + v.rss, pss: t.pss + v.pss}
		}
	}
	return sum
}

// sampleProx reads the memory of prox and of its descendants that are
// prox's plugins (`plugin-serve KIND NAME`).
func sampleProx(b *testing.B, prox int) memSample {
	b.Helper()
	smp := memSample{byName: map[string]procMem{}}
	record := func(pid int, name string) {
		m, err := readMem(pid)
		require.NoError(b, err, "memory of %s (pid %d)", name, pid)
		t := smp.byName[name] // two blocks of one plugin: their sum
		smp.byName[name] = procMem{rss: t.rss + m.rss, pss: t.pss + m.pss}
		smp.rss += m.rss
		smp.pss += m.pss
		smp.procs++
	}
	record(prox, "prox")
	for _, pid := range testservers.Descendants(prox) {
		f := strings.Fields(testservers.Cmdline(pid))
		if len(f) == 4 && f[1] == "plugin-serve" {
			record(pid, f[2]+"-"+f[3])
		}
	}
	return smp
}

// readMem reads the Rss and Pss lines of /proc/PID/smaps_rollup.
func readMem(pid int) (procMem, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return procMem{}, err
	}
	var m procMem
	found := 0
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return procMem{}, fmt.Errorf("smaps_rollup of %d: %q: %w", pid, line, err)
		}
		switch f[0] {
		case "Rss:":
			m.rss, found = kb<<10, found+1
		case "Pss:":
			m.pss, found = kb<<10, found+1
		}
	}
	if found != 2 {
		return procMem{}, fmt.Errorf("smaps_rollup of %d has no Rss and Pss lines", pid)
	}
	return m, nil
}

// requireNothingLeft checks that prox left nothing running: no process
// with the run's marker, no remote process (a process under the private
// sshd but its own), no container with the run's label.
func requireNothingLeft(b *testing.B, marker, label string, srv *testservers.SSHD, podman *testservers.PodmanService) {
	b.Helper()
	remote := func() []string {
		var out []string
		for _, pid := range testservers.Descendants(srv.PID) {
			if testservers.Comm(pid) != "sshd" {
				out = append(out, testservers.Cmdline(pid))
			}
		}
		return out
	}
	containers := func() string {
		out, err := podman.Command("ps", "-a", "-q", "--filter", "label=prox.config="+label).Output()
		require.NoError(b, err)
		return strings.TrimSpace(string(out))
	}
	require.Eventually(b, func() bool {
		return len(markedProcesses(marker)) == 0 && len(remote()) == 0 && containers() == ""
	}, 30*time.Second, 50*time.Millisecond,
		"left behind: local %v, remote %v, containers %q", describePIDs(markedProcesses(marker)), remote(), containers())
}

// randomHex returns 16 random hex digits.
func randomHex(tb testing.TB) string {
	var b [8]byte
	_, err := rand.Read(b[:])
	require.NoError(tb, err)
	return hex.EncodeToString(b[:])
}
