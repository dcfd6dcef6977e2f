package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"syscall"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk/proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// outputChunkSize is the read size for process output: one read becomes at
// most one message, so a busy process's lines travel many per message.
const outputChunkSize = 256 << 10

// runnerServer is the plugin side of the runner service: it wraps the
// author's Runner and keeps a handle per started process.
type runnerServer struct {
	proto.UnimplementedRunnerServer
	impl Runner
	// base, when set, tells the API version negotiated in Configure.
	base *baseServer

	mu      sync.Mutex
	next    uint64
	handles map[string]*serverProcess
}

// serverProcess is a started process and its single Wait result.
type serverProcess struct {
	proc   Process
	handle string
	refs   int // Output and the first delivered Wait each hold one
	// handedOver: the host holds the output pipes and calls no Output.
	handedOver bool
	released   sync.Once
	waitOnce   sync.Once
	done       chan struct{}
	err        error
}

// exited returns a channel closed once the process's single Wait result
// is in sp.err; the first call starts the one goroutine that waits.
func (sp *serverProcess) exited() <-chan struct{} {
	sp.waitOnce.Do(func() {
		go func() {
			sp.err = sp.proc.Wait()
			close(sp.done)
		}()
	})
	return sp.done
}

func newRunnerServer(impl Runner) *runnerServer {
	return &runnerServer{impl: impl, handles: make(map[string]*serverProcess)}
}

func (s *runnerServer) get(handle string) (*serverProcess, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.handles[handle]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no process with handle %q", handle)
	}
	return sp, nil
}

// release drops one reference to sp; the handle is forgotten once both the
// output stream has ended and the exit status was delivered.
func (s *runnerServer) release(sp *serverProcess) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp.refs--
	if sp.refs == 0 {
		delete(s.handles, sp.handle)
	}
}

func (s *runnerServer) Start(ctx context.Context, req *proto.StartRequest) (*proto.StartResponse, error) {
	cfg := &ProcessConfig{Name: req.Name, Command: fromBytes(req.Command), Env: fromBytes(req.Env), Dir: string(req.Dir)}
	settings := json.RawMessage(req.SettingsJson)
	if pc, ok := s.impl.(ProcessConfigurable); ok {
		var err error
		if settings, err = pc.ProcessSchema().ApplyDefaults(settings); err != nil {
			return nil, status.Error(codes.Unknown, fmt.Sprintf("the plugin's process schema: %v", err))
		}
	}
	if len(settings) > 0 {
		cfg.Settings = &Config{Values: settings}
		if s.base != nil {
			cfg.Settings.APIVersion = int(s.base.apiVersion.Load())
		}
	}
	p, err := s.impl.Start(ctx, cfg)
	if err != nil {
		return nil, callError(err)
	}
	if p == nil {
		return nil, status.Error(codes.Internal, "runner returned neither a process nor an error")
	}
	handedOver := req.OutputHandover != nil && s.handOver(ctx, req.OutputHandover, p)
	sp := &serverProcess{proc: p, refs: 2, handedOver: handedOver, done: make(chan struct{})}
	if handedOver {
		sp.refs = 1 // the host will not call Output
	}
	s.mu.Lock()
	s.next++
	sp.handle = req.Name + "-" + strconv.FormatUint(s.next, 10)
	s.handles[sp.handle] = sp
	s.mu.Unlock()
	resp := &proto.StartResponse{Handle: sp.handle, Pid: int64(p.PID()), OutputHandedOver: handedOver}
	if lg, ok := p.(LocalProcessGroup); ok {
		resp.LocalPgid = int64(lg.LocalProcessGroup())
	}
	if lc, ok := p.(LocalCgroup); ok {
		resp.LocalCgroup = wire.ValidUTF8(lc.LocalCgroup())
	}
	if c, ok := p.(Containment); ok {
		resp.Containment = wire.ValidUTF8(c.Containment())
	}
	return resp, nil
}

// handOver hands p's output pipes to the host when p has them (see
// OutputFiler) and reports whether it did; on failure p's output is
// streamed as usual.
func (s *runnerServer) handOver(ctx context.Context, offer *proto.OutputHandover, p Process) bool {
	of, ok := p.(OutputFiler)
	if !ok {
		return false
	}
	stdout, stderr := of.OutputFiles()
	if stdout == nil || stderr == nil {
		return false
	}
	if err := wire.HandOver(ctx, offer, stdout, stderr); err != nil {
		return false
	}
	// The host holds its copies: the pipes end when the process's group
	// has closed its write ends and the host has read everything.
	wire.CloseFiles(stdout, stderr)
	return true
}

