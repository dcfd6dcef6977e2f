package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/hcl/v2"
	"github.com/prox-dev/prox/command"
	"github.com/prox-dev/prox/plugins/builtin"
	"github.com/prox-dev/prox/plugins/loader"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The documentation's examples are tested:
//
//   - every ```hcl block of README.md, docs/*.md and examples/*/README.md is
//     a valid prox.hcl, checked as `prox validate` checks it but without
//     starting anything: the config loader, then the blocks of built-in
//     plugins decoded against the schemas the plugins declare (an external
//     plugin's block is checked by the config loader only);
//   - the Go of the plugin tutorial (docs/plugins.md) builds against this
//     tree, passes its own tests, and its prox.hcl is valid with the plugin
//     built and runs as the tutorial says;
//   - every command and flag of the README's command table exists.
//
// A block that is not a whole file is marked by an HTML comment on the
// line right before its fence (invisible once rendered):
//
//	<!-- fragment: process -->  HCL: the body of a process block; it is
//	                            checked inside `process "fragment" { }`
//	<!-- file: NAME -->         the whole of the tutorial's file NAME
//	                            (main.go, tee.go, main_test.go, prox.hcl)
//	<!-- fragment: NAME -->     lines of the tutorial's file NAME, as it
//	                            stands: the first replaces the same line
//	<!-- output: tutorial -->   lines that the tutorial's `prox validate`
//	                            and `prox up` print
//
// An error names the doc file and the line in it.

// docFence is a fenced code block of a markdown file.
type docFence struct {
	file   string // the markdown file, by its path in the repository
	lang   string // the info string: hcl, go, sh, ...
	line   int    // the line of its first content line
	lines  []string
	marker string // the marker comment right before the fence ("fragment: process"), or ""
}

// where names the fence for error messages.
func (f docFence) where() string {
	return fmt.Sprintf("%s:%d", f.file, f.line)
}

var markerComment = regexp.MustCompile(`^<!--\s*(.*?)\s*-->$`)

// readFences returns the fenced code blocks of the markdown file at path.
func readFences(t *testing.T, path string) []docFence {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	var out []docFence
	for i := 0; i < len(lines); i++ {
		trimmed := strings.TrimLeft(lines[i], " ")
		if !strings.HasPrefix(trimmed, "```") {
			continue
		}
		indent := len(lines[i]) - len(trimmed)
		f := docFence{file: path, lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), line: i + 2}
		if i > 0 {
			if m := markerComment.FindStringSubmatch(strings.TrimSpace(lines[i-1])); m != nil {
				f.marker = m[1]
			}
		}
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			l := lines[i]
			if len(l) >= indent && strings.TrimSpace(l[:indent]) == "" {
				l = l[indent:]
			}
			f.lines = append(f.lines, l)
		}
		require.Less(t, i, len(lines), "%s: the fence has no end", f.where())
		out = append(out, f)
	}
	return out
}

// docFiles are the markdown files whose examples are tested.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	for _, glob := range []string{"docs/*.md", "examples/*/README.md"} {
		m, err := filepath.Glob(glob)
		require.NoError(t, err)
		files = append(files, m...)
	}
	return files
}

// TestDocsHCLExamples checks every ```hcl block of the documentation as a
// prox.hcl.
func TestDocsHCLExamples(t *testing.T) {
	n := 0
	for _, file := range docFiles(t) {
		for _, f := range readFences(t, file) {
			if f.lang != "hcl" {
				continue
			}
			n++
			t.Run(f.where(), func(t *testing.T) {
				if diags, files := checkDocHCL(t, f); diags.HasErrors() {
					var buf bytes.Buffer
					require.NoError(t, config.WriteDiagnostics(&buf, files, diags, 0, false))
					t.Errorf("%s: the ```hcl block (marker %q) is not a valid prox.hcl:\n%s", f.where(), f.marker, buf.String())
				}
			})
		}
	}
	require.NotZero(t, n, "no ```hcl block found")
}

