package pluginhost

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	gproto "google.golang.org/protobuf/proto"
)

// sinkClient is the host side of the sink service.
type sinkClient struct {
	client proto.SinkClient
	// conn, when set, carries Write through wire.Codec: the batch is
	// encoded straight into the message, without a proto.WriteRequest.
	conn grpc.ClientConnInterface

	mu  sync.Mutex // one Write at a time uses enc and region
	enc batchEncoder
	// region is the shared batch region (share, below), nil when
	// batches go over gRPC; shareTried says whether one was offered.
	region     *hostRegion
	shareTried bool
	cleanup    runtime.Cleanup
}

var _ sdk.Sink = (*sinkClient)(nil)

func newSinkClient(conn grpc.ClientConnInterface) *sinkClient {
	return &sinkClient{client: proto.NewSinkClient(conn), conn: conn}
}

func (c *sinkClient) Write(ctx context.Context, b *sdk.Batch) error {
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
func (c *sinkClient) writeShared(ctx context.Context, b *sdk.Batch) (resp *proto.WriteResponse, ok bool, err error) {
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

// outgoingBatch is the host's Write request: a Batch encoded by enc.
type outgoingBatch struct {
	batch *sdk.Batch
	enc   *batchEncoder
}

var _ wire.Marshaler = (*outgoingBatch)(nil)

// MarshalBuffers implements wire.Marshaler.
func (ob *outgoingBatch) MarshalBuffers() (mem.BufferSlice, error) { return ob.enc.marshal(ob.batch) }

// batchEncoder writes Write requests; it keeps its scratch space between
// calls. It is not safe for concurrent use.
type batchEncoder struct {
	names  []string // the batch's process table
	index  []uint32 // per entry: its process's index in names
	deltas []uint64 // per entry: zigzag timestamp delta
	events []*proto.Event

	// The sizes of the batch being encoded, from prepare.
	base                                               int64
	deltasLen, lengthsLen, indexLen, dataLen, namesLen int
	logsLen, size                                      int
}

// lookup returns the index of process in the batch's table, adding it.
func (e *batchEncoder) lookup(process string) uint32 {
	// Batches name few processes, mostly in runs: a linear search from
	// the last one found is quicker than a map.
	if n := len(e.index); n > 0 && e.names[e.index[n-1]] == process {
		return e.index[n-1]
	}
	for i, name := range e.names {
		if name == process {
			return uint32(i)
		}
	}
	e.names = append(e.names, process)
	return uint32(len(e.names) - 1)
}

// marshal encodes b as a proto.WriteRequest into one buffer of the shared
// pool: the line bytes are copied once, from the entries to the buffer.
func (e *batchEncoder) marshal(b *sdk.Batch) (mem.BufferSlice, error) {
	size := e.prepare(b)
	bp := wire.BufferPool().Get(size)
	out, err := e.encode((*bp)[:0], b)
	if err != nil {
		wire.BufferPool().Put(bp)
		return nil, err
	}
	*bp = out
	return mem.BufferSlice{mem.NewBuffer(bp, wire.BufferPool())}, nil
}

// encodeInto encodes b as a proto.WriteRequest at the start of dst and
// returns its length; false when it does not fit.
func (e *batchEncoder) encodeInto(dst []byte, b *sdk.Batch) (int, bool, error) {
	if e.prepare(b) > len(dst) {
		clear(e.events)
		return 0, false, nil
	}
	out, err := e.encode(dst[:0], b)
	if err != nil {
		return 0, false, err
	}
	return len(out), true, nil
}

// prepare works out the layout of b's encoding and returns its size.
func (e *batchEncoder) prepare(b *sdk.Batch) int {
	e.names, e.index, e.deltas, e.events = e.names[:0], e.index[:0], e.deltas[:0], e.events[:0]
	e.base, e.deltasLen, e.lengthsLen, e.indexLen, e.dataLen, e.namesLen = 0, 0, 0, 0, 0, 0
	n := len(b.Entries)
	if n > 0 {
		e.base = b.Entries[0].Timestamp.UnixNano()
		for i := range b.Entries {
			en := &b.Entries[i]
			idx := e.lookup(en.Process)
			e.index = append(e.index, idx)
			d := protowire.EncodeZigZag(en.Timestamp.UnixNano() - e.base)
			e.deltas = append(e.deltas, d)
			e.deltasLen += protowire.SizeVarint(d)
			e.lengthsLen += protowire.SizeVarint(uint64(len(en.Line)))
			e.indexLen += protowire.SizeVarint(uint64(idx))
			e.dataLen += len(en.Line)
		}
		for i, name := range e.names {
			e.names[i] = wire.ValidUTF8(name)
			e.namesLen += wire.SizeBytesField(5, len(e.names[i]))
		}
	}
	e.logsLen = 0
	if n > 0 {
		if e.base != 0 {
			e.logsLen += protowire.SizeTag(1) + protowire.SizeVarint(uint64(e.base))
		}
		e.logsLen += wire.SizeBytesField(2, e.deltasLen) + wire.SizeBytesField(3, e.lengthsLen) +
			wire.SizeBytesField(4, e.dataLen) + e.namesLen + wire.SizeBytesField(6, e.indexLen) + wire.SizeBytesField(7, n)
	}
	e.size = 0
	if b.Seq != 0 {
		e.size += protowire.SizeTag(1) + protowire.SizeVarint(b.Seq)
	}
	if n > 0 {
		e.size += wire.SizeBytesField(2, e.logsLen)
	}
	for i := range b.Events {
		ev := eventToProto(&b.Events[i])
		e.events = append(e.events, ev)
		e.size += wire.SizeBytesField(3, gproto.Size(ev))
	}
	return e.size
}

// encode appends the encoding of b, laid out by prepare, to out, which
// has room for it: the line bytes are copied once, from the entries.
func (e *batchEncoder) encode(out []byte, b *sdk.Batch) ([]byte, error) {
	defer clear(e.events) // let the events go
	start, room := len(out), cap(out)
	n := len(b.Entries)
	if b.Seq != 0 {
		out = protowire.AppendTag(out, 1, protowire.VarintType)
		out = protowire.AppendVarint(out, b.Seq)
	}
	if n > 0 {
		out = wire.AppendBytesHeader(out, 2, e.logsLen)
		if e.base != 0 {
			out = protowire.AppendTag(out, 1, protowire.VarintType)
			out = protowire.AppendVarint(out, uint64(e.base))
		}
		out = wire.AppendBytesHeader(out, 2, e.deltasLen)
		for _, d := range e.deltas {
			out = protowire.AppendVarint(out, d)
		}
		out = wire.AppendBytesHeader(out, 3, e.lengthsLen)
		for i := range b.Entries {
			out = protowire.AppendVarint(out, uint64(len(b.Entries[i].Line)))
		}
		out = wire.AppendBytesHeader(out, 4, e.dataLen)
		for i := range b.Entries {
			out = append(out, b.Entries[i].Line...)
		}
		for _, name := range e.names {
			out = wire.AppendBytesHeader(out, 5, len(name))
			out = append(out, name...)
		}
		out = wire.AppendBytesHeader(out, 6, e.indexLen)
		for _, idx := range e.index {
			out = protowire.AppendVarint(out, uint64(idx))
		}
		out = wire.AppendBytesHeader(out, 7, n)
		for i := range b.Entries {
			out = append(out, byte(b.Entries[i].Stream))
		}
	}
	var err error
	for _, ev := range e.events {
		out = wire.AppendBytesHeader(out, 3, gproto.Size(ev))
		if out, err = (gproto.MarshalOptions{UseCachedSize: true}).MarshalAppend(out, ev); err != nil {
			return nil, fmt.Errorf("encode event: %w", err)
		}
	}
	// The buffer was sized by prepare: anything else is a bug, and a
	// reallocation would have left the caller's memory behind.
	if len(out)-start != e.size || cap(out) != room {
		return nil, fmt.Errorf("encode batch: wrote %d bytes, sized %d", len(out)-start, e.size)
	}
	return out, nil
}

func eventToProto(e *sdk.Event) *proto.Event {
	return &proto.Event{
		UnixNano: e.Timestamp.UnixNano(), Process: wire.ValidUTF8(e.Process), Type: wire.ValidUTF8(string(e.Type)),
		State: wire.ValidUTF8(string(e.State)), PreviousState: wire.ValidUTF8(string(e.PreviousState)), ExitCode: int32(e.ExitCode),
		Signal: wire.ValidUTF8(e.Signal), Message: wire.ValidUTF8(e.Message), Restarts: uint32(e.Restarts),
	}
}

// packBatch turns a Batch into its generated wire form (batchEncoder writes
// the same bytes without it): one buffer of lines back to
// back with packed lengths, timestamp deltas and process indexes, never a
// message per line.
func packBatch(b *sdk.Batch) *proto.WriteRequest {
	req := &proto.WriteRequest{Seq: b.Seq}
	if len(b.Entries) > 0 {
		lb := &proto.LogBatch{
			TsDeltas:     make([]int64, len(b.Entries)),
			Lengths:      make([]uint32, len(b.Entries)),
			ProcessIndex: make([]uint32, len(b.Entries)),
			Streams:      make([]byte, len(b.Entries)),
		}
		size := 0
		for i := range b.Entries {
			size += len(b.Entries[i].Line)
		}
		lb.Data = make([]byte, 0, size)
		base := b.Entries[0].Timestamp.UnixNano()
		lb.BaseUnixNano = base
		index := make(map[string]uint32)
		for i := range b.Entries {
			e := &b.Entries[i]
			idx, ok := index[e.Process]
			if !ok {
				idx = uint32(len(lb.Processes))
				index[e.Process] = idx
				lb.Processes = append(lb.Processes, wire.ValidUTF8(e.Process))
			}
			lb.TsDeltas[i] = e.Timestamp.UnixNano() - base
			lb.Lengths[i] = uint32(len(e.Line))
			lb.ProcessIndex[i] = idx
			lb.Streams[i] = byte(e.Stream)
			lb.Data = append(lb.Data, e.Line...)
		}
		req.Logs = lb
	}
	for i := range b.Events {
		req.Events = append(req.Events, eventToProto(&b.Events[i]))
	}
	return req
}
