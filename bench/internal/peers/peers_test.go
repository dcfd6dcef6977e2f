package peers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoSpec is two processes that print their arguments, one with quotes,
// spaces and shell syntax in them.
func echoSpec() *Spec {
	return &Spec{Processes: []Process{
		{Name: "plain", Argv: []string{"/bin/echo", "hello"}},
		{Name: "odd-1", Argv: []string{"/bin/echo", "it's", "a \"quoted\" $HOME ${x} %{y} 100%", "tab\there"}},
	}}
}

const oddOutput = "it's a \"quoted\" $HOME ${x} %{y} 100% tab\there\n"

func TestShellRunsEveryProcessIntoItsFile(t *testing.T) {
	for _, pipe := range []bool{false, true} {
		p := Shell{Pipe: pipe}
		t.Run(p.Name(), func(t *testing.T) {
			dir := t.TempDir()
			setup, err := p.Prepare(dir, echoSpec())
			require.NoError(t, err)
			out, err := exec.Command(setup.Argv[0], setup.Argv[1:]...).CombinedOutput()
			require.NoError(t, err, string(out))
			assertFile(t, setup.Logs["plain"], "hello\n")
			assertFile(t, setup.Logs["odd-1"], oddOutput)
			assert.Len(t, setup.LogFiles(), 2)
			assert.Contains(t, p.Version(), "dash")
		})
	}
}

func TestShellStopAndRestart(t *testing.T) {
	dir := t.TempDir()
	spec := &Spec{
		Processes:   []Process{{Name: "loop", Argv: []string{"/bin/echo", "again"}}},
		Restart:     true,
		StopTimeout: 1500 * time.Millisecond,
	}
	setup, err := Shell{}.Prepare(dir, spec)
	require.NoError(t, err)
	script, err := os.ReadFile(setup.Config)
	require.NoError(t, err)
	assert.Contains(t, string(script), "while :; do '/bin/echo' 'again'; done")
	assert.Contains(t, string(script), "sleep 1.5; kill -KILL $pids")
}

func assertFile(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, want, string(b))
}

func TestSpecChecked(t *testing.T) {
	for _, p := range []Peer{Shell{}, Supervisord{}, Prox{Bin: "prox"}} {
		_, err := p.Prepare(t.TempDir(), &Spec{})
		require.ErrorContains(t, err, "no processes")
		_, err = p.Prepare(t.TempDir(), &Spec{Processes: []Process{{Name: "a b", Argv: []string{"x"}}}})
		require.ErrorContains(t, err, "invalid process name")
		_, err = p.Prepare(t.TempDir(), &Spec{Processes: []Process{{Name: "a", Argv: []string{"x"}}, {Name: "a", Argv: []string{"x"}}}})
		require.ErrorContains(t, err, "duplicate")
		_, err = p.Prepare(t.TempDir(), &Spec{Processes: []Process{{Name: "a"}}})
		require.ErrorContains(t, err, "no command")
	}
}

func TestSupervisordConfig(t *testing.T) {
	dir := t.TempDir()
	spec := echoSpec()
	spec.Restart = true
	spec.StopTimeout = 2 * time.Second
	setup, err := Supervisord{Tuned: true}.Prepare(dir, spec)
	require.NoError(t, err)
	b, err := os.ReadFile(setup.Config)
	require.NoError(t, err)
	conf := string(b)
	for _, want := range []string{
		"[program:plain]\ncommand=/bin/echo hello\n",
		`command=/bin/echo 'it'\''s' 'a "quoted" $HOME ${x} %%{y} 100%%' 'tab` + "\t" + `here'`,
		"autorestart=true\nstartretries=1000000\n",
		"stopwaitsecs=2\n",
		"stopasgroup=true\nkillasgroup=true\n",
		"[group:all]\nprograms=plain,odd-1\n",
		"stdout_logfile=" + filepath.Join(dir, LogDir, "plain.log") + "\n",
	} {
		assert.Contains(t, conf, want)
	}
	assert.Equal(t, []string{SupervisordBinary, "-n", "-c", setup.Config}, setup.Argv)
	assert.Equal(t, "supervisord-tuned", Supervisord{Tuned: true}.Name())
}

func TestSupervisordRunsTheConfig(t *testing.T) {
	if !SupervisordInstalled() {
		if os.Getenv("CI") == "true" {
			t.Fatal("supervisord (Debian package supervisor) is not installed")
		}
		t.Skip("supervisord (Debian package supervisor) is not installed")
	}
	dir := t.TempDir()
	p := Supervisord{}
	setup, err := p.Prepare(dir, echoSpec())
	require.NoError(t, err)
	cmd := exec.Command(setup.Argv[0], setup.Argv[1:]...)
	outPath := filepath.Join(dir, "supervisord.out")
	out, err := os.Create(outPath)
	require.NoError(t, err)
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	require.Eventually(t, func() bool {
		a, _ := os.ReadFile(setup.Logs["plain"])
		b, _ := os.ReadFile(setup.Logs["odd-1"])
		return string(a) == "hello\n" && string(b) == oddOutput
	}, 20*time.Second, 20*time.Millisecond, "supervisord said: %s", readFile(t, outPath))
	assert.Contains(t, p.Version(), "4.")
}

var (
	proxOnce sync.Once
	proxDir  string
	proxBin  string
	proxErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if proxDir != "" {
		_ = os.RemoveAll(proxDir)
	}
	os.Exit(code)
}

