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

func validateHere(t *testing.T) (int, string) {
	t.Helper()
	ui := cli.NewMockUi()
	code := (&ValidateCommand{Meta: newMeta(ui)}).Run([]string{"-log-level", "warn"})
	return code, ui.ErrorWriter.String()
}

func TestInitFromProcfileIsValid(t *testing.T) {
	t.Chdir(t.TempDir())
	require.NoError(t, os.WriteFile("Procfile", []byte("web: echo \"web on $PORT\"\nworker: echo worker ${GREETING}\n"), 0o644))
	require.NoError(t, os.WriteFile(".env", []byte("GREETING=hello\n"), 0o644))
	ui := cli.NewMockUi()
	assert.Equal(t, 0, (&InitCommand{Meta: newMeta(ui)}).Run(nil), ui.ErrorWriter.String())
	assert.Contains(t, ui.OutputWriter.String(), "Wrote prox.hcl from the Procfile")
	b, err := os.ReadFile("prox.hcl")
	require.NoError(t, err)
	assert.Contains(t, string(b), `PORT = "5100"`)
	assert.NotContains(t, string(b), `env_file`, ".env is read by itself: an env_file would put it above -env-file")
	assert.Contains(t, string(b), "# The .env beside this file is read into every process's environment")
	code, stderr := validateHere(t)
	assert.Equal(t, 0, code, stderr)

	// It never overwrites without -force.
	ui = cli.NewMockUi()
	assert.Equal(t, 1, (&InitCommand{Meta: newMeta(ui)}).Run(nil))
	assert.Contains(t, ui.ErrorWriter.String(), "already exists")
	ui = cli.NewMockUi()
	assert.Equal(t, 0, (&InitCommand{Meta: newMeta(ui)}).Run([]string{"-force"}))
}

func TestInitStarterIsValid(t *testing.T) {
	t.Chdir(t.TempDir())
	ui := cli.NewMockUi()
	assert.Equal(t, 0, (&InitCommand{Meta: newMeta(ui)}).Run(nil))
	assert.Contains(t, ui.OutputWriter.String(), "from a starter configuration")
	code, stderr := validateHere(t)
	assert.Equal(t, 0, code, stderr)
}

func TestInitBadProcfile(t *testing.T) {
	t.Chdir(t.TempDir())
	require.NoError(t, os.WriteFile("Procfile", []byte("web: ok\nthis line has no colon\n"), 0o644))
	ui := cli.NewMockUi()
	assert.Equal(t, 1, (&InitCommand{Meta: newMeta(ui)}).Run(nil))
	assert.Contains(t, ui.ErrorWriter.String(), "Procfile line 2")
	assert.Contains(t, ui.ErrorWriter.String(), "no colon")
	_, err := os.Stat("prox.hcl")
	assert.True(t, os.IsNotExist(err), "nothing written")
}

func TestUpRunsAProcfile(t *testing.T) {
	t.Chdir(t.TempDir())
	require.NoError(t, os.WriteFile("Procfile", []byte("web: echo \"web on $PORT says $GREETING\"\nworker: echo \"worker on $PORT\"\n"), 0o644))
	require.NoError(t, os.WriteFile(".env", []byte("GREETING=hello\n"), 0o644))
	ui := cli.NewMockUi()
	c := &UpCommand{Meta: newMeta(ui), signals: make(chan os.Signal)}
	done := make(chan int, 1)
	go func() { done <- c.Run(nil) }()
	select {
	case code := <-done:
		assert.Equal(t, 0, code, ui.ErrorWriter.String())
	case <-time.After(30 * time.Second):
		t.Fatal("up did not return")
	}
	out := ui.OutputWriter.String()
	assert.Contains(t, out, "web    | web on 5000 says hello")
	assert.Contains(t, out, "worker | worker on 5100")
	assert.Contains(t, ui.ErrorWriter.String(), "running the Procfile as foreman would")
}

func TestGraph(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(`
process "db" {
  command = ["true"]
  health {
    tcp { address = "127.0.0.1:5432" }
  }
}
process "api" {
  command = ["true"]
  depends_on "db" { condition = "healthy" }
}
process "worker" {
  command    = ["true"]
  depends_on = ["api"]
}
process "lonely" { command = ["true"] }
`), 0o644))
	ui := cli.NewMockUi()
	assert.Equal(t, 0, (&GraphCommand{Meta: newMeta(ui)}).Run([]string{"-config", cfg}))
	assert.Equal(t, strings.Join([]string{
		"db",
		"└── api (after db healthy)",
		"    └── worker (after api started)",
		"lonely",
		"",
	}, "\n"), ui.OutputWriter.String())

	ui = cli.NewMockUi()
	assert.Equal(t, 0, (&GraphCommand{Meta: newMeta(ui)}).Run([]string{"-config", cfg, "-format", "dot"}))
	dot := ui.OutputWriter.String()
	assert.Contains(t, dot, "digraph prox {")
	assert.Contains(t, dot, `"db" -> "api" [label="healthy"];`)
	assert.Contains(t, dot, `"api" -> "worker" [label="started"];`)

	ui = cli.NewMockUi()
	assert.Equal(t, 2, (&GraphCommand{Meta: newMeta(ui)}).Run([]string{"-config", cfg, "-format", "svg"}))
}
