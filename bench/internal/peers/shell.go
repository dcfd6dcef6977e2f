package peers

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Shell is the baseline "supervisor": a POSIX shell script that starts
// every process in the background with its output redirected to a file,
// and waits. On SIGTERM it sends SIGTERM to the processes it started and,
// with a stop timeout, SIGKILL once that has passed; it knows nothing of
// their children. With Restart each process runs in a `while :` loop.
type Shell struct {
	// Pipe sends each process's output through `| cat > file` instead of
	// `> file`: the least a supervisor reading pipes must do (the pipe
	// floor).
	Pipe bool
}

// Name returns "baseline" or "baseline-pipe".
func (s Shell) Name() string {
	if s.Pipe {
		return "baseline-pipe"
	}
	return "baseline"
}

// Version names the shell.
func (s Shell) Version() string {
	v := "/bin/sh (dash " + debVersion("dash") + ")"
	if s.Pipe {
		v += " + cat (coreutils " + debVersion("coreutils") + ")"
	}
	return v
}

// Prepare writes run.sh.
func (s Shell) Prepare(dir string, spec *Spec) (*Setup, error) {
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	logs := filepath.Join(dir, LogDir)
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, fmt.Errorf("log folder: %w", err)
	}
	setup := &Setup{Config: filepath.Join(dir, "run.sh"), Logs: map[string]string{}}
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# Written by prox's bench: the shell baseline (" + s.Name() + ").\npids=\"\"\n")
	stop := `kill -TERM $pids 2>/dev/null; `
	if spec.StopTimeout > 0 {
		stop += "sleep " + strconv.FormatFloat(spec.StopTimeout.Seconds(), 'f', -1, 64) + "; kill -KILL $pids 2>/dev/null; "
	}
	fmt.Fprintf(&b, "trap '%swait; exit 0' TERM INT\n", stop)
	for _, p := range spec.Processes {
		log := filepath.Join(logs, p.Name+".log")
		setup.Logs[p.Name] = log
		cmd := shellQuote(p.Argv)
		if spec.Restart {
			cmd = "while :; do " + cmd + "; done"
		}
		if s.Pipe {
			fmt.Fprintf(&b, "%s 2>&1 | cat > %s &\n", cmd, shellWord(log))
		} else {
			fmt.Fprintf(&b, "%s > %s 2>&1 &\n", cmd, shellWord(log))
		}
		b.WriteString("pids=\"$pids $!\"\n")
	}
	b.WriteString("wait\n")
	if err := os.WriteFile(setup.Config, []byte(b.String()), 0o755); err != nil {
		return nil, fmt.Errorf("write script: %w", err)
	}
	setup.Argv = []string{"/bin/sh", setup.Config}
	return setup, nil
}

// shellQuote quotes argv for a POSIX shell.
func shellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellWord(a)
	}
	return strings.Join(q, " ")
}

func shellWord(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