// checkDocHCL validates an hcl fence and returns its diagnostics, whose
// positions are those of the doc file, and the parsed file for rendering.
func checkDocHCL(t *testing.T, f docFence) (hcl.Diagnostics, map[string]*hcl.File) {
	t.Helper()
	body := strings.Join(f.lines, "\n") + "\n"
	// Blank lines before the block put its lines at their lines in the doc
	// (the fence line itself holds a wrapper's first line).
	switch f.marker {
	case "", "file: prox.hcl":
		body = strings.Repeat("\n", f.line-1) + body
	case "fragment: process":
		body = strings.Repeat("\n", f.line-2) + "process \"fragment\" {\n" + body + "}\n"
	default:
		t.Fatalf("%s: unknown marker %q for an hcl block (want none, \"fragment: process\" or \"file: prox.hcl\")", f.where(), f.marker)
	}
	cfg, diags := config.Parse([]byte(body), f.file)
	if diags.HasErrors() {
		return diags, cfg.Files
	}
	return append(diags, decodeBuiltinBlocks(cfg)...), cfg.Files
}

// sinkHostAttributes are the attributes of a sink block that prox keeps
// for itself (agent/stack.go's sinkHostSchema): not the plugin's.
var sinkHostAttributes = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "overflow"}, {Name: "queue_size"}}}

// decodeBuiltinBlocks decodes the blocks of cfg that belong to built-in
// plugins against the schemas the plugins declare, as prox validate does
// once it has launched them (see agent/stack.go): every runner and sink
// block, a process's runner reference without a block, and a process's
// per-process runner block. Nothing is launched or configured.
func decodeBuiltinBlocks(cfg *config.Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	evalCtx := &hcl.EvalContext{Functions: config.Functions(cfg.Dir)}
	for _, b := range cfg.Sinks {
		schema, _, ok := builtin.Schemas(sdk.KindSink, b.Kind)
		if !ok {
			continue
		}
		_, rest, d := b.Body.PartialContent(sinkHostAttributes)
		diags = append(diags, d...)
		_, d = loader.Decode(rest, schema, evalCtx, b.DeclRange, fmt.Sprintf("sink %q %q block", b.Kind, b.Name))
		diags = append(diags, d...)
	}
	for _, b := range cfg.Runners {
		schema, _, ok := builtin.Schemas(sdk.KindRunner, b.Kind)
		if !ok {
			continue
		}
		_, d := loader.Decode(b.Body, schema, evalCtx, b.DeclRange, fmt.Sprintf("runner %q block", b.Ref()))
		diags = append(diags, d...)
	}
	for _, p := range cfg.Processes {
		schema, processSchema, ok := builtin.Schemas(sdk.KindRunner, p.Runner.Kind)
		if !ok {
			continue
		}
		if cfg.Runner(p.Runner) == nil {
			_, d := loader.Decode(nil, schema, evalCtx, p.RunnerRange, fmt.Sprintf("runner %q block", p.Runner))
			diags = append(diags, d...)
		}
		switch {
		case processSchema == nil && p.RunnerBody != nil:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported block type",
				Detail:   fmt.Sprintf("The %q runner takes no per-process settings block.", p.Runner.Kind),
				Subject:  p.RunnerBodyRange.Ptr(),
			})
		case processSchema != nil:
			_, d := loader.Decode(p.RunnerBody, processSchema, evalCtx, p.DeclRange, fmt.Sprintf("%q block of process %q", p.Runner.Kind, p.Name))
			diags = append(diags, d...)
		}
	}
	return diags
}

// The checks above catch what they are for: each kind of mistake in a doc
// block is an error at its line in the doc.
func TestDocsHCLCheckFindsMistakes(t *testing.T) {
	cases := []struct {
		name, marker, block, want string
	}{
		{"two attributes in a one-line block", "", "process \"a\" {\n  command = [\"true\"]\n  stop { signal = \"SIGTERM\"  timeout = \"10s\" }\n}", "Invalid single-argument block definition"},
		{"a misspelt built-in sink attribute", "", "sink \"file\" \"all\" {\n  pth = \"x.log\"\n}", "Unsupported argument"},
		{"a missing required attribute of a runner", "", "process \"a\" {\n  command = [\"true\"]\n  runner  = \"ssh\"\n}", "Missing required argument"},
		{"a misspelt per-process attribute", "", "process \"a\" {\n  runner = \"container\"\n  container {\n    imag = \"busybox\"\n  }\n}", "Unsupported argument"},
		{"a fragment with a typo", "fragment: process", "command = [\"true\"]\nrestrat {\n  policy = \"always\"\n}", "Unsupported block type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := docFence{file: "docs/example.md", lang: "hcl", line: 40, lines: strings.Split(tc.block, "\n"), marker: tc.marker}
			diags, _ := checkDocHCL(t, f)
			require.True(t, diags.HasErrors(), "the mistake went unnoticed")
			i := slices.IndexFunc(diags, func(d *hcl.Diagnostic) bool { return d.Summary == tc.want })
			require.GreaterOrEqual(t, i, 0, "no %q error: %s", tc.want, diags.Error())
			d := diags[i]
			require.NotNil(t, d.Subject)
			assert.Equal(t, "docs/example.md", d.Subject.Filename)
			assert.GreaterOrEqual(t, d.Subject.Start.Line, 40, "the error is at the block's line in the doc")
			assert.Less(t, d.Subject.Start.Line, 40+len(f.lines))
		})
	}
}