func (s *runnerServer) Output(req *proto.OutputRequest, stream proto.Runner_OutputServer) error {
	sp, err := s.get(req.Handle)
	if err != nil {
		return err
	}
	if sp.handedOver {
		return status.Errorf(codes.FailedPrecondition, "the output of %q was handed over to the host", req.Handle)
	}
	defer s.release(sp)
	chunks := make(chan *proto.OutputChunk, 4)
	var wg sync.WaitGroup
	read := func(r io.Reader, st proto.Stream) {
		defer wg.Done()
		buf := make([]byte, outputChunkSize)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				data := make([]byte, n)
				copy(data, buf[:n])
				select {
				case chunks <- &proto.OutputChunk{Stream: st, Data: data}:
				case <-stream.Context().Done():
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go read(sp.proc.Stdout(), proto.Stream_STREAM_STDOUT)
	go read(sp.proc.Stderr(), proto.Stream_STREAM_STDERR)
	go func() {
		wg.Wait()
		close(chunks)
	}()
	for {
		select {
		case c, ok := <-chunks:
			if !ok {
				return nil
			}
			if err := stream.Send(c); err != nil {
				// The host went away; the readers stop at their next chunk.
				return err
			}
		case <-stream.Context().Done():
			// The host gave up on the output (OutputCloser) or went away.
			// Returning releases the handle; a reader blocked in a Read
			// that a descendant holds open returns with that Read.
			return status.FromContextError(stream.Context().Err()).Err()
		}
	}
}

func (s *runnerServer) Wait(ctx context.Context, req *proto.WaitRequest) (*proto.WaitResponse, error) {
	sp, err := s.get(req.Handle)
	if err != nil {
		return nil, err
	}
	select {
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	case <-sp.exited():
		err = sp.err
	}
	sp.released.Do(func() { s.release(sp) })
	resp := &proto.WaitResponse{}
	var exitErr *ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		resp.ExitCode = int32(exitErr.Code)
		resp.Signal = wire.ValidUTF8(exitErr.Signal)
	default:
		resp.Error = wire.ValidUTF8(err.Error())
	}
	return resp, nil
}

func (s *runnerServer) Signal(_ context.Context, req *proto.SignalRequest) (*proto.SignalResponse, error) {
	sp, err := s.get(req.Handle)
	if err != nil {
		return nil, err
	}
	sig, err := ParseSignal(req.Signal)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := sp.proc.Signal(sig); err != nil {
		return nil, status.Error(codes.Unknown, err.Error())
	}
	return &proto.SignalResponse{}, nil
}

// killAll sends SIGKILL to every process that has not been reaped; it runs
// on Shutdown and when the plugin is told to terminate, so that nothing the
// runner started outlives it.
func (s *runnerServer) killAll() {
	s.mu.Lock()
	procs := make([]*serverProcess, 0, len(s.handles))
	for _, sp := range s.handles {
		procs = append(procs, sp)
	}
	s.mu.Unlock()
	for _, sp := range procs {
		// Even after the leader was reaped, its group may hold stragglers.
		_ = sp.proc.Signal(syscall.SIGKILL)
	}
}

// fromBytes converts the protocol's bytes fields to strings.
func fromBytes(bs [][]byte) []string {
	if bs == nil {
		return nil
	}
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

func (s *runnerServer) Exec(ctx context.Context, req *proto.ExecRequest) (*proto.ExecResponse, error) {
	ex, ok := s.impl.(Execer)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "the runner cannot run commands where its processes run")
	}
	sp, err := s.get(req.Handle)
	if err != nil {
		return nil, err
	}
	res, err := ex.Exec(ctx, sp.proc, fromBytes(req.Command))
	if err != nil {
		return nil, callError(err)
	}
	return &proto.ExecResponse{ExitCode: int32(res.ExitCode), Output: res.Output}, nil
}

func (s *runnerServer) Stats(ctx context.Context, req *proto.StatsRequest) (*proto.StatsResponse, error) {
	sp, err := s.get(req.Handle)
	if err != nil {
		return nil, err
	}
	st, ok := sp.proc.(ProcessStatter)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "the runner's processes cannot tell their CPU time and memory")
	}
	select {
	case <-sp.exited():
		return nil, status.Errorf(codes.NotFound, "process with handle %q has exited", req.Handle)
	default:
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		return nil, callError(err)
	}
	return &proto.StatsResponse{
		CpuNanos:     int64(stats.CPU),
		MemoryBytes:  stats.MemoryBytes,
		TimeUnixNano: stats.Time.UnixNano(),
	}, nil
}

// callError is the status of a call whose component failed with err: a
// context's end keeps its code (Canceled, DeadlineExceeded), so that the
// host sees context.Canceled or context.DeadlineExceeded whichever side
// noticed the end first; anything else is Unknown, with err's text.
func callError(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}