// buildProx builds prox from the repository once.
func buildProx(t *testing.T) string {
	t.Helper()
	proxOnce.Do(func() {
		// go test puts its own GOROOT/bin first on PATH.
		goBin, err := exec.LookPath("go")
		if err != nil {
			proxErr = fmt.Errorf("go command not found on PATH: %w", err)
			return
		}
		proxDir, proxErr = os.MkdirTemp("", "peers-test-prox-")
		if proxErr != nil {
			return
		}
		proxBin = filepath.Join(proxDir, "prox")
		cmd := exec.Command(goBin, "build", "-o", proxBin, ".")
		cmd.Dir = filepath.Join("..", "..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			proxErr = err
			proxBin = string(out)
		}
	})
	require.NoError(t, proxErr, proxBin)
	return proxBin
}

func TestProxConfigIsValid(t *testing.T) {
	bin := buildProx(t)
	cases := map[string]struct {
		p    Prox
		spec *Spec
	}{
		"plain":                {Prox{Bin: bin}, echoSpec()},
		"six runners, restart": {Prox{Bin: bin}, &Spec{Processes: sixEchoes(), Runners: 6, Restart: true, StopTimeout: 1500 * time.Millisecond}},
		"file sink":            {Prox{Bin: bin, Sink: true}, echoSpec()},
		"file sink left out":   {Prox{Bin: bin, Sink: true}, &Spec{Processes: sixEchoes(), NoSink: true}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			setup, err := tc.p.Prepare(dir, tc.spec)
			require.NoError(t, err)
			out, err := exec.Command(bin, "validate", "-config", setup.Config).CombinedOutput()
			require.NoError(t, err, "%s\n%s", out, readFile(t, setup.Config))
		})
	}
}

func TestProxRunsTheConfig(t *testing.T) {
	bin := buildProx(t)
	dir := t.TempDir()
	setup, err := Prox{Bin: bin, Sink: true, Quiet: true}.Prepare(dir, echoSpec())
	require.NoError(t, err)
	out, err := exec.Command(setup.Argv[0], setup.Argv[1:]...).Output()
	require.NoError(t, err, string(out))
	assert.NotContains(t, string(out), "hello", "-quiet: nothing printed")
	// The file sink writes each process's lines among its events.
	assert.Contains(t, strings.Split(readFile(t, setup.Logs["plain"]), "\n"), "hello")
	assert.Contains(t, strings.Split(readFile(t, setup.Logs["odd-1"]), "\n"), strings.TrimSuffix(oddOutput, "\n"))
	assert.Contains(t, Prox{Bin: bin}.Version(), "prox")
}

func TestProxConfigText(t *testing.T) {
	dir := t.TempDir()
	spec := &Spec{Processes: sixEchoes(), Runners: 3, Restart: true}
	setup, err := Prox{Bin: "/x/prox", Sink: true}.Prepare(dir, spec)
	require.NoError(t, err)
	conf := readFile(t, setup.Config)
	for _, want := range []string{
		"sink \"file\" \"bench\" {\n  path = \"" + filepath.Join(dir, LogDir, "{process}.log") + "\"\n}\n",
		"runner \"exec\" \"r1\" {}\nrunner \"exec\" \"r2\" {}\n",
		"process \"e2\" {\n  command = [\"/bin/echo\", \"2\"]\n  runner  = \"exec.r1\"\n  sinks   = [\"file.bench\"]\n  stop { timeout = \"2s\" }\n",
		"    policy       = \"always\"\n    backoff      = \"0s\"\n    max_restarts = 1000000\n",
	} {
		assert.Contains(t, conf, want)
	}
	assert.NotContains(t, conf, "process \"e1\" {\n  command = [\"/bin/echo\", \"1\"]\n  runner")
	assert.Equal(t, []string{"/x/prox", "up", "-config", setup.Config, "-no-color"}, setup.Argv)
	setup, err = Prox{Bin: "/x/prox", Quiet: true}.Prepare(dir, spec)
	require.NoError(t, err)
	assert.Equal(t, []string{"/x/prox", "up", "-config", setup.Config, "-no-color", "-quiet"}, setup.Argv)
	assert.Equal(t, `"a\"b\\c\n$${x}%%{y}$x"`, hclString("a\"b\\c\n${x}%{y}$x"))
	assert.Equal(t, "prox", Prox{}.Name())
}

func TestProxConfigWithASinkPlugin(t *testing.T) {
	dir := t.TempDir()
	spec := &Spec{Processes: sixEchoes()[:1], SinkPlugin: &SinkPlugin{Plugin: "noopsink", Path: "/x/noopsink", Kind: "noop"}}
	setup, err := Prox{Bin: "/x/prox", Sink: true}.Prepare(dir, spec)
	require.NoError(t, err)
	conf := readFile(t, setup.Config)
	assert.Contains(t, conf, "plugin \"noopsink\" {\n  path = \"/x/noopsink\"\n}\nsink \"noop\" \"bench\" {}\n")
	assert.Contains(t, conf, "  sinks   = [\"noop.bench\"]\n")
	assert.NotContains(t, conf, "file", "the plugin's sink replaces the file sink")
	assert.Equal(t, filepath.Join(dir, StdoutFile), setup.Logs["e1"])
}

func sixEchoes() []Process {
	var ps []Process
	for i := 1; i <= 6; i++ {
		ps = append(ps, Process{Name: "e" + string(rune('0'+i)), Argv: []string{"/bin/echo", string(rune('0' + i))}})
	}
	return ps
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