// docLine is a line of a file of the tutorial and where it is in the docs.
type docLine struct {
	text string
	file string // the doc, by its absolute path
	line int
}

// tutorialFiles are the tutorial's files, assembled from the marked fences
// of its doc, in order.
type tutorialFiles struct {
	files map[string][]docLine
}

// apply adds fence f (marked "file: NAME" or "fragment: NAME") to the files.
func (tf *tutorialFiles) apply(t *testing.T, f docFence) string {
	t.Helper()
	abs, err := filepath.Abs(f.file)
	require.NoError(t, err)
	lines := make([]docLine, len(f.lines))
	for i, l := range f.lines {
		lines[i] = docLine{text: l, file: abs, line: f.line + i}
	}
	kind, name, _ := strings.Cut(f.marker, ": ")
	switch kind {
	case "file":
		tf.files[name] = lines
	case "fragment":
		old, ok := tf.files[name]
		require.True(t, ok, "%s: a fragment of %s, which no earlier block gives", f.where(), name)
		i := slices.IndexFunc(old, func(l docLine) bool { return strings.TrimSpace(l.text) == strings.TrimSpace(f.lines[0]) })
		require.GreaterOrEqual(t, i, 0, "%s: the fragment's first line is not a line of %s: %q", f.where(), name, f.lines[0])
		tf.files[name] = slices.Concat(old[:i], lines, old[i+1:])
	default:
		t.Fatalf("%s: a ```%s block needs a marker \"file: NAME\" or \"fragment: NAME\", not %q", f.where(), f.lang, f.marker)
	}
	return name
}

// write writes the files into dir; Go files get //line directives, so that
// the compiler names the doc's lines.
func (tf *tutorialFiles) write(t *testing.T, dir string) {
	t.Helper()
	for name, lines := range tf.files {
		var b strings.Builder
		for i, l := range lines {
			if strings.HasSuffix(name, ".go") && (i == 0 || l.file != lines[i-1].file || l.line != lines[i-1].line+1) {
				fmt.Fprintf(&b, "//line %s:%d\n", l.file, l.line)
			}
			b.WriteString(l.text + "\n")
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644))
	}
}

// goIn runs the go command in dir with the module cache and proxy of the
// environment, and returns its output with the repository's path removed.
func goIn(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"))
	out, err := cmd.CombinedOutput()
	root, _ := os.Getwd()
	return strings.ReplaceAll(string(out), root+string(filepath.Separator), ""), err
}

// tutorialModule creates the tutorial's module (docs/plugins.md, step 1)
// with this tree in place of prox's published module.
func tutorialModule(t *testing.T) string {
	t.Helper()
	root, err := os.Getwd()
	require.NoError(t, err)
	gomod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	require.NotNil(t, goVersion, "no go directive in go.mod")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), fmt.Appendf(nil,
		"module example.com/prox-nice\n\ngo %s\n\nrequire github.com/prox-dev/prox v0.0.0\n\nreplace github.com/prox-dev/prox => %s\n",
		goVersion[1], root), 0o644))
	// prox's checksums: the module needs no others, and nothing is asked
	// of the checksum database.
	sum, err := os.ReadFile("go.sum")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	return dir
}

