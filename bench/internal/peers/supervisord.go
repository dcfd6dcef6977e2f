package peers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// SupervisordBinary is where Debian's supervisor package installs
// supervisord.
const SupervisordBinary = "/usr/bin/supervisord"

// Supervisord is supervisord (Debian package supervisor) in the
// foreground with a private configuration: one program per process, its
// stdout and stderr in one log file without rotation, startsecs=0 (so that
// a process that exits at once is not a failed start).
type Supervisord struct {
	// Bin is the supervisord binary; default SupervisordBinary.
	Bin string
	// Tuned sets stopasgroup and killasgroup and puts every program in one
	// group, which supervisord stops at once rather than group by group.
	Tuned bool
}

// SupervisordInstalled reports whether supervisord is installed.
func SupervisordInstalled() bool {
	_, err := exec.LookPath(SupervisordBinary)
	return err == nil
}

func (s Supervisord) bin() string {
	if s.Bin != "" {
		return s.Bin
	}
	return SupervisordBinary
}

// Name returns "supervisord" or "supervisord-tuned".
func (s Supervisord) Name() string {
	if s.Tuned {
		return "supervisord-tuned"
	}
	return "supervisord"
}

// Version reports supervisord's version and the Debian package's.
func (s Supervisord) Version() string {
	return "supervisord " + output(s.bin(), "--version") + " (Debian supervisor " + debVersion("supervisor") + ")"
}

// Prepare writes supervisord.conf.
func (s Supervisord) Prepare(dir string, spec *Spec) (*Setup, error) {
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	logs := filepath.Join(dir, LogDir)
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, fmt.Errorf("log folder: %w", err)
	}
	setup := &Setup{Config: filepath.Join(dir, "supervisord.conf"), Logs: map[string]string{}}
	var b strings.Builder
	fmt.Fprintf(&b, "; Written by prox's bench (%s).\n[supervisord]\nnodaemon=true\nlogfile=%s\npidfile=%s\nchildlogdir=%s\n",
		s.Name(), filepath.Join(dir, "supervisord.log"), filepath.Join(dir, "supervisord.pid"), dir)
	var names []string
	for _, p := range spec.Processes {
		log := filepath.Join(logs, p.Name+".log")
		setup.Logs[p.Name] = log
		names = append(names, p.Name)
		fmt.Fprintf(&b, "\n[program:%s]\ncommand=%s\nautostart=true\nstartsecs=0\n", p.Name, supervisordCommand(p.Argv))
		if spec.Restart {
			b.WriteString("autorestart=true\nstartretries=1000000\n")
		} else {
			b.WriteString("autorestart=false\n")
		}
		if spec.StopTimeout > 0 {
			secs := int(spec.StopTimeout.Seconds() + 0.999)
			fmt.Fprintf(&b, "stopwaitsecs=%d\n", secs)
		}
		if s.Tuned {
			b.WriteString("stopasgroup=true\nkillasgroup=true\n")
		}
		fmt.Fprintf(&b, "redirect_stderr=true\nstdout_logfile=%s\nstdout_logfile_maxbytes=0\nstdout_logfile_backups=0\n", log)
	}
	if s.Tuned {
		fmt.Fprintf(&b, "\n[group:all]\nprograms=%s\n", strings.Join(names, ","))
	}
	if err := os.WriteFile(setup.Config, []byte(b.String()), 0o644); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	setup.Argv = []string{s.bin(), "-n", "-c", setup.Config}
	return setup, nil
}

// supervisordCommand quotes argv for supervisord, which expands
// %(name)s and then splits the command like a POSIX shell (Python's shlex).
func supervisordCommand(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		a = strings.ReplaceAll(a, "%", "%%")
		if a != "" && strings.IndexFunc(a, func(r rune) bool { return !isPlain(r) }) < 0 {
			q[i] = a
			continue
		}
		q[i] = shellWord(a)
	}
	return strings.Join(q, " ")
}

func isPlain(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-=:,+@", r)
}
