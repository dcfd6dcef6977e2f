package peers

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Prox is prox up with a generated prox.hcl: every process on the exec
// runner (or spread over several exec runner instances), with
// `stop { timeout = ... }` (default 2s) and, for Restart,
// `restart { policy = "always" backoff = "0s" max_restarts = 1000000 }`.
type Prox struct {
	// Bin is the prox binary.
	Bin string
	// Sink captures each process's output through the file sink
	// (`sink "file" "bench" { path = ".../{process}.log" }` and
	// `sinks = ["file.bench"]`). Without it the output goes only to prox's
	// stdout, "name | line", which then is the capture file (a terminal
	// that falls behind skips lines, so it is no faithful capture).
	Sink bool
	// Quiet runs `prox up -quiet`: prox does not also print every line on
	// its stdout, which the other supervisors do not do either.
	Quiet bool
	// Scrape adds a `metrics` block on a free loopback port, and the
	// scenario scrapes it while prox runs (Setup.Scrape): the peer is then
	// "prox-scraped", to compare with "prox" in the same run.
	Scrape bool
}

// ScrapedName is the name of the Prox peer with Scrape.
const ScrapedName = "prox-scraped"

// DefaultStopTimeout is the stop timeout written when the spec sets none.
const DefaultStopTimeout = "2s"

// Name returns "prox", or ScrapedName with Scrape.
func (p Prox) Name() string {
	if p.Scrape {
		return ScrapedName
	}
	return "prox"
}

// Version returns the first line of `prox version`.
func (p Prox) Version() string {
	if v := output(p.Bin, "version"); v != "" {
		return v
	}
	return "prox (version unknown)"
}

// Prepare writes prox.hcl.
func (p Prox) Prepare(dir string, spec *Spec) (*Setup, error) {
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	logs := filepath.Join(dir, LogDir)
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, fmt.Errorf("log folder: %w", err)
	}
	setup := &Setup{Config: filepath.Join(dir, "prox.hcl"), Logs: map[string]string{}}
	sink := p.Sink && !spec.NoSink && spec.SinkPlugin == nil
	var b strings.Builder
	b.WriteString("# Written by prox's bench (" + p.Name() + ").\n")
	if sink {
		fmt.Fprintf(&b, "sink \"file\" \"bench\" {\n  path = %s\n}\n", hclString(filepath.Join(logs, "{process}.log")))
	}
	if sp := spec.SinkPlugin; sp != nil {
		fmt.Fprintf(&b, "plugin %s {\n  path = %s\n}\nsink %s \"bench\" {}\n", hclString(sp.Plugin), hclString(sp.Path), hclString(sp.Kind))
	}
	if p.Scrape {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("a port for metrics: %w", err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		fmt.Fprintf(&b, "metrics {\n  address = %s\n}\n", hclString(addr))
		setup.Scrape = "http://" + addr + "/metrics"
	}
	for i := 1; i < spec.Runners; i++ {
		fmt.Fprintf(&b, "runner \"exec\" \"r%d\" {}\n", i)
	}
	stop := DefaultStopTimeout
	if spec.StopTimeout > 0 {
		stop = strconv.FormatFloat(spec.StopTimeout.Seconds(), 'f', -1, 64) + "s"
	}
	for i, proc := range spec.Processes {
		fmt.Fprintf(&b, "\nprocess %s {\n  command = [", hclString(proc.Name))
		for j, a := range proc.Argv {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(hclString(a))
		}
		b.WriteString("]\n")
		if spec.Runners > 1 && i%spec.Runners != 0 {
			fmt.Fprintf(&b, "  runner  = \"exec.r%d\"\n", i%spec.Runners)
		}
		switch {
		case sink:
			b.WriteString("  sinks   = [\"file.bench\"]\n")
			setup.Logs[proc.Name] = filepath.Join(logs, proc.Name+".log")
		case spec.SinkPlugin != nil:
			fmt.Fprintf(&b, "  sinks   = [%s]\n", hclString(spec.SinkPlugin.Kind+".bench"))
			setup.Logs[proc.Name] = filepath.Join(dir, StdoutFile)
		default:
			setup.Logs[proc.Name] = filepath.Join(dir, StdoutFile)
		}
		fmt.Fprintf(&b, "  stop { timeout = %s }\n", hclString(stop))
		if spec.Restart {
			b.WriteString("  restart {\n    policy       = \"always\"\n    backoff      = \"0s\"\n    max_restarts = 1000000\n  }\n")
		}
		b.WriteString("}\n")
	}
	if err := os.WriteFile(setup.Config, []byte(b.String()), 0o644); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	setup.Argv = []string{p.Bin, "up", "-config", setup.Config, "-no-color"}
	if p.Quiet {
		setup.Argv = append(setup.Argv, "-quiet")
	}
	return setup, nil
}

// hclString quotes s as an HCL string literal, with no interpolation.
func hclString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\r':
			b.WriteString(`\r`)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		case (c == '$' || c == '%') && i+1 < len(s) && s[i+1] == '{':
			b.WriteByte(c) // "$${" is a literal "${"
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
