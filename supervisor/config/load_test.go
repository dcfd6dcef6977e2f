package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeConfig writes src as prox.hcl in a new temporary folder and returns
// its path.
func writeConfig(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "prox.hcl")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	return path
}

func loadOK(t *testing.T, src string) *Config {
	t.Helper()
	cfg, diags := Load(writeConfig(t, src))
	require.False(t, diags.HasErrors(), "%s", diags.Error())
	return cfg
}

func TestLoadDefaults(t *testing.T) {
	cfg := loadOK(t, `process "web" {}`)
	require.Len(t, cfg.Processes, 1)
	p := cfg.Processes[0]

	assert.Equal(t, "web", p.Name)
	assert.Nil(t, p.Command)
	assert.Empty(t, p.Env)
	assert.Equal(t, "", p.EnvFile)
	assert.Equal(t, cfg.Dir, p.Dir)
	assert.Equal(t, Ref{Kind: DefaultRunner}, p.Runner)
	assert.Equal(t, p.DeclRange, p.RunnerRange)
	assert.Empty(t, p.Sinks)
	assert.Nil(t, p.RunnerBody)
	assert.Equal(t, Stop{Signal: "SIGTERM", Timeout: 10 * time.Second}, p.Stop)
	assert.Equal(t, Restart{
		Policy:       "never",
		Backoff:      time.Second,
		MaxBackoff:   30 * time.Second,
		ResetAfter:   60 * time.Second,
		Window:       time.Minute,
		MaxRestarts:  5,
		SuccessCodes: []int{0},
	}, p.Restart)
	assert.Equal(t, "", cfg.PluginDir)
	assert.True(t, filepath.IsAbs(cfg.Path))
	assert.Equal(t, filepath.Dir(cfg.Path), cfg.Dir)
	assert.Contains(t, cfg.Files, cfg.Path)
}

// fullConfig sets every setting of the file (TestLoadFull; a seed of
// FuzzParse).
const fullConfig = `
plugin_dir = ".prox/plugins"

runner "container" "docker" {
  socket = "/var/run/docker.sock"
}

sink "file" "all" {
  path = "all.log"
}

sink "file" "errors" {
  path = "errors.log"
}

plugin "fancy" {
  path   = "./bin/prox-plugin-fancy"
  sha256 = "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789"
}

process "web" {
  command  = ["sh", "-c", "echo ${env("PROX_TEST_GREETING")}"]
  env      = { GREETING = upper(env("PROX_TEST_GREETING")), EMPTY = env("PROX_TEST_UNSET_VARIABLE") }
  env_file = ".env"
  dir      = "./web"
  sinks    = ["file.all", "file.errors"]

  stop {
    signal  = "int"
    timeout = "3s"
  }

  restart {
    policy        = "on-failure"
    backoff       = "0s"
    max_backoff   = "2m"
    reset_after   = "5m"
    max_restarts  = 0
    window        = "1h"
    success_codes = [0, 2, 255]
  }
}

process "db" {
  runner = "container.docker"

  container {
    image = "postgres"
  }
}

process "job.1" {
  runner  = "container"
  command = split(" ", trimspace(file("cmd.txt")))
  dir     = "/abs/dir"
}
`

