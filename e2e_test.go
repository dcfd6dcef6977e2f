package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/internal/testservers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The end-to-end tests build the prox binary, run `prox up` on a testdata
// configuration as a user would, and check from the outside that nothing
// it started outlives it.

// proxBuild is a build of the prox binary, made once per test binary and
// removed by TestMain.
type proxBuild struct {
	flags []string
	once  sync.Once
	bin   string
	err   error
}

var (
	// raceProx is what the end-to-end tests run: built with the race
	// detector, so that they also find prox's races.
	raceProx = &proxBuild{flags: []string{"-race"}}
	// plainProx is built as users run it, for the benchmarks that measure
	// it.
	plainProx = &proxBuild{}
)

// buildProx builds the binary once per test run.
func buildProx(t *testing.T) string {
	t.Helper()
	return raceProx.path(t)
}

// path builds the binary on first use and returns its path.
func (p *proxBuild) path(tb testing.TB) string {
	tb.Helper()
	p.once.Do(func() {
		dir, err := os.MkdirTemp("", "prox-e2e-")
		if err != nil {
			p.err = err
			return
		}
		p.bin = filepath.Join(dir, "prox")
		args := append(append([]string{"build"}, p.flags...), "-o", p.bin, ".")
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			p.err = &buildError{err: err, out: string(out)}
		}
	})
	require.NoError(tb, p.err)
	return p.bin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range []*proxBuild{raceProx, plainProx} {
		if p.bin != "" {
			_ = os.RemoveAll(filepath.Dir(p.bin))
		}
	}
	if leftovers := testservers.StopPodman(); leftovers != "" {
		fmt.Fprintf(os.Stderr, "containers left behind:\n%s\n", leftovers)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// run is one `prox up` under test; every process it starts inherits the
// marker in its environment, which is how the test finds them in /proc.
type run struct {
	cmd    *exec.Cmd
	marker string
	mu     sync.Mutex
	stdout []string
	stderr bytes.Buffer
	lines  chan string
	done   chan struct{}
}

func startUp(t *testing.T, config string) *run {
	t.Helper()
	return startUpEnv(t, config)
}

// startUpEnv is startUp with more environment for prox.
func startUpEnv(t *testing.T, config string, env ...string) *run {
	t.Helper()
	return startUpVia(t, nil, config, env...)
}

// startUpVia is startUpEnv with prox run through a command, e.g. nohup.
func startUpVia(t *testing.T, via []string, config string, env ...string) *run {
	t.Helper()
	return startUpWith(t, nil, via, config, env...)
}

// startUpWith is startUpVia with files prox (or via) inherits as
// descriptors 3, 4 and on.
func startUpWith(t *testing.T, extra []*os.File, via []string, config string, env ...string) *run {
	t.Helper()
	argv := append(append(via[:len(via):len(via)], buildProx(t)), "up", "-config", config)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.ExtraFiles = extra
	return startRun(t, cmd, env...)
}

// startRun starts cmd (prox, or a command that runs it) with a marker in
// its environment, NO_COLOR=1 and env, collects its stdout lines and
// stderr, and kills it and every marked process when the test ends.
func startRun(t *testing.T, cmd *exec.Cmd, env ...string) *run {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	r := &run{marker: "PROX_E2E_MARKER=" + hex.EncodeToString(b), lines: make(chan string, 1000), done: make(chan struct{}), cmd: cmd}
	r.cmd.Env = append(append(os.Environ(), r.marker, "NO_COLOR=1"), env...)
	r.cmd.Stderr = &lockedWriter{mu: &r.mu, w: &r.stderr}
	out, err := r.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, r.cmd.Start())
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			r.mu.Lock()
			r.stdout = append(r.stdout, sc.Text())
			r.mu.Unlock()
			select {
			case r.lines <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		killMarked(r.marker)
	})
	return r
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// waitOutput waits until every pattern has matched some stdout line.
func (r *run) waitOutput(t *testing.T, patterns ...string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	pending := map[string]*regexp.Regexp{}
	for _, p := range patterns {
		pending[p] = regexp.MustCompile(p)
	}
	check := func(line string) {
		for p, re := range pending {
			if re.MatchString(line) {
				delete(pending, p)
			}
		}
	}
	r.mu.Lock()
	for _, l := range r.stdout {
		check(l)
	}
	r.mu.Unlock()
	for len(pending) > 0 {
		select {
		case l := <-r.lines:
			check(l)
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("output never matched %v\nstdout:\n%s\nstderr:\n%s", pending, strings.Join(r.stdout, "\n"), r.stderr.String())
		}
	}
}

