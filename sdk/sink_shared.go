package sdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk/proto"
)

// Shared batches (see internal/wire's region.go): one Write at a time
// uses the region, and the host leaves it alone until the Write's
// response; a Write whose outcome is unknown (cancelled, the connection
// lost) retires the region, so that the host never writes into memory the
// plugin might still be reading. A batch too big for the region, a plugin
// built without this SDK version, or a system without memfds: batches go
// over gRPC as before.

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
