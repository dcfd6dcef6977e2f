package sdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk/proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Shared batches (see internal/wire's region.go): one Write at a time
// uses the region, and the host leaves it alone until the Write's
// response; a Write whose outcome is unknown (cancelled, the connection
// lost) retires the region, so that the host never writes into memory the
// plugin might still be reading. A batch too big for the region, a plugin
// built without this SDK version, or a system without memfds: batches go
// over gRPC as before.

// hostRegion is the host's mapping of a shared batch region.
type hostRegion struct {
	mem  []byte
	once sync.Once
}

// unmap releases the mapping, once.
func (r *hostRegion) unmap() { r.once.Do(func() { wire.UnmapRegion(r.mem) }) }

// share offers the plugin a shared batch region; c.mu is held. Any
// failure leaves c without one.
func (c *sinkClient) share(ctx context.Context) {
	mem, f, err := wire.NewRegion(wire.RegionSize)
	if err != nil {
		return
	}
	defer f.Close()
	r := &hostRegion{mem: mem}
	socket, token := handovers.offerFile(f)
	if token == nil {
		r.unmap()
		return
	}
	_, err = c.client.Share(ctx, &proto.ShareRequest{Socket: socket, Token: token, Size: uint64(len(mem))})
	if fetched := handovers.withdraw(token); err != nil || !fetched {
		r.unmap()
		return
	}
	c.region = r
	// A client dropped without Close (its plugin died) still unmaps.
	c.cleanup = runtime.AddCleanup(c, (*hostRegion).unmap, r)
}

// retire stops using the region and unmaps it; c.mu is held.
func (c *sinkClient) retire() {
	if c.region == nil {
		return
	}
	c.cleanup.Stop()
	c.region.unmap()
	c.region = nil
}

// writeShared writes b through the region; ok is false when b does not
// fit, and the caller sends it over gRPC. c.mu is held.
func (c *sinkClient) writeShared(ctx context.Context, b *Batch) (resp *proto.WriteResponse, ok bool, err error) {
	n, fits, err := c.enc.encodeInto(c.region.mem, b)
	if err != nil || !fits {
		return nil, false, err
	}
	resp, err = c.client.Write(ctx, &proto.WriteRequest{Seq: b.Seq, SharedLength: uint64(n)})
	if err != nil && !answered(err) {
		c.retire()
	}
	return resp, true, err
}

// answered reports whether a failed Write's error came from the plugin's
// handler (so the plugin is done with the region) rather than from the
// call being cut short, when the plugin may still be reading it.
func answered(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded, codes.Unavailable, codes.Internal, codes.ResourceExhausted:
		return false
	}
	return true
}

// errNoRegion answers a shared Write that names no mapped region.
var errNoRegion = errors.New("write: the batch is in a shared region this plugin has not mapped")

// Share implements proto.SinkServer: it fetches the host's region and maps
// it read-only, replacing any earlier one.
func (s *sinkServer) Share(ctx context.Context, req *proto.ShareRequest) (*proto.ShareResponse, error) {
	f, err := wire.FetchFile(ctx, req.Socket, req.Token)
	if err != nil {
		return nil, fmt.Errorf("share: %w", err)
	}
	defer f.Close()
	mem, err := wire.MapRegion(f, req.Size)
	if err != nil {
		return nil, fmt.Errorf("share: %w", err)
	}
	s.regionMu.Lock()
	old := s.region
	s.region = mem
	s.regionMu.Unlock()
	if old != nil {
		wire.UnmapRegion(old)
	}
	return &proto.ShareResponse{}, nil
}

// writeShared delivers a batch the host wrote into the shared region:
// its first length bytes, a WriteRequest whose seq must be seq. reuse
// says whether the sink keeps nothing of a batch (BatchReuser); if it may
// keep the bytes of its lines, they are copied out of the region first.
func (s *sinkServer) writeShared(ctx context.Context, d *batchDecoder, seq, length uint64, reuse bool) (*proto.WriteResponse, error) {
	s.regionMu.RLock()
	defer s.regionMu.RUnlock()
	if s.region == nil || length > uint64(len(s.region)) {
		return nil, errNoRegion
	}
	raw := s.region[:length:length]
	if !reuse {
		raw = bytes.Clone(raw)
	}
	b, err := d.decode(raw)
	if err != nil {
		return nil, err
	}
	if d.shared != 0 || b.Seq != seq {
		return nil, fmt.Errorf("%w: the shared region holds batch %d, the request names %d", errMalformed, b.Seq, seq)
	}
	return s.write(ctx, b)
}
