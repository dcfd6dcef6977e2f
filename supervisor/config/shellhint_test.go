package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Shell syntax written as is in a command or env is HCL template syntax:
// the error says how to escape it, at the place of the sequence.
func TestShellSyntaxErrorsSuggestTheEscape(t *testing.T) {
	cases := []struct {
		name         string
		src          string
		summary      string
		line, column int
		hint         string
	}{
		{
			name:    "variable in command",
			src:     "process \"a\" {\n  command = [\"sh\", \"-c\", \"echo ${HOME}\"]\n}\n",
			summary: "Unknown variable",
			line:    2, column: 34,
			hint: `In prox.hcl, ${...} is HCL's own interpolation. To pass "${HOME}" to the shell, write "$${HOME}"; for %{, write "%%{".`,
		},
		{
			name:    "variable in env",
			src:     "process \"a\" {\n  command = [\"true\"]\n  env = { GREETING = \"hi ${USER}\" }\n}\n",
			summary: "Unknown variable",
			line:    3, column: 28,
			hint: `To pass "${USER}" to the shell, write "$${USER}"; for %{, write "%%{". For prox's own environment variable USER, write "${env("USER")}".`,
		},
		{
			name:    "variable in an exec health check",
			src:     "process \"a\" {\n  command = [\"true\"]\n  health {\n    exec { command = [\"sh\", \"-c\", \"test -d ${HOME}\"] }\n  }\n}\n",
			summary: "Unknown variable",
			line:    4, column: 46,
			hint: `write "$${HOME}"`,
		},
		{
			name:    "curl's write-out directive",
			src:     "process \"a\" {\n  command = [\"curl\", \"-w\", \"%{http_code}\", \"http://127.0.0.1/\"]\n}\n",
			summary: "Invalid template control keyword",
			line:    2, column: 31,
			hint: `In prox.hcl, %{...} is an HCL template directive. To pass "%{http_code}" to the program as written, write "%%{http_code}"; for ${, write "$${".`,
		},
		{
			name:    "directive in env",
			src:     "process \"a\" {\n  command = [\"true\"]\n  env = { FORMAT = \"%{time_total}\" }\n}\n",
			summary: "Invalid template control keyword",
			line:    3, column: 23,
			hint: `write "%%{time_total}"`,
		},
		{
			name:    "a # inside ${ starts an HCL comment",
			src:     "process \"a\" {\n  command = [\"bash\", \"-c\", \"echo ${#list[@]}\"]\n}\n",
			summary: "Invalid multi-line string",
			line:    3, column: 2,
			hint: `To pass "${#list[@]}" to the shell, write "$${#list[@]}"; for %{, write "%%{".`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse([]byte(tc.src), "prox.hcl")
			require.True(t, diags.HasErrors())
			d := diags[0]
			assert.Equal(t, tc.summary, d.Summary, d.Error())
			require.NotNil(t, d.Subject, d.Error())
			assert.Equal(t, "prox.hcl", d.Subject.Filename)
			assert.Equal(t, tc.line, d.Subject.Start.Line, d.Error())
			assert.Equal(t, tc.column, d.Subject.Start.Column, d.Error())
			assert.Contains(t, d.Detail, tc.hint)
			if strings.Contains(tc.hint, "#list") {
				assert.NotContains(t, d.Detail, "env(", "${#list[@]} names no variable")
			}
		})
	}
}

// The advice is for shell syntax in templates of command and env only.
func TestShellHintOnlyWhereItApplies(t *testing.T) {
	cases := map[string]string{
		"a bare reference":         "process \"a\" {\n  command = [HOME]\n}\n",
		"a variable in dir":        "process \"a\" {\n  command = [\"true\"]\n  dir = \"${HOME}\"\n}\n",
		"a directive in dir":       "process \"a\" {\n  command = [\"true\"]\n  dir = \"%{x}\"\n}\n",
		"an error after a ${...}":  "process \"a\" {\n  command = [\"echo $${A}\", \"${upper(\"a\")}\" \"b\"]\n}\n",
		"a syntax error elsewhere": "process \"a\" {\n  command = [\"true\"\n}\n",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			_, diags := Parse([]byte(src), "prox.hcl")
			require.True(t, diags.HasErrors())
			for _, d := range diags {
				assert.NotContains(t, d.Detail, "In prox.hcl", d.Error())
			}
		})
	}
}