func TestLoadFull(t *testing.T) {
	t.Setenv("PROX_TEST_GREETING", "hello")
	path := writeConfig(t, fullConfig)
	dir := filepath.Dir(path)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cmd.txt"), []byte("  run --fast \n"), 0o644))

	cfg, diags := Load(path)
	require.False(t, diags.HasErrors(), "%s", diags.Error())

	assert.Equal(t, path, cfg.Path)
	assert.Equal(t, dir, cfg.Dir)
	assert.Equal(t, filepath.Join(dir, ".prox", "plugins"), cfg.PluginDir)

	require.Len(t, cfg.Runners, 1)
	assert.Equal(t, Ref{"container", "docker"}, cfg.Runners[0].Ref())
	attrs, d := cfg.Runners[0].Body.JustAttributes()
	require.False(t, d.HasErrors())
	assert.Contains(t, attrs, "socket")

	require.Len(t, cfg.Sinks, 2)
	assert.Equal(t, "file.errors", cfg.Sinks[1].Ref().String())

	require.Len(t, cfg.Plugins, 1)
	assert.Equal(t, filepath.Join(dir, "bin", "prox-plugin-fancy"), cfg.Plugins[0].Path)
	assert.Equal(t, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", cfg.Plugins[0].SHA256)
	assert.Same(t, cfg.Plugins[0], cfg.Plugin("fancy"))

	require.Len(t, cfg.Processes, 3)
	assert.Equal(t, []string{"web", "db", "job.1"}, []string{cfg.Processes[0].Name, cfg.Processes[1].Name, cfg.Processes[2].Name})

	web := cfg.Process("web")
	require.NotNil(t, web)
	assert.Equal(t, []string{"sh", "-c", "echo hello"}, web.Command)
	assert.Equal(t, map[string]string{"GREETING": "HELLO", "EMPTY": ""}, web.Env)
	assert.Equal(t, filepath.Join(dir, ".env"), web.EnvFile)
	assert.Equal(t, filepath.Join(dir, "web"), web.Dir)
	assert.Equal(t, Ref{Kind: "exec"}, web.Runner)
	assert.Equal(t, []Ref{{"file", "all"}, {"file", "errors"}}, web.Sinks)
	require.Len(t, web.SinkRanges, 2)
	assert.Equal(t, 26, web.SinkRanges[0].Start.Line)
	assert.Less(t, web.SinkRanges[0].Start.Column, web.SinkRanges[1].Start.Column)
	assert.Equal(t, Stop{Signal: "SIGINT", Timeout: 3 * time.Second}, web.Stop)
	assert.Equal(t, Restart{
		Policy:       "on-failure",
		Backoff:      0,
		MaxBackoff:   2 * time.Minute,
		ResetAfter:   5 * time.Minute,
		Window:       time.Hour,
		MaxRestarts:  0,
		SuccessCodes: []int{0, 2, 255},
	}, web.Restart)

	db := cfg.Process("db")
	require.NotNil(t, db)
	assert.Equal(t, Ref{"container", "docker"}, db.Runner)
	assert.Equal(t, "container.docker", db.Runner.String())
	assert.Equal(t, 45, db.RunnerRange.Start.Line)
	require.NotNil(t, db.RunnerBody)
	assert.Equal(t, 47, db.RunnerBodyRange.Start.Line)
	attrs, d = db.RunnerBody.JustAttributes()
	require.False(t, d.HasErrors())
	assert.Contains(t, attrs, "image")
	assert.Same(t, cfg.Runners[0], cfg.Runner(db.Runner))

	job := cfg.Process("job.1")
	require.NotNil(t, job)
	assert.Equal(t, Ref{Kind: "container"}, job.Runner)
	assert.Nil(t, job.RunnerBody)
	assert.Equal(t, []string{"run", "--fast"}, job.Command)
	assert.Equal(t, "/abs/dir", job.Dir)

	assert.Nil(t, cfg.Process("nope"))
	assert.Nil(t, cfg.Runner(Ref{"container", "podman"}))
	assert.Nil(t, cfg.Sink(Ref{Kind: "file"}))
	assert.Nil(t, cfg.Plugin("nope"))
}

func TestParseUsesFilenameAsGiven(t *testing.T) {
	cfg, diags := Parse([]byte("process \"a\" {\n  command = []\n}\n"), "some/dir/prox.hcl")
	require.True(t, diags.HasErrors())
	assert.Equal(t, "some/dir/prox.hcl", diags[0].Subject.Filename)
	assert.Contains(t, cfg.Files, "some/dir/prox.hcl")
	wd, err := os.Getwd()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(wd, "some", "dir", "prox.hcl"), cfg.Path)
	assert.Equal(t, filepath.Join(wd, "some", "dir"), cfg.Dir)
}