// wait waits for prox to exit and returns its exit code.
func (r *run) wait(t *testing.T) int {
	t.Helper()
	return r.waitWithin(t, 60*time.Second)
}

// waitWithin waits up to within for prox to exit, and returns its exit
// code; past it, the test fails (prox hangs).
func (r *run) waitWithin(t *testing.T, within time.Duration) int {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- r.cmd.Wait() }()
	select {
	case err := <-exited:
		<-r.done
		if err == nil {
			return 0
		}
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee)
		return ee.ExitCode()
	case <-time.After(within):
		t.Fatalf("prox did not exit within %s\nstderr:\n%s", within, r.stderrString())
		return -1
	}
}

// count returns how many stdout lines equal line.
func (r *run) count(line string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.stdout {
		if l == line {
			n++
		}
	}
	return n
}

// output returns stdout and stderr, for failure messages.
func (r *run) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.stdout, "\n") + "\nstderr:\n" + r.stderr.String()
}

func (r *run) stderrString() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stderr.String()
}

// markedProcesses lists the live processes (zombies excluded) whose
// environment holds the marker.
func markedProcesses(marker string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, []byte(marker+"\x00")) {
			continue
		}
		if processState(pid) == "Z" {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// processState returns the state letter of /proc/PID/stat, "" if gone.
func processState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// parentPID returns the parent PID from /proc/PID/stat.
func parentPID(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

func killMarked(marker string) {
	for _, pid := range markedProcesses(marker) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// requireNoneLeft polls until no marked process is alive.
func requireNoneLeft(t *testing.T, marker string) {
	t.Helper()
	requireNoneLeftWithin(t, marker, 10*time.Second)
}

// requireNoneLeftWithin polls, up to within, until no marked process is
// alive.
func requireNoneLeftWithin(t *testing.T, marker string, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return len(markedProcesses(marker)) == 0 }, within, 20*time.Millisecond,
		"processes started by prox are still alive: %v", describePIDs(markedProcesses(marker)))
}

func describePIDs(pids []int) []string {
	var out []string
	for _, pid := range pids {
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		out = append(out, strconv.Itoa(pid)+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}

func TestUpInterruptStopsEverything(t *testing.T) {
	r := startUp(t, "testdata/e2e/basic.hcl")
	r.waitOutput(t,
		`^echo     \| hello from echo_hello$`,
		`^echo     \| hello on stderr$`,
		`^long     \| long_running started$`,
		`^long     \| tick 2$`,
		`^stubborn \| ignore_sigterm started$`,
		`^family   \| family ready$`,
	)
	// prox, its exec plugin, four processes and the family's grandchildren.
	require.GreaterOrEqual(t, len(markedProcesses(r.marker)), 7)

	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	code := r.wait(t)
	assert.Equal(t, 0, code, "stderr:\n%s", r.stderrString())
	r.mu.Lock()
	out := strings.Join(r.stdout, "\n")
	r.mu.Unlock()
	assert.Contains(t, out, "long     | long_running got SIGTERM")
	assert.Contains(t, out, "stubborn | ignoring SIGTERM")
	assert.Contains(t, r.stderrString(), "stop timeout expired, sending SIGKILL: process=stubborn")
	requireNoneLeft(t, r.marker)
}

func TestUpRunsProcessesThroughThePluginProcess(t *testing.T) {
	r := startUp(t, "testdata/e2e/basic.hcl")
	r.waitOutput(t, `^long     \| tick 1$`)
	// The chain is prox -> plugin (prox plugin-serve runner exec) -> child.
	var child int
	for _, pid := range markedProcesses(r.marker) {
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if strings.Contains(string(cmdline), "long_running.sh") {
			child = pid
		}
	}
	require.NotZero(t, child, "long_running.sh not found")
	plugin := parentPID(child)
	require.NotEqual(t, r.cmd.Process.Pid, plugin, "the child must not be prox's own child")
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(plugin) + "/cmdline")
	require.NoError(t, err)
	assert.Equal(t, "plugin-serve runner exec", strings.Join(strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")[1:], " "))
	assert.Equal(t, r.cmd.Process.Pid, parentPID(plugin), "the plugin is prox's child")

	require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, r.wait(t))
	requireNoneLeft(t, r.marker)
}

func TestUpKilledLeavesNothingBehind(t *testing.T) {
	tmp := t.TempDir() // where go-plugin makes each plugin's socket folder
	r := startUpEnv(t, "testdata/e2e/basic.hcl", "TMPDIR="+tmp)
	r.waitOutput(t, `^family   \| family ready$`, `^stubborn \| ignore_sigterm started$`, `^long     \| tick 1$`)
	folders, err := filepath.Glob(filepath.Join(tmp, "plugin-dir*"))
	require.NoError(t, err)
	require.NotEmpty(t, folders, "the plugins' socket folders are in TMPDIR")
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGKILL))
	assert.Equal(t, -1, r.wait(t))
	// The lifecycle issue's bound: nothing alive 2 s after prox's death.
	requireNoneLeftWithin(t, r.marker, 2*time.Second)
	// Nor on disk: the plugins removed their sockets as they went.
	for _, dir := range folders {
		assert.NoDirExists(t, dir)
	}
}

func TestUpInvalidConfig(t *testing.T) {
	r := startUp(t, "command/testdata/invalid.hcl")
	assert.Equal(t, 1, r.wait(t))
	assert.Contains(t, r.stderrString(), "on command/testdata/invalid.hcl line 3")
	assert.Contains(t, r.stderrString(), "Duplicate process")
	requireNoneLeft(t, r.marker)
}

func TestUpAllExited(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(`
process "ok"   { command = ["sh", "-c", "echo done"] }
process "fail" { command = ["sh", "-c", "echo failing; exit 4"] }
`), 0o644))
	r := startUp(t, cfg)
	assert.Equal(t, 1, r.wait(t), "a process failed")
	assert.Contains(t, r.stderrString(), "every process has exited")
	assert.Contains(t, r.stderrString(), "process=fail state=crashed code=4")
	requireNoneLeft(t, r.marker)
}

