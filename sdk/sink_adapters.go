package sdk

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk/proto"
	"google.golang.org/grpc"
)

// sinkClient is the host side of the sink service.
type sinkClient struct {
	client proto.SinkClient
	// conn, when set, carries Write through batchCodec: the batch is
	// encoded straight into the message, without a proto.WriteRequest.
	conn grpc.ClientConnInterface

	mu  sync.Mutex // one Write at a time uses enc and region
	enc batchEncoder
	// region is the shared batch region (sink_shared.go), nil when
	// batches go over gRPC; shareTried says whether one was offered.
	region     *hostRegion
	shareTried bool
	cleanup    runtime.Cleanup
}

var _ Sink = (*sinkClient)(nil)

func newSinkClient(conn grpc.ClientConnInterface) *sinkClient {
	return &sinkClient{client: proto.NewSinkClient(conn), conn: conn}
}

func (c *sinkClient) Write(ctx context.Context, b *Batch) error {
	resp := &proto.WriteResponse{}
	var err error
	if c.conn != nil {
		c.mu.Lock()
		if !c.shareTried {
			c.shareTried = true
			c.share(ctx)
		}
		sent := false
		if c.region != nil {
			var shared *proto.WriteResponse
			if shared, sent, err = c.writeShared(ctx, b); sent && err == nil {
				resp = shared
			}
		}
		if !sent && err == nil {
			err = c.conn.Invoke(ctx, proto.Sink_Write_FullMethodName, &outgoingBatch{batch: b, enc: &c.enc}, resp,
				grpc.ForceCodecV2(wire.Codec{}))
		}
		c.mu.Unlock()
	} else {
		resp, err = c.client.Write(ctx, packBatch(b))
	}
	if err != nil {
		return fromGRPC("write", err)
	}
	if resp.AckSeq != b.Seq {
		return fmt.Errorf("write: sink acknowledged batch %d, sent %d", resp.AckSeq, b.Seq)
	}
	return nil
}

func (c *sinkClient) Flush(ctx context.Context) error {
	_, err := c.client.Flush(ctx, &proto.FlushRequest{})
	return fromGRPC("flush", err)
}

func (c *sinkClient) Close(ctx context.Context) error {
	_, err := c.client.Close(ctx, &proto.CloseRequest{})
	c.mu.Lock()
	c.retire() // no Write follows Close
	c.mu.Unlock()
	return fromGRPC("close", err)
}

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

// writeIncoming delivers a request read by batchCodec, or by the standard
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