// The escaped forms reach the process as the shell and curl expect them.
func TestShellEscapesAreLiteral(t *testing.T) {
	cfg, diags := Parse([]byte(`process "a" {
  command = ["sh", "-c", "echo $${HOME} $${#list[@]}; curl -w '%%{http_code}'"]
  env     = { GREETING = "hello $${USER}" }
}
`), "prox.hcl")
	require.False(t, diags.HasErrors(), diags.Error())
	require.Len(t, cfg.Processes, 1)
	assert.Equal(t, []string{"sh", "-c", "echo ${HOME} ${#list[@]}; curl -w '%{http_code}'"}, cfg.Processes[0].Command)
	assert.Equal(t, map[string]string{"GREETING": "hello ${USER}"}, cfg.Processes[0].Env)
}

// A command written as one string, the shell's habit (compose's command:
// "..."), is refused with the list to write instead.
func TestStringCommandSuggestsTheList(t *testing.T) {
	cases := []struct {
		name, src, want string
		line            int
	}{
		{
			name: "a shell line",
			src:  "process \"a\" {\n  command = \"echo $${HOME} && curl -w '%%{http_code}' x\"\n}\n",
			want: `The command is a list of strings, the program and its arguments, run without a shell. For this line through a shell, write command = ["sh", "-c", "echo $${HOME} && curl -w '%%{http_code}' x"].`,
			line: 2,
		},
		{
			name: "a program alone",
			src:  "process \"a\" {\n  command = \"./server\"\n}\n",
			want: `The command is a list of strings, the program and its arguments, run without a shell. Write command = ["./server"].`,
			line: 2,
		},
		{
			name: "an exec health check",
			src:  "process \"a\" {\n  command = [\"true\"]\n  health {\n    exec { command = \"pg_isready -h 127.0.0.1\" }\n  }\n}\n",
			want: `write command = ["sh", "-c", "pg_isready -h 127.0.0.1"]`,
			line: 4,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse([]byte(tc.src), "prox.hcl")
			require.True(t, diags.HasErrors())
			require.Len(t, diags, 1, diags.Error())
			d := diags[0]
			assert.Equal(t, "Invalid command", d.Summary)
			require.NotNil(t, d.Subject)
			assert.Equal(t, tc.line, d.Subject.Start.Line)
			assert.Contains(t, d.Detail, tc.want)
		})
	}
}

// A ${NAME} where no shell reads the string (dir, a sink's path) is not
// told to escape it, but how to read prox's environment variable NAME.
func TestVariableElsewhereSuggestsEnv(t *testing.T) {
	cases := map[string]struct {
		src  string
		line int
		want string
	}{
		"dir": {"process \"a\" {\n  command = [\"true\"]\n  dir     = \"${HOME}/app\"\n}\n", 3,
			`To use prox's own environment variable HOME, write "${env("HOME")}".`},
		"a health check's url": {"process \"a\" {\n  command = [\"true\"]\n  health {\n    http { url = \"http://127.0.0.1:${PORT}/\" }\n  }\n}\n", 4,
			`To use prox's own environment variable PORT, write "${env("PORT")}".`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, diags := Parse([]byte(tc.src), "prox.hcl")
			require.True(t, diags.HasErrors())
			d := diags[0]
			require.NotNil(t, d.Subject, d.Error())
			assert.Equal(t, tc.line, d.Subject.Start.Line, d.Error())
			assert.Contains(t, d.Detail, tc.want)
			assert.NotContains(t, d.Detail, "$${", "no shell reads it: no escape advice")
		})
	}
}

// The errors about a block's shape say what to write instead.
func TestBlockShapeErrorsSayWhatToWrite(t *testing.T) {
	cases := map[string]struct {
		src, summary, want string
		line               int
	}{
		"two attributes in a one-line block": {
			"process \"a\" {\n  command = [\"true\"]\n  stop { signal = \"SIGTERM\"  timeout = \"10s\" }\n}\n",
			"Invalid single-argument block definition",
			"A block on one line holds one attribute at most: with more, write each attribute on a line of its own, and the closing } on a line after them.", 3,
		},
		"a runner block without its name": {
			"runner \"ssh\" {\n  host = \"10.0.0.5\"\n}\nprocess \"a\" {\n  command = [\"true\"]\n}\n",
			"Missing name for runner",
			`Name it, runner "ssh" "NAME" { ... }, and use it as runner = "ssh.NAME" in a process.`, 1,
		},
		"a sink block without its name": {
			"sink \"file\" {\n  path = \"all.log\"\n}\nprocess \"a\" {\n  command = [\"true\"]\n}\n",
			"Missing name for sink",
			`Name it, sink "file" "NAME" { ... }, and use it as sinks = ["file.NAME"] in a process.`, 1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, diags := Parse([]byte(tc.src), "prox.hcl")
			require.True(t, diags.HasErrors())
			d := diags[0]
			assert.Equal(t, tc.summary, d.Summary, d.Error())
			require.NotNil(t, d.Subject)
			assert.Equal(t, tc.line, d.Subject.Start.Line)
			assert.Contains(t, d.Detail, tc.want)
		})
	}
}
