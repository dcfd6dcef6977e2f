package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// pipeRunner runs real commands whose output goes into pipes, as the exec
// runner does; its processes are OutputFilers unless noFiles is set.
type pipeRunner struct {
	noFiles bool
}

func (r *pipeRunner) Start(_ context.Context, cfg *sdk.ProcessConfig) (sdk.Process, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	_ = outW.Close()
	_ = errW.Close()
	if err != nil {
		_ = outR.Close()
		_ = errR.Close()
		return nil, err
	}
	p := &pipeProcess{cmd: cmd, stdout: outR, stderr: errR, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	p.noFiles = r.noFiles
	return p, nil
}

type pipeProcess struct {
	cmd            *exec.Cmd
	stdout, stderr *os.File
	noFiles        bool
	done           chan struct{}
	err            error
}

func (p *pipeProcess) PID() int          { return p.cmd.Process.Pid }
func (p *pipeProcess) Stdout() io.Reader { return p.stdout }
func (p *pipeProcess) Stderr() io.Reader { return p.stderr }

// Wait waits for the exit; the tests call it once the output was read,
// so it also closes the read ends (already closed after a hand-over).
func (p *pipeProcess) Wait() error {
	<-p.done
	_ = p.stdout.Close()
	_ = p.stderr.Close()
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return &sdk.ExitError{Code: ee.ExitCode()}
	}
	return p.err
}

func (p *pipeProcess) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

func (p *pipeProcess) OutputFiles() (stdout, stderr *os.File) {
	if p.noFiles {
		return nil, nil
	}
	return p.stdout, p.stderr
}

// runnerConn serves r as a plugin does (through serve) and returns the
// host's Runner and the connection.
func runnerConn(t *testing.T, r sdk.Runner) (sdk.Runner, *served) {
	t.Helper()
	s := connect(t, &sdk.ServeConfig{Name: "test", Version: "0.0.1", Runners: map[string]sdk.Runner{"pipes": r}})
	return s.Runner, s
}

// outputScript writes a large stdout and one stderr line.
var outputScript = []string{"sh", "-c", `i=0; while [ $i -lt 2000 ]; do echo "line $i of the output of a busy process, long enough"; i=$((i+1)); done; echo oops >&2`}

func wantOutput() string {
	var b strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&b, "line %d of the output of a busy process, long enough\n", i)
	}
	return b.String()
}

// readBoth reads a process's two streams to their ends.
func readBoth(t *testing.T, p sdk.Process) (stdout, stderr string) {
	t.Helper()
	out, errOut := readAllAsync(p.Stdout()), readAllAsync(p.Stderr())
	o, err := await(t, out, "stdout")
	require.NoError(t, err)
	e, err := await(t, errOut, "stderr")
	require.NoError(t, err)
	return string(o), string(e)
}

func requireLinux(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the output hand-over is implemented on Linux only")
	}
}

func TestOutputHandedOverToTheHost(t *testing.T) {
	requireLinux(t)
	runner, s := runnerConn(t, &pipeRunner{})
	p, err := runner.Start(context.Background(), &sdk.ProcessConfig{Name: "busy", Command: outputScript})
	require.NoError(t, err)

	pc := p.(*processClient)
	assert.IsType(t, &pipeReader{}, pc.stdout, "prox reads the pipe itself")
	assert.IsType(t, &pipeReader{}, pc.stderr)
	stdout, stderr := readBoth(t, p)
	assert.Equal(t, wantOutput(), stdout)
	assert.Equal(t, "oops\n", stderr)
	require.NoError(t, p.Wait())

	// Only Wait held the handle: it is released without an Output call.
	(&runnerHarness{served: s}).requireForgotten(t, p)
	handovers.mu.Lock()
	assert.Empty(t, handovers.pending, "every offer is ended")
	handovers.mu.Unlock()
}

func TestOutputOfAHandedOverProcessIsNotStreamed(t *testing.T) {
	requireLinux(t)
	_, s := runnerConn(t, &pipeRunner{})
	conn := s.rpc.Conn
	client := proto.NewRunnerClient(conn)
	offer := handovers.offer()
	resp, err := client.Start(context.Background(), &proto.StartRequest{Name: "p", Command: toBytes([]string{"sh", "-c", "echo hi"}), OutputHandover: offer})
	require.NoError(t, err)
	stdout, stderr := handovers.take(offer)
	require.True(t, resp.OutputHandedOver)
	require.NotNil(t, stdout)
	defer wire.CloseFiles(stdout, stderr)

	stream, err := client.Output(context.Background(), &proto.OutputRequest{Handle: resp.Handle})
	require.NoError(t, err)
	_, err = stream.Recv()
	assert.Equal(t, codes.FailedPrecondition, status.Code(err))
	got, err := io.ReadAll(&pipeReader{f: stdout})
	require.NoError(t, err)
	assert.Equal(t, "hi\n", string(got))
}

func TestOutputStreamedWhenTheProcessHasNoFiles(t *testing.T) {
	runner, _ := runnerConn(t, &pipeRunner{noFiles: true})
	p, err := runner.Start(context.Background(), &sdk.ProcessConfig{Name: "busy", Command: outputScript})
	require.NoError(t, err)
	assert.IsType(t, &io.PipeReader{}, p.(*processClient).stdout, "streamed through Output")
	stdout, stderr := readBoth(t, p)
	assert.Equal(t, wantOutput(), stdout)
	assert.Equal(t, "oops\n", stderr)
	require.NoError(t, p.Wait())
}

func TestHandoverUnavailableSocket(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer wire.CloseFiles(r, w)
	err = wire.HandOver(context.Background(), &proto.OutputHandover{Socket: "@prox-test-nobody-listens", Token: []byte("x")}, r, w)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "output hand-over")
}

// lyingRunnerClient says the output was handed over without sending it.
type lyingRunnerClient struct {
	failingOutputClient
}

func (c *lyingRunnerClient) Start(context.Context, *proto.StartRequest, ...grpc.CallOption) (*proto.StartResponse, error) {
	return &proto.StartResponse{Handle: "p-1", Pid: 7, OutputHandedOver: true}, nil
}

func TestHandoverThatDidNotArriveFailsTheStart(t *testing.T) {
	fc := &lyingRunnerClient{}
	_, err := (&runnerClient{client: fc}).Start(context.Background(), &sdk.ProcessConfig{Name: "p"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not arrive")
	require.Len(t, fc.signals, 1, "the process is killed: nobody can read its output")
	assert.Equal(t, "SIGKILL", fc.signals[0].Signal)
}
