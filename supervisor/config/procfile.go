package config

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// ProcfileEntry is one `name: command` line of a Procfile.
type ProcfileEntry struct {
	Name    string
	Command string
	// Line is the entry's line number, from 1.
	Line int
}

// ProcfilePortBase and ProcfilePortStep are foreman's PORT assignment:
// the first process gets 5000, the next 5100, and so on.
const (
	ProcfilePortBase = 5000
	ProcfilePortStep = 100
)

// procfileLine splits a line at its first colon; the name is checked
// against the rule of every process name.
var procfileLine = regexp.MustCompile(`^([^:]*):\s?(.*)$`)

// ParseProcfile reads a Procfile as foreman does: `name: command` lines;
// blank lines and lines starting with # are skipped. filename names the
// file in diagnostics; a line without a colon, a bad name or an empty
// command is an error at its line.
func ParseProcfile(r io.Reader, filename string) ([]ProcfileEntry, hcl.Diagnostics) {
	var entries []ProcfileEntry
	var diags hcl.Diagnostics
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rng := hcl.Range{Filename: filename, Start: hcl.Pos{Line: n, Column: 1, Byte: -1}, End: hcl.Pos{Line: n, Column: len(raw) + 1, Byte: -1}}
		m := procfileLine.FindStringSubmatch(line)
		switch {
		case !strings.Contains(line, ":"):
			diags = append(diags, errorAt(rng, "Invalid Procfile line",
				fmt.Sprintf("Line %d has no colon: a Procfile line is \"name: command\".", n)))
			continue
		case m == nil || !validProcessName(m[1]):
			name := line
			if m != nil {
				name = m[1]
			}
			diags = append(diags, errorAt(rng, "Invalid process name", fmt.Sprintf("Line %d: %s", n, processNameDetail(name))))
			continue
		case strings.TrimSpace(m[2]) == "":
			diags = append(diags, errorAt(rng, "Invalid Procfile line", fmt.Sprintf("Line %d: process %q has no command.", n, m[1])))
			continue
		}
		if first, ok := seen[m[1]]; ok {
			diags = append(diags, errorAt(rng, "Duplicate process", fmt.Sprintf("Process %q is already declared on line %d.", m[1], first)))
			continue
		}
		seen[m[1]] = n
		entries = append(entries, ProcfileEntry{Name: m[1], Command: strings.TrimSpace(m[2]), Line: n})
	}
	if err := sc.Err(); err != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read the Procfile", Detail: err.Error()})
	}
	return entries, diags
}

// ProcfileHCL writes the prox.hcl equivalent of a Procfile, with
// comments: each command runs through `sh -c`, PORT is assigned as foreman
// does, and, when hasDotenv is set, a comment says that the .env beside it
// is read. No process names .env in env_file: prox reads .env by itself,
// and an env_file would put it above the file of -env-file.
func ProcfileHCL(entries []ProcfileEntry, hasDotenv bool) []byte {
	return procfileHCL(entries, hasDotenv, nil)
}

// procfileHCL is ProcfileHCL with the count of each entry (nil: one of
// each): an entry of count 0 is left out, and one of more runs that many
// replicas, PORT going up by one per instance, as foreman's formation.
func procfileHCL(entries []ProcfileEntry, hasDotenv bool, counts []int) []byte {
	var b bytes.Buffer
	b.WriteString("# Converted from a Procfile: each command runs through `sh -c` as foreman\n")
	b.WriteString("# runs it, and PORT is assigned from 5000 in steps of 100, as foreman does.\n")
	if hasDotenv {
		b.WriteString("# The .env beside this file is read into every process's environment\n")
		b.WriteString("# (prox -env-file FILE reads another; dotenv = false turns it off).\n")
	}
	b.WriteString("# See docs/configuration.md for restart policies, health checks and more.\n")
	for i, e := range entries {
		count := 1
		if counts != nil {
			count = counts[i]
		}
		if count == 0 {
			continue
		}
		port := ProcfilePortBase + i*ProcfilePortStep
		fmt.Fprintf(&b, "\nprocess %s {\n", hclString(e.Name))
		fmt.Fprintf(&b, "  command = [\"sh\", \"-c\", %s]\n", hclString(e.Command))
		if count > 1 {
			fmt.Fprintf(&b, "  replicas = %d\n", count)
			fmt.Fprintf(&b, "  env     = { PORT = %d + replica }\n", port)
		} else {
			fmt.Fprintf(&b, "  env     = { PORT = \"%d\" }\n", port)
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

// hclString quotes s as an HCL string literal whose value is s: HCL's own
// escapes (\", \\, \n, \r, \t, \uNNNN for the other control
// characters; strconv's \x1b or \a are not HCL), and template sequences
// (${ and %{) doubled so the command reaches the shell as written. A byte
// that is not UTF-8 cannot be written in HCL and becomes U+FFFD.
func hclString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError || unicode.IsControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		case (r == '$' || r == '%') && strings.HasPrefix(s[i+1:], "{"):
			b.WriteRune(r) // "$${" is a literal "${"
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// LoadProcfile reads the Procfile at path and returns the configuration a
// foreman user expects: PORT per process, and .env beside the Procfile
// loaded when present; with opts.Formation (LoadProcfileWith), as many
// instances of each process as it says, PORT going up by one per instance. Problems are diagnostics at their Procfile line.
func LoadProcfile(path string) (*Config, hcl.Diagnostics) {
	return LoadProcfileWith(path, LoadOptions{})
}

// LoadProcfileWith is LoadProcfile with options.
func LoadProcfileWith(path string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	f, err := os.Open(path)
	if err != nil {
		return newConfig(path), hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read the Procfile", Detail: err.Error()}}
	}
	defer f.Close()
	entries, diags := ParseProcfile(f, path)
	if diags.HasErrors() {
		return newConfig(path), diags
	}
	var counts []int
	if !opts.Formation.IsZero() {
		var d hcl.Diagnostics
		if counts, d = procfileCounts(entries, opts.Formation, path); d.HasErrors() {
			return newConfig(path), append(diags, d...)
		}
	}
	_, err = os.Stat(filepath.Join(filepath.Dir(path), ".env"))
	src := procfileHCL(entries, err == nil, counts)
	cfg, d := ParseWith(src, path+" (converted)", opts)
	return cfg, append(diags, d...)
}
