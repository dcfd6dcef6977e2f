package config

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/prox-dev/prox/supervisor/policy"
)

// FuzzParse parses arbitrary bytes as prox.hcl and checks what Parse
// promises: it never panics; every error is a diagnostic naming the file
// and a range inside the input, whose lines agree with its byte offsets,
// and the diagnostics render; a file without errors holds
// a configuration that passes the checks of validation (names unique and
// valid, references and dependencies that exist, no cycle, settings in
// their ranges).
func FuzzParse(f *testing.F) {
	f.Add([]byte(fullConfig))
	f.Add([]byte(""))
	for _, c := range loadErrorCases {
		f.Add([]byte(c.src))
	}
	f.Add([]byte(`
process "db" {
  command = ["db"]
  health {
    interval = "1s"
    http {
      url    = "http://127.0.0.1:5432/ready"
      status = 204
    }
  }
}

process "api" {
  command    = ["api"]
  depends_on = ["cache"]
  depends_on "db" {
    condition = "healthy"
  }
  restart {
    policy = "always"
  }
}

process "cache" {
  command = ["cache"]
  health {
    log {
      match = "ready"
    }
  }
}
`))
	// The files of the repository: testdata/invalid, the examples.
	seeds, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.hcl"))
	more, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*", "prox.hcl"))
	seeds = append(append(seeds, more...), filepath.Join("..", "..", "prox.hcl"))
	for _, name := range seeds {
		if src, err := os.ReadFile(name); err == nil {
			f.Add(src)
		}
	}

	f.Fuzz(func(t *testing.T, src []byte) {
		const filename = "prox.hcl"
		cfg, diags := Parse(src, filename)
		if cfg == nil {
			t.Fatal("no Config")
		}
		for _, d := range diags {
			if d.Severity != hcl.DiagError && d.Severity != hcl.DiagWarning {
				t.Fatalf("diagnostic %q of severity %v", d.Summary, d.Severity)
			}
			if d.Summary == "" {
				t.Fatalf("diagnostic without a summary: %#v", d)
			}
			if d.Subject == nil {
				t.Fatalf("diagnostic %q (%s) names no place in the file", d.Summary, d.Detail)
			}
			checkRange(t, d.Summary, *d.Subject, src, filename)
			if d.Context != nil {
				checkRange(t, d.Summary+" (context)", *d.Context, src, filename)
			}
		}
		if err := WriteDiagnostics(io.Discard, cfg.Files, diags, 80, false); err != nil {
			t.Fatalf("render the diagnostics: %v", err)
		}
		if !diags.HasErrors() {
			checkValid(t, cfg)
		}
	})
}

// checkRange checks that rng names filename and lies inside src, and that
// its lines and columns are those of its byte offsets.
func checkRange(t *testing.T, what string, rng hcl.Range, src []byte, filename string) {
	t.Helper()
	if rng.Filename != filename {
		t.Fatalf("%s: names file %q, not %q", what, rng.Filename, filename)
	}
	if rng.Start.Byte < 0 || rng.Start.Byte > rng.End.Byte || rng.End.Byte > len(src) {
		t.Fatalf("%s: bytes %d to %d, not inside the %d bytes of input", what, rng.Start.Byte, rng.End.Byte, len(src))
	}
	for _, p := range []hcl.Pos{rng.Start, rng.End} {
		before := src[:p.Byte]
		if !utf8.Valid(before) {
			// hclsyntax's scanner takes a byte that is not UTF-8 outside
			// a comment with the bytes after it, a newline too, and then
			// counts a line less from there on ("\xeb\n0"): a quirk of
			// HCL's, in a file that is in error anyway (such a byte is
			// an error), where positions up to that byte are right.
			continue
		}
		line := 1 + bytes.Count(before, []byte("\n"))
		if p.Line != line {
			t.Fatalf("%s: line %d at byte %d, which is on line %d", what, p.Line, p.Byte, line)
		}
		if p.Column < 1 {
			t.Fatalf("%s: column %d at byte %d", what, p.Column, p.Byte)
		}
	}
}

var canonicalSignalRe = regexp.MustCompile(`^SIG[A-Z0-9+-]+$`)

// checkValid checks the invariants of a configuration loaded without
// errors.
func checkValid(t *testing.T, cfg *Config) {
	t.Helper()
	if !filepath.IsAbs(cfg.Path) || cfg.Dir != filepath.Dir(cfg.Path) {
		t.Fatalf("path %q, folder %q", cfg.Path, cfg.Dir)
	}
	procs := map[string]*Process{}
	for _, p := range cfg.Processes {
		if !processNameRe.MatchString(p.Name) {
			t.Fatalf("process name %q", p.Name)
		}
		if procs[p.Name] != nil {
			t.Fatalf("two processes named %q", p.Name)
		}
		procs[p.Name] = p
	}
	blocks := map[string]bool{}
	for _, b := range append(append([]*PluginBlock(nil), cfg.Runners...), cfg.Sinks...) {
		if !identRe.MatchString(b.Kind) || !identRe.MatchString(b.Name) {
			t.Fatalf("plugin block %q %q", b.Kind, b.Name)
		}
	}
	for _, set := range [][]*PluginBlock{cfg.Runners, cfg.Sinks} {
		clear(blocks)
		for _, b := range set {
			if blocks[b.Ref().String()] {
				t.Fatalf("two blocks %q %q", b.Kind, b.Name)
			}
			blocks[b.Ref().String()] = true
		}
	}
	plugins := map[string]bool{}
	for _, p := range cfg.Plugins {
		if !identRe.MatchString(p.Name) || plugins[p.Name] {
			t.Fatalf("plugin %q: invalid or declared twice", p.Name)
		}
		plugins[p.Name] = true
		if !filepath.IsAbs(p.Path) || (p.SHA256 != "" && !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(p.SHA256)) {
			t.Fatalf("plugin %q: path %q, sha256 %q", p.Name, p.Path, p.SHA256)
		}
	}
	for _, p := range cfg.Processes {
		checkProcess(t, cfg, p)
	}
	// Dependencies exist, once each, and form no cycle.
	state := map[string]int{} // 1 on the path, 2 done
	var visit func(name string, path []string)
	visit = func(name string, path []string) {
		state[name] = 1
		for _, d := range procs[name].DependsOn {
			switch state[d.Name] {
			case 0:
				visit(d.Name, append(path, d.Name))
			case 1:
				t.Fatalf("dependency cycle: %v -> %s", path, d.Name)
			}
		}
		state[name] = 2
	}
	for _, p := range cfg.Processes {
		if state[p.Name] == 0 {
			visit(p.Name, []string{p.Name})
		}
	}
}

