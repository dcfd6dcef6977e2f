package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testOptions are the options of an agent on the configuration src, in
// a folder of its own, whose output and log lines go to buffers.
func testOptions(t *testing.T, src string) (Options, *syncBuffer, *syncBuffer) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, DefaultConfig)
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	out, logOut := &syncBuffer{}, &syncBuffer{}
	return Options{
		ConfigPath: path,
		Socket:     filepath.Join(dir, "ctl.sock"),
		Logger:     hclog.New(&hclog.LoggerOptions{Output: logOut, Level: hclog.Info}),
		Terminal:   func([]string) Terminal { return newLineTerminal(out) },
	}, out, logOut
}

// run builds the agent of opts and runs it until everything exited
// (nothing interrupts it), and returns the exit code.
func run(t *testing.T, opts Options) int {
	t.Helper()
	a, diags, err := New(context.Background(), opts)
	require.NoError(t, err)
	require.NotNil(t, a)
	defer a.Close()
	require.False(t, diags.HasErrors(), diags.Error())
	return a.Run(make(chan os.Signal))
}

func TestRunReturnsWhenEverythingExited(t *testing.T) {
	opts, out, _ := testOptions(t, `
process "a" { command = ["sh", "-c", "echo a done"] }
process "b" { command = ["sh", "-c", "echo b failed; exit 2"] }
`)
	assert.Equal(t, 1, run(t, opts), "b failed")
	assert.Contains(t, out.String(), "a | a done")
	assert.Contains(t, out.String(), "b | b failed")
}

func TestRunProcessThatCannotStart(t *testing.T) {
	opts, _, logOut := testOptions(t, `process "ghost" { command = ["no-such-program-here"] }`)
	assert.Equal(t, 1, run(t, opts))
	assert.Contains(t, logOut.String(), `no-such-program-here`)
	assert.Contains(t, logOut.String(), "executable file not found")
}

// A .env beside prox.hcl is read as foreman and compose read it: for env()
// in the configuration and into every process's environment; EnvFile
// picks another file.
func TestNewReadsDotenv(t *testing.T) {
	opts, out, logOut := testOptions(t, `
process "a" { command = ["sh", "-c", "echo \"greeting=$${PROX_TEST_GREETING} arg=$1\"", "sh", env("PROX_TEST_GREETING")] }
`)
	dir := filepath.Dir(opts.ConfigPath)
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".env"), []byte("PROX_TEST_GREETING=from-dotenv\n"), 0o644))
	other := filepath.Join(dir, "other.env")
	require.NoError(t, os.WriteFile(other, []byte("PROX_TEST_GREETING=from-other\n"), 0o644))

	assert.Equal(t, 0, run(t, opts), "log: %s", logOut.String())
	assert.Contains(t, out.String(), "a | greeting=from-dotenv arg=from-dotenv")

	opts.EnvFile = other
	assert.Equal(t, 0, run(t, opts), "log: %s", logOut.String())
	assert.Contains(t, out.String(), "a | greeting=from-other arg=from-other")
}

// The control socket is taken before any plugin is launched: a second
// agent on it is refused with an error, and has nothing to close.
func TestNewRefusesATakenSocket(t *testing.T) {
	opts, _, _ := testOptions(t, `process "a" { command = ["sleep", "60"] }`)
	first, diags, err := New(context.Background(), opts)
	require.NoError(t, err)
	require.False(t, diags.HasErrors(), diags.Error())
	defer first.Close()

	second, diags, err := New(context.Background(), opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "another prox is already running on "+opts.Socket)
	assert.Nil(t, second)
	assert.Empty(t, diags)

	// The first one runs, and stops on an interrupt with code 0.
	interrupts := make(chan os.Signal, 1)
	interrupts <- os.Interrupt
	assert.Equal(t, 0, first.Run(interrupts))
}

// With errors in the configuration, New launches nothing and returns the
// diagnostics, rendered against the configuration it read.
func TestNewReportsDiagnostics(t *testing.T) {
	opts, _, _ := testOptions(t, "process \"a\" {\n  command = []\n  bogus = 1\n}\n")
	opts.Terminal = func([]string) Terminal {
		t.Error("no terminal without processes to run")
		return nil
	}
	a, diags, err := New(context.Background(), opts)
	require.NoError(t, err)
	require.NotNil(t, a)
	defer a.Close()
	require.True(t, diags.HasErrors())
	assert.Equal(t, opts.ConfigPath, diags[0].Subject.Filename)
	require.NotNil(t, a.Config())
	assert.Contains(t, a.Config().Files, opts.ConfigPath)
}

// Check launches the plugins a configuration uses and has them check
// their values: a value the plugin refuses is reported at its sink.
func TestCheckReportsAPluginsRefusal(t *testing.T) {
	opts, _, _ := testOptions(t, `
sink "file" "x" { path = "" }
process "a" {
  command = ["true"]
  sinks   = ["file.x"]
}
`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, diags := Check(ctx, opts)
	require.NotNil(t, cfg)
	require.True(t, diags.HasErrors())
	assert.Contains(t, diags.Error(), `2,26-28: Invalid sink attribute "path"; sink "file.x": path: is required.`)
}