// pidsOf returns the marked processes whose command line ends with s.
func pidsOf(marker, s string) []int {
	var out []int
	for _, pid := range markedProcesses(marker) {
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if strings.HasSuffix(strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")), s) {
			out = append(out, pid)
		}
	}
	return out
}

func TestUpRunnerPluginDeath(t *testing.T) {
	r := startUp(t, "testdata/e2e/plugin_death.hcl")
	r.waitOutput(t, `^family \| family ready$`)
	plugins := pidsOf(r.marker, "plugin-serve runner exec")
	require.Len(t, plugins, 1)
	oldSleeps := append(pidsOf(r.marker, "sleep 300"), pidsOf(r.marker, "sleep 301")...)
	require.Len(t, oldSleeps, 2)

	require.NoError(t, syscall.Kill(plugins[0], syscall.SIGKILL))

	// The old run's whole group is gone, grandchildren included.
	require.Eventually(t, func() bool {
		for _, pid := range oldSleeps {
			if st := processState(pid); st != "" && st != "Z" {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond, "a grandchild of the crashed plugin survived")
	// The process is reported crashed, naming the runner; the plugin is
	// relaunched and the process restarted by its policy.
	require.Eventually(t, func() bool {
		return strings.Contains(r.stderrString(), "runner plugin exited, relaunching") &&
			len(pidsOf(r.marker, "plugin-serve runner exec")) == 1 &&
			pidsOf(r.marker, "plugin-serve runner exec")[0] != plugins[0] &&
			len(pidsOf(r.marker, "sleep 300")) == 1
	}, 10*time.Second, 20*time.Millisecond, "stderr:\n%s", r.stderrString())
	assert.Regexp(t, `exited: process=family state=crashed .*runner exec|state=crashed`, r.stderrString())
	// The new run's sleep can be seen before its first line has travelled
	// through prox to the terminal: wait for the line too.
	readyLines := func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		ready := 0
		for _, l := range r.stdout {
			if l == "family | family ready" {
				ready++
			}
		}
		return ready
	}
	require.Eventually(t, func() bool { return readyLines() >= 2 }, 10*time.Second, 20*time.Millisecond, "the process ran again")
	assert.Equal(t, 2, readyLines(), "and only once more")
	// prox ps says how the last run ended: its runner plugin died.
	out, err := exec.Command(buildProx(t), "ps", "-config", "testdata/e2e/plugin_death.hcl", "family").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Regexp(t, `(?m)^family\s+running\s+.*\s+1\s+plugin died\s+-$`, string(out))

	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, r.wait(t))
	requireNoneLeft(t, r.marker)
}

// TestUpHangupStopsGracefully: closing the terminal (SIGHUP) stops every
// process as Ctrl-C does, with the stop signal and the stop timeout.
func TestUpHangupStopsGracefully(t *testing.T) {
	r := startUp(t, "testdata/e2e/basic.hcl")
	r.waitOutput(t, `^long     \| tick 1$`, `^stubborn \| ignore_sigterm started$`, `^family   \| family ready$`)

	require.NoError(t, r.cmd.Process.Signal(syscall.SIGHUP))
	code := r.wait(t)
	assert.Equal(t, 0, code, "stderr:\n%s", r.stderrString())
	assert.Equal(t, 1, r.count("long     | long_running got SIGTERM"), r.output())
	assert.Contains(t, r.stderrString(), "shutting down: signal=hangup")
	assert.Contains(t, r.stderrString(), "stop timeout expired, sending SIGKILL: process=stubborn")
	requireNoneLeft(t, r.marker)
}

// TestUpOutlivesItsStdoutReader: `prox up | head` — once the reader of its
// stdout is gone, prox goes on supervising (it says so once) instead of
// dying of SIGPIPE, and a later SIGTERM still stops everything gracefully.
func TestUpOutlivesItsStdoutReader(t *testing.T) {
	bin := buildProx(t)
	marker := "PROX_E2E_MARKER=" + hex.EncodeToString([]byte(t.Name()))
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	var mu sync.Mutex
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "up", "-config", "testdata/e2e/basic.hcl")
	cmd.Env = append(os.Environ(), marker, "NO_COLOR=1")
	cmd.Stdout = pw
	cmd.Stderr = &lockedWriter{mu: &mu, w: &stderr}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		killMarked(marker)
	})
	require.NoError(t, pw.Close())
	stderrText := func() string {
		mu.Lock()
		defer mu.Unlock()
		return stderr.String()
	}

	// Read until the first tick, then go away like head does.
	sc := bufio.NewScanner(pr)
	for sc.Scan() && sc.Text() != "long     | tick 1" {
	}
	require.NoError(t, pr.Close())

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	require.Eventually(t, func() bool { return strings.Contains(stderrText(), "stdout is closed") }, 30*time.Second, 20*time.Millisecond,
		"prox never noticed; stderr:\n%s", stderrText())
	select {
	case err := <-exited:
		t.Fatalf("prox exited when its stdout closed: %v\nstderr:\n%s", err, stderrText())
	default:
	}
	require.Eventually(t, func() bool {
		return strings.Count(stderrText(), "stdout is closed") == 1 && len(markedProcesses(marker)) >= 6
	}, 10*time.Second, 20*time.Millisecond,
		"prox and its processes run on; stderr:\n%s", stderrText())

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "stderr:\n%s", stderrText())
	case <-time.After(60 * time.Second):
		t.Fatalf("prox did not exit\nstderr:\n%s", stderrText())
	}
	assert.Contains(t, stderrText(), "exited: process=long state=stopped")
	assert.Contains(t, stderrText(), "stop timeout expired, sending SIGKILL: process=stubborn")
	assert.Equal(t, 1, strings.Count(stderrText(), "stdout is closed"), "said once")
	requireNoneLeft(t, marker)
}