// checkProcess checks one process of a configuration loaded without
// errors.
func checkProcess(t *testing.T, cfg *Config, p *Process) {
	t.Helper()
	if p.Command != nil && len(p.Command) == 0 {
		t.Fatalf("process %q: an empty command", p.Name)
	}
	for k := range p.Env {
		if k == "" || bytes.ContainsAny([]byte(k), "=\x00") {
			t.Fatalf("process %q: env name %q", p.Name, k)
		}
	}
	if !filepath.IsAbs(p.Dir) || (p.EnvFile != "" && !filepath.IsAbs(p.EnvFile)) {
		t.Fatalf("process %q: dir %q, env_file %q", p.Name, p.Dir, p.EnvFile)
	}
	if _, err := ParseRef(p.Runner.String()); err != nil || (p.Runner.Name != "" && cfg.Runner(p.Runner) == nil) {
		t.Fatalf("process %q: runner %q (%v)", p.Name, p.Runner, err)
	}
	if len(p.Sinks) != len(p.SinkRanges) {
		t.Fatalf("process %q: %d sinks, %d ranges", p.Name, len(p.Sinks), len(p.SinkRanges))
	}
	for _, s := range p.Sinks {
		if s.Name == "" || cfg.Sink(s) == nil {
			t.Fatalf("process %q: sink %q has no block", p.Name, s)
		}
	}
	if !canonicalSignalRe.MatchString(p.Stop.Signal) || p.Stop.Timeout <= 0 {
		t.Fatalf("process %q: stop %+v", p.Name, p.Stop)
	}
	if _, err := SignalNumber(p.Stop.Signal); err != nil {
		t.Fatalf("process %q: stop signal: %v", p.Name, err)
	}
	r := p.Restart
	if checkPolicy(r.Policy) != nil || r.Backoff < 0 || r.MaxBackoff <= 0 || r.MaxBackoff < r.Backoff ||
		r.ResetAfter <= 0 || r.Window <= 0 || r.MaxRestarts < 0 {
		t.Fatalf("process %q: restart %+v", p.Name, r)
	}
	for _, c := range r.SuccessCodes {
		if c < 0 || c > 255 {
			t.Fatalf("process %q: success code %d", p.Name, c)
		}
	}
	if p.LogLines < 1 {
		t.Fatalf("process %q: log_lines %d", p.Name, p.LogLines)
	}
	if h := p.Health; h != nil {
		checks := 0
		for _, set := range []bool{h.HTTP != nil, h.TCP != nil, h.Exec != nil, h.Log != nil} {
			if set {
				checks++
			}
		}
		if checks != 1 || h.Interval <= 0 || h.Timeout <= 0 || h.InitialDelay < 0 ||
			h.SuccessThreshold < 1 || h.FailureThreshold < 1 ||
			(h.OnUnhealthy != OnUnhealthyIgnore && h.OnUnhealthy != OnUnhealthyRestart) {
			t.Fatalf("process %q: health %+v", p.Name, h)
		}
		switch {
		case h.HTTP != nil && (h.Check != "http" || h.HTTP.URL == "" || h.HTTP.Status < 100 || h.HTTP.Status > 599),
			h.TCP != nil && (h.Check != "tcp" || h.TCP.Address == ""),
			h.Exec != nil && (h.Check != "exec" || len(h.Exec.Command) == 0),
			h.Log != nil && h.Check != "log":
			t.Fatalf("process %q: %s check %+v", p.Name, h.Check, h)
		}
		if h.Log != nil {
			if _, err := regexp.Compile(h.Log.Match); err != nil {
				t.Fatalf("process %q: log check: %v", p.Name, err)
			}
		}
	}
	seen := map[string]bool{}
	for _, d := range p.DependsOn {
		target := cfg.Process(d.Name)
		switch {
		case d.Name == p.Name, target == nil, seen[d.Name]:
			t.Fatalf("process %q: dependency %q: itself, unknown or twice", p.Name, d.Name)
		case d.Condition != policy.ConditionStarted && d.Condition != policy.ConditionHealthy &&
			d.Condition != policy.ConditionCompleted && d.Condition != policy.ConditionCompletedSuccessfully:
			t.Fatalf("process %q: dependency %q: condition %q", p.Name, d.Name, d.Condition)
		case d.Condition == policy.ConditionHealthy && target.Health == nil:
			t.Fatalf("process %q waits for %q to be healthy, which has no health check", p.Name, d.Name)
		}
		seen[d.Name] = true
	}
}
