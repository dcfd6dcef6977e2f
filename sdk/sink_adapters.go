package sdk

import (
	"context"
	"fmt"

	"github.com/prox-dev/prox/sdk/proto"
)

// sinkClient is the host side of the sink service.
type sinkClient struct {
	client proto.SinkClient
}

var _ Sink = (*sinkClient)(nil)

func (c *sinkClient) Write(ctx context.Context, b *Batch) error {
	resp, err := c.client.Write(ctx, packBatch(b))
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
	return fromGRPC("close", err)
}

// sinkServer is the plugin side of the sink service.
type sinkServer struct {
	proto.UnimplementedSinkServer
	impl Sink
}

func (s *sinkServer) Write(ctx context.Context, req *proto.WriteRequest) (*proto.WriteResponse, error) {
	b, err := unpackBatch(req)
	if err != nil {
		return nil, err
	}
	if err := s.impl.Write(ctx, b); err != nil {
		return nil, err
	}
	return &proto.WriteResponse{AckSeq: req.Seq}, nil
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
