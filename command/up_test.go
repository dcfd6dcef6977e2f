package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/cli"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUpRunsAndStopsOnInterrupt(t *testing.T) {
	ui := cli.NewMockUi()
	sigs := make(chan os.Signal, 1)
	c := &UpCommand{Meta: newMeta(ui), signals: sigs}
	done := make(chan int, 1)
	go func() { done <- c.Run([]string{"-config", "testdata/valid.hcl"}) }()

	require.Eventually(t, func() bool {
		out := ui.OutputWriter.String()
		return strings.Contains(out, "long  | tick 1") && strings.Contains(out, "hello | hello from echo_hello")
	}, 30*time.Second, 10*time.Millisecond, "stdout: %s\nstderr: %s", ui.OutputWriter.String(), ui.ErrorWriter.String())
	sigs <- os.Interrupt

	select {
	case code := <-done:
		assert.Equal(t, 0, code, "stderr: %s", ui.ErrorWriter.String())
	case <-time.After(30 * time.Second):
		t.Fatal("up did not return after the interrupt")
	}
	out := ui.OutputWriter.String()
	assert.Contains(t, out, "hello | hello on stderr")
	assert.Contains(t, out, "long  | long_running got SIGTERM")
	assert.NotContains(t, out, "\x1b[", "no colour when stdout is not a terminal")
	assert.Contains(t, ui.ErrorWriter.String(), "shutting down: signal=interrupt")
}

func TestUpInvalidConfigAndFlags(t *testing.T) {
	ui := cli.NewMockUi()
	c := &UpCommand{Meta: newMeta(ui), signals: make(chan os.Signal)}
	assert.Equal(t, 1, c.Run([]string{"-config", "testdata/invalid.hcl"}))
	assert.Contains(t, ui.ErrorWriter.String(), "on testdata/invalid.hcl line 3")
	assert.Empty(t, ui.OutputWriter.String())

	ui = cli.NewMockUi()
	c = &UpCommand{Meta: newMeta(ui), signals: make(chan os.Signal)}
	assert.Equal(t, 2, c.Run([]string{"extra"}))
	assert.Contains(t, ui.ErrorWriter.String(), "up takes no arguments")
}

// slowWriter is a terminal that takes d to take each write.
type slowWriter struct {
	d  time.Duration
	to *syncBuffer
}

func (w slowWriter) Write(p []byte) (int, error) {
	time.Sleep(w.d)
	return w.to.Write(p)
}

func TestUpLogsAProcessExitAfterItsLastLines(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(`
process "p" {
  command = ["sh", "-c", "echo one; echo two >&2; exit 3"]
  restart { policy = "never" }
}
`), 0o644))
	// stdout and stderr share one record, as on a terminal; stdout is slow.
	var both syncBuffer
	ui := cli.NewMockUi()
	c := &UpCommand{Meta: Meta{Ui: ui, Stdout: slowWriter{30 * time.Millisecond, &both}, Stderr: &both}, signals: make(chan os.Signal)}
	assert.Equal(t, 1, c.Run([]string{"-config", cfg}), "p failed")
	out := both.String()
	exited := strings.Index(out, "exited: process=p")
	require.Positive(t, exited, out)
	for _, line := range []string{"p | one\n", "p | two\n"} {
		i := strings.Index(out, line)
		require.GreaterOrEqual(t, i, 0, "%q missing:\n%s", line, out)
		assert.Less(t, i, exited, "%q comes after the exit:\n%s", line, out)
	}
}