// loadErrorCases are files with one error each: its summary and line
// (TestLoadErrors; seeds of FuzzParse).
var loadErrorCases = []struct {
	name    string
	src     string
	summary string
	line    int
}{
	{"unknown top-level block", "server {}\n", "Unsupported block type", 1},
	{"runner ref syntax", "process \"a\" {\n  runner = \"a.b.c\"\n}\n", "Invalid runner reference", 2},
	{"runner ref type", "process \"a\" {\n  runner = [\"exec\"]\n}\n", "Invalid runner", 2},
	{"sink without name", "process \"a\" {\n  sinks = [\"file\"]\n}\n", "Invalid sink reference", 2},
	{"sinks from function", "process \"a\" {\n  sinks = concat([\"file.x\"])\n}\n", "Unknown sink", 2},
	{"duplicate sink block", "sink \"f\" \"a\" {}\nsink \"f\" \"a\" {}\n", "Duplicate sink", 2},
	{"duplicate plugin", "plugin \"p\" { path = \"a\" }\nplugin \"p\" { path = \"b\" }\n", "Duplicate plugin", 2},
	{"empty plugin path", "plugin \"p\" {\n  path = \"\"\n}\n", "Invalid path", 2},
	{"empty process name", "process \"\" {}\n", "Invalid process name", 1},
	{"bad runner block kind", "runner \"1x\" \"a\" {}\n", "Invalid runner kind", 1},
	{"duplicate stop", "process \"a\" {\n  stop {}\n  stop {}\n}\n", "Duplicate stop block", 3},
	{"fractional max_restarts", "process \"a\" {\n  restart {\n    max_restarts = 1.5\n  }\n}\n", "Invalid restart max_restarts", 3},
	{"negative success code", "process \"a\" {\n  restart {\n    success_codes = [-1]\n  }\n}\n", "Invalid restart success_codes", 3},
	{"zero window", "process \"a\" {\n  restart {\n    window = \"0s\"\n  }\n}\n", "Invalid restart window", 3},
	{"env not a map", "process \"a\" {\n  env = \"X=1\"\n}\n", "Invalid env", 2},
	{"unknown function", "process \"a\" {\n  command = [nope()]\n}\n", "Call to unknown function", 2},
	{"unknown variable", "process \"a\" {\n  command = [var.x]\n}\n", "Unknown variable", 2},
	{"typo suggestion", "process \"a\" {\n  restrat {}\n}\n", "Unsupported block type", 2},
}

func TestLoadErrors(t *testing.T) {
	for _, tt := range loadErrorCases {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse([]byte(tt.src), "prox.hcl")
			require.True(t, diags.HasErrors())
			require.Len(t, diags, 1, "%s", diags.Error())
			assert.Equal(t, tt.summary, diags[0].Summary, "%s", diags.Error())
			require.NotNil(t, diags[0].Subject)
			assert.Equal(t, tt.line, diags[0].Subject.Start.Line)
		})
	}
}

func TestTypoSuggestion(t *testing.T) {
	_, diags := Parse([]byte("process \"a\" {\n  restrat {}\n  enf = {}\n}\n"), "prox.hcl")
	require.Len(t, diags, 2)
	assert.Contains(t, diags[0].Detail, `Did you mean "restart"?`)
	assert.Contains(t, diags[1].Detail, `Did you mean "env"?`)
}

func TestSyntaxErrorKeepsFiles(t *testing.T) {
	cfg, diags := Parse([]byte("process \"a\" {\n"), "prox.hcl")
	require.True(t, diags.HasErrors())
	require.NotNil(t, cfg)
	assert.Contains(t, cfg.Files, "prox.hcl")
	assert.IsType(t, &hcl.File{}, cfg.Files["prox.hcl"])
}

func TestRefString(t *testing.T) {
	assert.Equal(t, "exec", Ref{Kind: "exec"}.String())
	assert.Equal(t, "container.db", Ref{Kind: "container", Name: "db"}.String())
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in      string
		want    Ref
		wantErr bool
	}{
		{"exec", Ref{Kind: "exec"}, false},
		{"container.db", Ref{"container", "db"}, false},
		{"my-kind.my_name", Ref{"my-kind", "my_name"}, false},
		{"", Ref{}, true},
		{"a.", Ref{}, true},
		{".a", Ref{}, true},
		{"a.b.c", Ref{}, true},
		{"1a", Ref{}, true},
		{"a b", Ref{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRef(tt.in)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestLogLines(t *testing.T) {
	cfg, diags := Parse([]byte(`
process "a" { command = ["true"] }
process "b" {
  command   = ["true"]
  log_lines = 5000
}
`), "prox.hcl")
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Equal(t, DefaultLogLines, cfg.Processes[0].LogLines)
	assert.Equal(t, 5000, cfg.Processes[1].LogLines)

	_, diags = Parse([]byte(`
process "c" {
  command   = ["true"]
  log_lines = 0
}
`), "prox.hcl")
	require.True(t, diags.HasErrors())
	assert.Equal(t, "Invalid log_lines", diags[0].Summary)
	assert.Equal(t, 4, diags[0].Subject.Start.Line)
}