// TestDocsPluginTutorial follows docs/plugins.md: its Go files build after
// each step, its tests pass, and its prox.hcl files are valid with the
// plugin built and run as shown.
func TestDocsPluginTutorial(t *testing.T) {
	t.Parallel()
	const doc = "docs/plugins.md"
	fences := readFences(t, doc)
	dir := tutorialModule(t)
	tf := &tutorialFiles{files: map[string][]docLine{}}
	var hclFiles [][]docLine
	var output []string
	for _, f := range fences {
		switch {
		case f.lang == "go":
			name := tf.apply(t, f)
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			tf.write(t, dir)
			out, err := goIn(dir, "build", "-o", "prox-plugin-nice", ".")
			require.NoError(t, err, "%s: the tutorial does not build after this block (%s):\n%s", f.where(), name, out)
		case f.lang == "hcl" && f.marker == "file: prox.hcl":
			abs, err := filepath.Abs(f.file)
			require.NoError(t, err)
			lines := make([]docLine, len(f.lines))
			for i, l := range f.lines {
				lines[i] = docLine{text: l, file: abs, line: f.line + i}
			}
			hclFiles = append(hclFiles, lines)
		case f.marker == "output: tutorial":
			output = append(output, f.lines...)
		}
	}
	require.Contains(t, tf.files, "main.go", "%s has no block marked \"file: main.go\"", doc)
	require.NotEmpty(t, hclFiles, "%s has no hcl block marked \"file: prox.hcl\"", doc)

	tf.write(t, dir)
	out, err := goIn(dir, "vet", "./...")
	require.NoError(t, err, "go vet of the tutorial's files:\n%s", out)
	out, err = goIn(dir, "test", "-count=1", "./...")
	require.NoError(t, err, "the tutorial's own tests:\n%s", out)

	// Its prox.hcl files, with the checksum of the plugin just built.
	bin, err := os.ReadFile(filepath.Join(dir, "prox-plugin-nice"))
	require.NoError(t, err)
	sum := sha256.Sum256(bin)
	checksum := regexp.MustCompile(`sha256\s*=\s*"[0-9a-f]{64}"`)
	var validated string
	for _, lines := range hclFiles {
		var b strings.Builder
		for _, l := range lines {
			b.WriteString(checksum.ReplaceAllString(l.text, `sha256 = "`+hex.EncodeToString(sum[:])+`"`) + "\n")
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "prox.hcl"), []byte(b.String()), 0o644))
		cmd := exec.Command(buildProx(t), "validate")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s:%d: prox validate of the tutorial's prox.hcl:\n%s", doc, lines[0].line, out)
		validated = string(out)
	}

	// The last prox.hcl, run from another folder: the output the tutorial
	// shows, and the sink's relative path is the config file's folder's.
	u := startUp(t, filepath.Join(dir, "prox.hcl"))
	require.Equal(t, 0, u.wait(t), "prox up of the tutorial's prox.hcl:\n%s", u.output())
	printed := strings.Split(strings.TrimSpace(validated), "\n")
	printed = append(printed, u.stdout...)
	require.NotEmpty(t, output, "%s has no block marked \"output: tutorial\"", doc)
	for _, want := range output {
		assert.Contains(t, printed, want, "%s: the tutorial shows a line that prox does not print; it printed:\n%s", doc, strings.Join(printed, "\n"))
	}
	log, err := os.ReadFile(filepath.Join(dir, "all.log"))
	require.NoError(t, err, "the tee sink's all.log is not beside prox.hcl")
	assert.Contains(t, strings.Split(string(log), "\n"), "indexer stdout indexing at niceness 15")
	requireNoneLeft(t, u.marker)
}

// Every ```go block of the docs belongs to the tutorial, marked: none is
// left untested.
func TestDocsGoBlocksAreMarked(t *testing.T) {
	for _, file := range docFiles(t) {
		for _, f := range readFences(t, file) {
			if f.lang != "go" {
				continue
			}
			assert.Equal(t, "docs/plugins.md", file, "%s: a ```go block outside the plugin tutorial, which no test builds", f.where())
			assert.Regexp(t, `^(file|fragment): \S+\.go$`, f.marker, "%s: a ```go block needs a marker <!-- file: NAME.go --> or <!-- fragment: NAME.go -->", f.where())
		}
	}
}

// commandTableRow is a command of the README's table: its words
// ("plugins lock") and the flags it shows, with the value each takes
// ("" for a boolean).
type commandTableRow struct {
	line  int
	words string
	flags map[string]string
}

var (
	codeSpan    = regexp.MustCompile("`([^`]+)`")
	flagBracket = regexp.MustCompile(`\[([^\]]+)\]`)
	commandWord = regexp.MustCompile(`^[a-z][a-z-]*$`)
)

