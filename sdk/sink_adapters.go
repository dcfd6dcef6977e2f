package sdk

import (
	"context"
	"sync"

	"github.com/prox-dev/prox/sdk/proto"
)

// sinkServer is the plugin side of the sink service. Its Write requests
// arrive through writeHandler (sink_codec.go).
type sinkServer struct {
	proto.UnimplementedSinkServer
	impl     Sink
	decoders decoderSlot

	regionMu sync.RWMutex // Share replaces region; a shared Write reads it
	region   []byte       // the host's shared batch region, mapped read-only
}

// Write implements proto.SinkServer for a request decoded by the generated
// code; the service registered by sinkPlugin uses writeIncoming instead.
func (s *sinkServer) Write(ctx context.Context, req *proto.WriteRequest) (*proto.WriteResponse, error) {
	if req.SharedLength != 0 {
		d := s.decoders.get()
		defer s.decoders.put(d)
		return s.writeShared(ctx, d, req.Seq, req.SharedLength, false)
	}
	b, err := unpackBatch(req)
	if err != nil {
		return nil, err
	}
	return s.write(ctx, b)
}

// writeIncoming delivers a request read by wire.Codec, or by the standard
// codec when the server was built without serverOptions.
func (s *sinkServer) writeIncoming(ctx context.Context, in *incomingBatch) (*proto.WriteResponse, error) {
	if in.raw == nil {
		return s.Write(ctx, &in.WriteRequest)
	}
	d := s.decoders.get()
	defer s.decoders.put(d)
	b, err := d.decode(in.raw)
	if err != nil {
		return nil, err
	}
	if d.shared != 0 {
		return s.writeShared(ctx, d, b.Seq, d.shared, in.pooled)
	}
	return s.write(ctx, b)
}

func (s *sinkServer) write(ctx context.Context, b *Batch) (*proto.WriteResponse, error) {
	if err := s.impl.Write(ctx, b); err != nil {
		return nil, err
	}
	return &proto.WriteResponse{AckSeq: b.Seq}, nil
}

func (s *sinkServer) Flush(ctx context.Context, _ *proto.FlushRequest) (*proto.FlushResponse, error) {
	if err := s.impl.Flush(ctx); err != nil {
		return nil, err
	}
	return &proto.FlushResponse{}, nil
}

func (s *sinkServer) Close(ctx context.Context, _ *proto.CloseRequest) (*proto.CloseResponse, error) {
	if err := s.impl.Close(ctx); err != nil {
		return nil, err
	}
	return &proto.CloseResponse{}, nil
}
