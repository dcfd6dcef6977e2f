// Package peers writes, for each supervisor the benchmark compares, the
// configuration that runs a scenario's processes, and says where each
// process's output lands: the shell baselines, supervisord and prox.
package peers

import (
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Files in a run's folder.
const (
	// StdoutFile and StderrFile receive the supervisor's own stdout and
	// stderr.
	StdoutFile = "stdout.log"
	StderrFile = "stderr.log"
	// LogDir holds the captured output of each process, LogDir/NAME.log,
	// for the supervisors that write one file per process.
	LogDir = "logs"
)

// Process is one process a scenario runs.
type Process struct {
	// Name is the process's name: letters, digits and '-'.
	Name string
	// Argv is its command line; Argv[0] is an absolute path.
	Argv []string
}

// Spec is what a scenario asks of a supervisor.
type Spec struct {
	Processes []Process
	// StopTimeout is how long a stop waits before SIGKILL; 0 leaves the
	// supervisor's default.
	StopTimeout time.Duration
	// Restart restarts every process whenever it exits, after the
	// smallest delay the supervisor allows.
	Restart bool
	// Runners, for prox, spreads the processes over this many runner
	// plugin instances, each its own plugin process; 0 or 1 puts them all
	// on the default exec runner. Other supervisors ignore it.
	Runners int
	// NoSink, for prox, leaves the sink out even when the peer has one:
	// for scenarios that do not read the output and count plugins.
	NoSink bool
	// SinkPlugin, for prox, sends every process's output to a sink of an
	// external plugin binary instead of the file sink (the output is then
	// not captured). Other supervisors ignore it.
	SinkPlugin *SinkPlugin
}

// SinkPlugin is an external plugin binary and the kind of the sink it
// serves. prox declares it as `plugin "PLUGIN" { path = "PATH" }` and
// `sink "KIND" "bench" {}`.
type SinkPlugin struct {
	// Plugin is the plugin's name, Path its binary.
	Plugin, Path string
	// Kind is the sink's kind, e.g. "noop".
	Kind string
}

// Setup is a prepared run.
type Setup struct {
	// Argv runs the supervisor in the foreground.
	Argv []string
	// Config is the file written, if any.
	Config string
	// Logs maps each process name to the file its output is captured in;
	// several processes may share one.
	Logs map[string]string
	// Scrape, when set, is a Prometheus /metrics URL the scenario GETs
	// every ScrapeEvery while the supervisor runs.
	Scrape string
}

// ScrapeEvery is how often Setup.Scrape is scraped: far more often than
// Prometheus's usual 15 s to 1 m, so that a cost would show.
const ScrapeEvery = 100 * time.Millisecond

// LogFiles returns the distinct files of Logs.
func (s *Setup) LogFiles() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range s.Logs {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// Peer is a supervisor under comparison.
type Peer interface {
	// Name names the peer in results, e.g. "supervisord-tuned".
	Name() string
	// Version describes the peer's software, best effort. It may run
	// commands: call it before any measured session.
	Version() string
	// Prepare writes the configuration for spec into dir (which exists)
	// and returns how to run it.
	Prepare(dir string, spec *Spec) (*Setup, error)
}

// validName reports whether a process name is safe in every config format.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func checkSpec(spec *Spec) error {
	if len(spec.Processes) == 0 {
		return fmt.Errorf("no processes")
	}
	seen := map[string]bool{}
	for _, p := range spec.Processes {
		if !validName(p.Name) {
			return fmt.Errorf("invalid process name %q", p.Name)
		}
		if seen[p.Name] {
			return fmt.Errorf("duplicate process name %q", p.Name)
		}
		seen[p.Name] = true
		if len(p.Argv) == 0 {
			return fmt.Errorf("process %q has no command", p.Name)
		}
	}
	return nil
}

// output runs a command and returns its first line of output, or "" if it
// fails.
func output(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// debVersion returns the installed version of a Debian package, or "?".
func debVersion(pkg string) string {
	if v := output("dpkg-query", "-W", "-f=${Version}", pkg); v != "" {
		return v
	}
	return "?"
}