// readCommandTable parses the command table of README.md: rows whose first
// cell is `prox WORDS [-flag VALUE] ...`, alternatives separated by `\|`,
// and flags in code spans after it (`(or -all)`).
func readCommandTable(t *testing.T) []commandTableRow {
	t.Helper()
	f, err := os.Open("README.md")
	require.NoError(t, err)
	defer f.Close()
	var rows []commandTableRow
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `prox ") {
			continue
		}
		cell := strings.Split(strings.ReplaceAll(line, `\|`, "\x00"), "|")[1]
		spans := codeSpan.FindAllStringSubmatch(cell, -1)
		form := strings.Fields(strings.TrimPrefix(spans[0][1], "prox "))
		// The command words, each possibly alternatives: start|stop|restart.
		var alternatives [][]string
		for len(form) > 0 && commandWord.MatchString(strings.ReplaceAll(form[0], "\x00", "")) {
			alternatives = append(alternatives, strings.Split(form[0], "\x00"))
			form = form[1:]
		}
		require.NotEmpty(t, alternatives, "README.md:%d: no command in %q", n, spans[0][1])
		flags := map[string]string{}
		for _, group := range flagBracket.FindAllStringSubmatch(strings.Join(form, " "), -1) {
			for _, alt := range strings.Split(group[1], "\x00") {
				fields := strings.Fields(alt)
				if len(fields) == 0 || !strings.HasPrefix(fields[0], "-") {
					continue // an argument, not a flag
				}
				value := ""
				if len(fields) > 1 {
					value = fields[1]
				}
				flags[strings.TrimPrefix(fields[0], "-")] = value
			}
		}
		for _, s := range spans[1:] {
			if strings.HasPrefix(s[1], "-") {
				flags[strings.TrimPrefix(s[1], "-")] = ""
			}
		}
		// One row per combination of the alternatives (only one word has
		// them in practice).
		words := []string{""}
		for _, alts := range alternatives {
			var next []string
			for _, w := range words {
				for _, a := range alts {
					next = append(next, strings.TrimSpace(w+" "+a))
				}
			}
			words = next
		}
		for _, w := range words {
			rows = append(rows, commandTableRow{line: n, words: w, flags: flags})
		}
	}
	require.NoError(t, sc.Err())
	return rows
}

// readCommonFlags returns the flags of the README's paragraph that starts
// "Common flags": its code spans that start with "-".
func readCommonFlags(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(data), "\nCommon flags")
	require.True(t, ok, "README.md has no paragraph starting \"Common flags\"")
	paragraph, _, _ := strings.Cut(rest, "\n\n")
	var flags []string
	for _, m := range codeSpan.FindAllStringSubmatch(paragraph, -1) {
		if strings.HasPrefix(m[1], "-") {
			flags = append(flags, strings.TrimPrefix(m[1], "-"))
		}
	}
	return flags
}

// TestDocsCommandTable checks that every command of the README's table
// exists and takes the flags the table shows, and that every command with
// flags takes the common ones.
func TestDocsCommandTable(t *testing.T) {
	rows := readCommandTable(t)
	require.NotEmpty(t, rows, "no command table in README.md")
	common := readCommonFlags(t)
	require.Contains(t, common, "config", "no common flags in README.md")
	for _, row := range rows {
		t.Run(row.words, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			meta := command.Meta{Ui: &cli.BasicUi{Writer: &stdout, ErrorWriter: &stderr}, Stdout: &stdout, Stderr: &stderr}
			factory, ok := command.Commands(meta)[row.words]
			require.True(t, ok, "README.md:%d: the command table names `prox %s`, which does not exist", row.line, row.words)
			run := func(args ...string) string {
				stdout.Reset()
				stderr.Reset()
				cmd, err := factory()
				require.NoError(t, err)
				// The flags, then -h: flag parsing stops there, before the
				// command does anything.
				_ = cmd.Run(append(args, "-h"))
				return stderr.String()
			}
			for flag, value := range row.flags {
				if value == "" {
					value = "true"
				} else if strings.ToUpper(value) == value {
					value = "1" // a placeholder: FILE, N, TEXT
				}
				out := run("-" + flag + "=" + value)
				assert.True(t, strings.HasPrefix(out, "flag: help requested"),
					"README.md:%d: the command table shows `prox %s -%s`, which it does not take:\n%s", row.line, row.words, flag, out)
			}
			if !strings.HasPrefix(run(), "flag: help requested") {
				return // a command without flags (version)
			}
			for _, flag := range common {
				// "true" parses as a string and as a boolean.
				out := run("-" + flag + "=true")
				assert.True(t, strings.HasPrefix(out, "flag: help requested"),
					"README.md: `prox %s` does not take the common flag -%s:\n%s", row.words, flag, out)
			}
		})
	}
}

// A relative path in a file sink block is relative to the configuration
// file's folder, as docs/configuration.md and the sink's schema say, not to
// the folder prox is started from.
func TestUpFileSinkPathIsRelativeToTheConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(`
sink "file" "all" {
  path = "sink-output/{process}.log"
}

process "hello" {
  command = ["echo", "hello from the sink"]
  sinks   = ["file.all"]
}
`), 0o644))
	wd, err := os.Getwd()
	require.NoError(t, err)
	require.NotEqual(t, dir, wd)
	u := startUp(t, cfg) // from this test's folder, the repository's root
	require.Equal(t, 0, u.wait(t), "output:\n%s", u.output())
	data, err := os.ReadFile(filepath.Join(dir, "sink-output", "hello.log"))
	require.NoError(t, err, "the log file is not in the config file's folder")
	assert.Contains(t, string(data), "hello from the sink")
	assert.NoDirExists(t, filepath.Join(wd, "sink-output"), "the log file went to prox's working directory")
	requireNoneLeft(t, u.marker)
}

// The json payload of the webhook sink, as docs/configuration.md shows it
// (the block marked "output: webhook"): a real run of prox sends alerts
// with the same fields and, times aside, the same values.
func TestDocsWebhookPayload(t *testing.T) {
	t.Parallel()
	var doc []docFence
	for _, f := range readFences(t, "docs/configuration.md") {
		if f.marker == "output: webhook" {
			doc = append(doc, f)
		}
	}
	require.Len(t, doc, 1, "docs/configuration.md has no block marked \"output: webhook\"")
	var want struct {
		Alerts []map[string]any `json:"alerts"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.Join(doc[0].lines, "\n")), &want), doc[0].where())
	require.Len(t, want.Alerts, 2, "%s: an event alert and a match alert", doc[0].where())

	var mu sync.Mutex
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Alerts []map[string]any `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, body.Alerts...)
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, `
sink "webhook" "alerts" {
  url           = %q
  events        = ["crashed"]
  match         = "^panic:"
  context_lines = 2
}

