package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// runnerClient is the host side of the runner service: it implements Runner
// by calling the plugin.
type runnerClient struct {
	client proto.RunnerClient
}

var _ sdk.Runner = (*runnerClient)(nil)

func (c *runnerClient) Start(ctx context.Context, cfg *sdk.ProcessConfig) (sdk.Process, error) {
	req := &proto.StartRequest{Name: cfg.Name, Command: toBytes(cfg.Command), Env: toBytes(cfg.Env), Dir: []byte(cfg.Dir)}
	if cfg.Settings != nil {
		req.SettingsJson = cfg.Settings.Values
	}
	// Offer to read the output pipes directly (see OutputFiler); a plugin
	// that cannot, or does not know how, streams them.
	req.OutputHandover = handovers.offer()
	resp, err := c.client.Start(ctx, req)
	stdoutF, stderrF := handovers.take(req.OutputHandover)
	if err != nil {
		wire.CloseFiles(stdoutF, stderrF)
		// The cause alone: the host says what failed ("failed to start
		// \"web\": ...").
		return nil, fromGRPC("", err)
	}
	p := &processClient{
		client: c.client, handle: resp.Handle, pid: int(resp.Pid), pgid: int(resp.LocalPgid),
		cgroup: resp.LocalCgroup, containment: resp.Containment, waited: make(chan struct{}),
	}
	if resp.OutputHandedOver {
		if stdoutF == nil {
			// The plugin says it handed the pipes over, but they did not
			// arrive: without its output the process is of no use.
			_, _ = c.client.Signal(context.Background(), &proto.SignalRequest{Handle: resp.Handle, Signal: "SIGKILL"})
			return nil, errors.New("the plugin reported an output hand-over that did not arrive")
		}
		p.stdout = &pipeReader{f: stdoutF, end: p.outputEnd}
		p.stderr = &pipeReader{f: stderrF, end: p.outputEnd}
		p.cancelOutput = func() {}
		return p, nil
	}
	wire.CloseFiles(stdoutF, stderrF)
	outCtx, cancel := context.WithCancel(context.Background())
	p.cancelOutput = cancel
	stream, err := c.client.Output(outCtx, &proto.OutputRequest{Handle: resp.Handle})
	if err != nil {
		cancel()
		// An error means no process was left running: without its output
		// stream the process is of no use, so kill it (best effort).
		_, _ = c.client.Signal(context.Background(), &proto.SignalRequest{Handle: resp.Handle, Signal: "SIGKILL"})
		return nil, fromGRPC("output", err)
	}
	stdoutR, stdoutW := io.Pipe()
	stderrR, stderrW := io.Pipe()
	p.stdout, p.stderr = stdoutR, stderrR
	p.stdoutW, p.stderrW = stdoutW, stderrW
	go p.demux(stream, stdoutW, stderrW)
	return p, nil
}

// processClient is a Process whose calls go to the plugin.
type processClient struct {
	client       proto.RunnerClient
	handle       string
	pid          int
	pgid         int       // local process group, 0 if none
	cgroup       string    // local cgroup, "" if none
	containment  string    // as the runner reported it
	stdout       io.Reader // an io.Pipe fed by demux, or a handed-over pipe
	stderr       io.Reader
	cancelOutput context.CancelFunc
	// stdoutW and stderrW feed stdout and stderr when the output is
	// streamed (nil after a hand-over).
	stdoutW, stderrW *io.PipeWriter

	waitOnce    sync.Once
	waitStarted atomic.Bool
	waited      chan struct{}
	waitErr     error
	exited      bool // the plugin delivered the exit status
}

var _ sdk.Process = (*processClient)(nil)

// demux copies the output stream into the two pipes until the stream ends.
func (p *processClient) demux(stream proto.Runner_OutputClient, stdout, stderr *io.PipeWriter) {
	defer p.cancelOutput()
	for {
		chunk, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			} else {
				err = fromGRPC("output", err)
			}
			stdout.CloseWithError(err)
			stderr.CloseWithError(err)
			return
		}
		w := stdout
		if chunk.Stream == proto.Stream_STREAM_STDERR {
			w = stderr
		}
		if _, err := w.Write(chunk.Data); err != nil {
			// The reader closed its end: keep draining the other stream.
			continue
		}
	}
}

// outputEnd is called when a handed-over pipe reaches its end: the
// stream ends as a streamed one would, with ErrPluginUnavailable if the
// plugin died (its process died with it, closing the pipe), io.EOF
// otherwise. It waits for the process's exit status to know which.
func (p *processClient) outputEnd() error {
	if err := p.Wait(); errors.Is(err, sdk.ErrPluginUnavailable) {
		return fmt.Errorf("output: %w: the plugin died", sdk.ErrPluginUnavailable)
	}
	return nil
}

func (p *processClient) PID() int { return p.pid }

var _ sdk.LocalProcessGroup = (*processClient)(nil)