// TestUpUnderNohupIgnoresHangup: `nohup prox up` keeps running when the
// terminal goes away; only a stop request ends it.
func TestUpUnderNohupIgnoresHangup(t *testing.T) {
	nohup, err := exec.LookPath("nohup")
	if err != nil {
		t.Skip("nohup (coreutils) is not installed")
	}
	r := startUpVia(t, []string{nohup}, "testdata/e2e/basic.hcl")
	r.waitOutput(t, `^long     \| tick 1$`)

	require.NoError(t, r.cmd.Process.Signal(syscall.SIGHUP))
	// Still supervising: the ticks go on after the hangup.
	r.waitOutput(t, fmt.Sprintf(`^long     \| tick %d$`, r.lastTick()+2))
	assert.NotContains(t, r.stderrString(), "shutting down")

	require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, r.wait(t), "stderr:\n%s", r.stderrString())
	assert.Contains(t, r.stderrString(), "shutting down: signal=terminated")
	requireNoneLeft(t, r.marker)
}

// lastTick returns the highest "long | tick N" printed so far.
func (r *run) lastTick() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	last := 0
	for _, l := range r.stdout {
		if n, ok := strings.CutPrefix(l, "long     | tick "); ok {
			if v, err := strconv.Atoi(n); err == nil && v > last {
				last = v
			}
		}
	}
	return last
}