process "web" {
  command = ["sh", "-c", "echo first line; echo last line but one; echo last line; exit 1"]
  sinks   = ["webhook.alerts"]
}

process "api" {
  command = ["sh", "-c", "echo 'panic: runtime error: index out of range'"]
  sinks   = ["webhook.alerts"]
}
`, srv.URL), 0o644))
	u := startUp(t, cfg)
	require.Equal(t, 1, u.wait(t), "web crashed; output:\n%s", u.output())
	requireNoneLeft(t, u.marker)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 2, "one alert per trigger: %v", got)
	for _, w := range want.Alerts {
		i := slices.IndexFunc(got, func(g map[string]any) bool { return g["trigger"] == w["trigger"] })
		require.GreaterOrEqual(t, i, 0, "no alert with trigger %v: %v", w["trigger"], got)
		g := got[i]
		// Times differ from run to run: both are RFC 3339.
		for _, alert := range []map[string]any{w, g} {
			for _, m := range []map[string]any{alert, asMap(alert["event"])} {
				if ts, ok := m["time"].(string); ok {
					_, err := time.Parse(time.RFC3339Nano, ts)
					assert.NoError(t, err, "time %q", ts)
					m["time"] = "TIME"
				}
			}
		}
		assert.Equal(t, w, g, "%s: the documented %v alert differs from the one prox sends", doc[0].where(), w["trigger"])
	}
}

// asMap returns v as a JSON object, or an empty one.
func asMap(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

// TestDocsReliabilityNamesRealTests checks docs/reliability.md against the
// tests: every test and fuzz target it names exists (a row that names a
// test that was renamed or removed shows nothing), and every fuzz target
// of the repository, each of which scripts/test.sh runs, is named there.
func TestDocsReliabilityNamesRealTests(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("docs", "reliability.md"))
	require.NoError(t, err)
	defined := map[string]string{} // test or fuzz target -> its file
	decl := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Za-z0-9_]*)\(`)
	err = filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllSubmatch(src, -1) {
			defined[string(m[1])] = path
		}
		return nil
	})
	require.NoError(t, err)

	named := map[string]bool{}
	ref := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]*)`")
	for i, line := range strings.Split(string(doc), "\n") {
		for _, m := range ref.FindAllStringSubmatch(line, -1) {
			named[m[1]] = true
			_, ok := defined[m[1]]
			assert.True(t, ok, "docs/reliability.md:%d names %s, which no _test.go file defines", i+1, m[1])
		}
	}
	for name, file := range defined {
		if strings.HasPrefix(name, "Fuzz") {
			assert.True(t, named[name], "%s is a fuzz target that scripts/test.sh runs (%s); docs/reliability.md does not name it", name, file)
		}
	}
}