// LocalProcessGroup returns the process group on this machine that the
// runner reported for the process (StartResponse.local_pgid), 0 if none.
func (p *processClient) LocalProcessGroup() int { return p.pgid }

var _ sdk.LocalCgroup = (*processClient)(nil)

// LocalCgroup returns the cgroup on this machine that the runner reported
// for the process (StartResponse.local_cgroup), "" if none.
func (p *processClient) LocalCgroup() string { return p.cgroup }

var _ sdk.Containment = (*processClient)(nil)

// Containment returns the containment the runner reported; a plugin that
// reports none but a local process group (an older exec runner) has
// "process-group".
func (p *processClient) Containment() string {
	if p.containment == "" && p.pgid > 0 {
		return "process-group"
	}
	return p.containment
}

func (p *processClient) Wait() error {
	p.waitStarted.Store(true)
	p.waitOnce.Do(func() {
		defer close(p.waited)
		resp, err := p.client.Wait(context.Background(), &proto.WaitRequest{Handle: p.handle})
		if err != nil {
			p.waitErr = fromGRPC("wait", err)
			if errors.Is(p.waitErr, sdk.ErrPluginUnavailable) {
				// The plugin died: its child died with it (parent-death
				// signal), but not the rest of its process group, nor
				// what left the group.
				if p.pgid > 0 {
					_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
				}
				if p.cgroup != "" {
					removeLocalCgroup(p.cgroup)
				}
			}
			return
		}
		p.exited = true
		switch {
		case resp.Error != "":
			p.waitErr = errors.New(resp.Error)
		case resp.Signal != "" || resp.ExitCode != 0:
			p.waitErr = &sdk.ExitError{Code: int(resp.ExitCode), Signal: resp.Signal}
		}
	})
	<-p.waited
	return p.waitErr
}

func (p *processClient) Signal(sig os.Signal) error {
	name, err := sdk.SignalName(sig)
	if err != nil {
		return err
	}
	_, err = p.client.Signal(context.Background(), &proto.SignalRequest{Handle: p.handle, Signal: name})
	if status.Code(err) == codes.NotFound && p.waitStarted.Load() {
		// The runner forgets a handle only after the process was reaped,
		// its output ended and its exit status was delivered to Wait: the
		// process has exited, and signalling it is not an error.
		<-p.waited
		if p.exited {
			return nil
		}
	}
	return fromGRPC("signal", err)
}

func (p *processClient) Stdout() io.Reader { return p.stdout }
func (p *processClient) Stderr() io.Reader { return p.stderr }

var _ sdk.OutputCloser = (*processClient)(nil)

// CloseOutput implements OutputCloser. A handed-over pipe is closed; a
// streamed output ends its pipes with ErrOutputClosed first (so that the
// reader sees that, not the cancellation) and then cancels the Output
// call, which ends demux and tells the plugin to stop sending.
func (p *processClient) CloseOutput() {
	closed := fmt.Errorf("output: %w", sdk.ErrOutputClosed)
	for _, r := range []io.Reader{p.stdout, p.stderr} {
		if pr, ok := r.(*pipeReader); ok {
			pr.abandon()
		}
	}
	for _, w := range []*io.PipeWriter{p.stdoutW, p.stderrW} {
		if w != nil {
			_ = w.CloseWithError(closed)
		}
	}
	p.cancelOutput()
}

// toBytes converts strings to the protocol's bytes fields.
func toBytes(ss []string) [][]byte {
	if ss == nil {
		return nil
	}
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

var _ sdk.ProcessExecer = (*processClient)(nil)

// Exec runs command where the process runs, through the runner's Exec
// capability.
func (p *processClient) Exec(ctx context.Context, command []string) (sdk.ExecResult, error) {
	resp, err := p.client.Exec(ctx, &proto.ExecRequest{Handle: p.handle, Command: toBytes(command)})
	if err != nil {
		return sdk.ExecResult{}, fromGRPC("exec", err)
	}
	return sdk.ExecResult{ExitCode: int(resp.ExitCode), Output: resp.Output}, nil
}

var _ sdk.ProcessStatter = (*processClient)(nil)

// Stats reads the process's CPU time and memory through the runner's
// Stats capability: an error wrapping sdk.ErrUnimplemented when the
// runner's processes have none, sdk.ErrUnknownHandle once it has exited.
func (p *processClient) Stats(ctx context.Context) (sdk.ProcessStats, error) {
	resp, err := p.client.Stats(ctx, &proto.StatsRequest{Handle: p.handle})
	if err != nil {
		return sdk.ProcessStats{}, fromGRPC("stats", err)
	}
	return sdk.ProcessStats{
		CPU:         time.Duration(resp.CpuNanos),
		MemoryBytes: resp.MemoryBytes,
		Time:        time.Unix(0, resp.TimeUnixNano),
	}, nil
}
