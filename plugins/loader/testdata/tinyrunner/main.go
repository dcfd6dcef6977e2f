// Command tinyrunner is an external prox plugin used by the loader's tests.
// One binary serves two components: the runner "tiny", which runs its
// command as a local child through os/exec, and the sink "mem", which keeps
// what it is written in memory and writes it to a file on Flush.
//
// Whenever it runs (describe included), it appends a line to the file named
// by $PROX_TINY_MARKER, so that a test can tell whether it was executed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"

	"github.com/prox-dev/prox/sdk"
)

func main() {
	if path := os.Getenv("PROX_TINY_MARKER"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "ran %s\n", strings.Join(os.Args[1:], " "))
			f.Close()
		}
	}
	sdk.Serve(&sdk.ServeConfig{
		Name:    "tiny",
		Version: "0.0.1",
		Runners: map[string]sdk.Runner{"tiny": &runner{}},
		Sinks:   map[string]sdk.Sink{"mem": &memSink{}},
	})
}

// runner starts its processes with os/exec, each in its own process group.
type runner struct{}

var _ sdk.Configurable = (*runner)(nil)

func (r *runner) ConfigSchema() *sdk.Schema {
	return &sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "greeting", Type: sdk.TypeString, Description: "unused"},
	}}
}

func (r *runner) Configure(*sdk.Config) error { return nil }

func (r *runner) Start(_ context.Context, cfg *sdk.ProcessConfig) (sdk.Process, error) {
	if len(cfg.Command) == 0 {
		return nil, errors.New("command is required")
	}
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Env = cfg.Env
	cmd.Dir = cfg.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}
	return &process{cmd: cmd, stdout: outR, stderr: errR}, nil
}

type process struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File
	once           sync.Once
	err            error
}

func (p *process) PID() int { return p.cmd.Process.Pid }

func (p *process) Wait() error {
	p.once.Do(func() {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			ws := ee.Sys().(syscall.WaitStatus)
			if ws.Signaled() {
				name, _ := sdk.SignalName(ws.Signal())
				err = &sdk.ExitError{Code: -1, Signal: name}
			} else {
				err = &sdk.ExitError{Code: ws.ExitStatus()}
			}
		}
		p.err = err
	})
	return p.err
}

func (p *process) Signal(sig os.Signal) error {
	err := syscall.Kill(-p.cmd.Process.Pid, sig.(syscall.Signal))
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

func (p *process) Stdout() io.Reader { return p.stdout }
func (p *process) Stderr() io.Reader { return p.stderr }

// memSink keeps the lines it is written; Flush writes them, one per line,
// to the configured path.
type memSink struct {
	mu    sync.Mutex
	path  string
	lines []string
}

var _ sdk.Configurable = (*memSink)(nil)

func (s *memSink) ConfigSchema() *sdk.Schema {
	return &sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "path", Type: sdk.TypeString, Required: true, Description: "where Flush writes the lines"},
	}}
}

func (s *memSink) Configure(cfg *sdk.Config) error {
	var v struct {
		Path string `json:"path"`
	}
	if err := cfg.Decode(&v); err != nil {
		return err
	}
	s.mu.Lock()
	s.path = v.Path
	s.mu.Unlock()
	return nil
}

func (s *memSink) Write(_ context.Context, b *sdk.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range b.Entries {
		s.lines = append(s.lines, fmt.Sprintf("%s %s %s", e.Process, e.Stream, e.Line))
	}
	return nil
}

func (s *memSink) Flush(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.path == "" {
		return errors.New("not configured")
	}
	var sb strings.Builder
	for _, l := range s.lines {
		sb.WriteString(l + "\n")
	}
	return os.WriteFile(s.path, []byte(sb.String()), 0o644)
}

func (s *memSink) Close(context.Context) error { return nil }
