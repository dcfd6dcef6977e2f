package sdk

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk/proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	gproto "google.golang.org/protobuf/proto"
)

// The sink's Write request is the hot message of the log path, read and
// written without the generated code (see internal/wire's Codec): the
// host's outgoingBatch encodes a Batch straight into one pooled buffer,
// and the plugin's incomingBatch reads it back into a reused Batch whose
// lines point into the received buffer. The bytes on the wire are exactly
// the protobuf encoding of proto.WriteRequest.

// incomingBatch is the plugin's Write request. With wire.Codec, raw holds
// the encoded request; with the standard codec (a server built without
// wire.ServerOptions), the embedded WriteRequest is filled instead.
type incomingBatch struct {
	proto.WriteRequest
	// pooled asks ReceiveRaw for a pooled buffer, freed by release.
	pooled bool
	raw    []byte
	buf    mem.Buffer
}

var _ wire.RawReceiver = (*incomingBatch)(nil)

// ReceiveRaw implements wire.RawReceiver. One copy, into one contiguous
// buffer: a pooled one when the sink keeps nothing of a batch
// (BatchReuser), otherwise memory of the request's own, since a sink may
// keep the bytes of the lines (see Sink.Write).
func (ib *incomingBatch) ReceiveRaw(data mem.BufferSlice) error {
	if ib.pooled {
		ib.buf = data.MaterializeToBuffer(wire.BufferPool())
		ib.raw = ib.buf.ReadOnlyData()
	} else {
		ib.raw = data.Materialize()
	}
	return nil
}

// release returns a pooled buffer.
func (ib *incomingBatch) release() {
	if ib.buf != nil {
		ib.buf.Free()
		ib.buf, ib.raw = nil, nil
	}
}

// BatchReuser is implemented by sinks that keep nothing of a batch once
// Write has returned, not even the bytes of its lines: they copy what they
// keep (a file sink formats lines into its own buffer). ReuseBatches
// returns true to let the SDK decode every batch into memory it reuses for
// the next one, instead of allocating a buffer the size of each batch
// (which Sink.Write's default contract requires). The lines may then be
// read-only memory shared with the host (see Share in plugin.proto): a
// BatchReuser never writes into them. The file sink implements it.
type BatchReuser interface {
	ReuseBatches() bool
}

// sinkServiceDesc is the generated Sink service with the Write handler
// replaced by writeHandler, which decodes through incomingBatch.
var sinkServiceDesc = func() grpc.ServiceDesc {
	d := proto.Sink_ServiceDesc
	d.Methods = append([]grpc.MethodDesc(nil), d.Methods...)
	for i := range d.Methods {
		if d.Methods[i].MethodName == "Write" {
			d.Methods[i].Handler = writeHandler
		}
	}
	return d
}()

// writeHandler is Sink.Write's server handler.
func writeHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	s := srv.(*sinkServer)
	reuser, ok := s.impl.(BatchReuser)
	in := &incomingBatch{pooled: ok && reuser.ReuseBatches()}
	if err := dec(in); err != nil {
		return nil, err
	}
	defer in.release()
	if interceptor == nil {
		return s.writeIncoming(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: proto.Sink_Write_FullMethodName}
	return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
		return s.writeIncoming(ctx, req.(*incomingBatch))
	})
}

func eventFromProto(e *proto.Event) Event {
	return Event{
		Timestamp: time.Unix(0, e.UnixNano), Process: e.Process, Type: EventType(e.Type),
		State: ProcessState(e.State), PreviousState: ProcessState(e.PreviousState), ExitCode: int(e.ExitCode),
		Signal: e.Signal, Message: e.Message, Restarts: int(e.Restarts),
	}
}

// maxNameCache bounds the process names a batchDecoder remembers.
const maxNameCache = 1024

// batchDecoder reads Write requests into a Batch it reuses; the lines point
// into the request's buffer. It is not safe for concurrent use.
type batchDecoder struct {
	deltas  []int64
	lengths []uint32
	index   []uint32
	names   []string // the batch's process table
	entries []LogEntry
	// known holds the process names of earlier batches, so that a name
	// costs an allocation only the first time it is seen.
	known []string
	// shared is the last request's shared_length: not zero when the
	// batch itself is in the shared region (sinkServer.writeShared).
	shared uint64
}

// errMalformed prefixes every decoding error.
var errMalformed = errors.New("malformed log batch")

// decode parses raw, a proto.WriteRequest, into a Batch valid until the
// next decode and as long as raw.
func (d *batchDecoder) decode(raw []byte) (*Batch, error) {
	d.deltas, d.lengths, d.index, d.names = d.deltas[:0], d.lengths[:0], d.index[:0], d.names[:0]
	d.shared = 0
	b := &Batch{}
	var data, streams []byte
	var base int64
	hasLogs := false
	for len(raw) > 0 {
		num, typ, n, err := consumeTag(raw)
		if err != nil {
			return nil, err
		}
		raw = raw[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			b.Seq, n = protowire.ConsumeVarint(raw)
		case num == 2 && typ == protowire.BytesType:
			var logs []byte
			if logs, n = protowire.ConsumeBytes(raw); n >= 0 {
				hasLogs = true
				if base, data, streams, err = d.decodeLogs(logs, base, data, streams); err != nil {
					return nil, err
				}
			}
		case num == 4 && typ == protowire.VarintType:
			d.shared, n = protowire.ConsumeVarint(raw)
		case num == 3 && typ == protowire.BytesType:
			var msg []byte
			if msg, n = protowire.ConsumeBytes(raw); n >= 0 {
				var ev proto.Event
				if err := gproto.Unmarshal(msg, &ev); err != nil {
					return nil, fmt.Errorf("%w: event: %w", errMalformed, err)
				}
				b.Events = append(b.Events, eventFromProto(&ev))
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, raw)
		}
		if n < 0 {
			return nil, fmt.Errorf("%w: %w", errMalformed, protowire.ParseError(n))
		}
		raw = raw[n:]
	}
	if !hasLogs {
		return b, nil
	}
	count := len(d.lengths)
	if len(d.deltas) != count || len(d.index) != count || len(streams) != count {
		return nil, fmt.Errorf("%w: %d lengths, %d timestamps, %d processes, %d streams",
			errMalformed, count, len(d.deltas), len(d.index), len(streams))
	}
	if cap(d.entries) < count {
		d.entries = make([]LogEntry, count)
	}
	entries := d.entries[:count]
	off := 0
	for i := range entries {
		l := int(d.lengths[i])
		if l > len(data)-off {
			return nil, fmt.Errorf("%w: line %d runs past the data", errMalformed, i)
		}
		pi := int(d.index[i])
		if pi >= len(d.names) {
			return nil, fmt.Errorf("%w: process index %d out of range", errMalformed, pi)
		}
		// Field by field: a composite literal is built aside and copied.
		e := &entries[i]
		e.Timestamp = time.Unix(0, base+d.deltas[i])
		e.Process = d.names[pi]
		e.Stream = Stream(streams[i])
		e.Line = data[off : off+l : off+l]
		off += l
	}
	if off != len(data) {
		return nil, fmt.Errorf("%w: %d bytes of data after the last line", errMalformed, len(data)-off)
	}
	b.Entries = entries
	return b, nil
}

// consumeTag parses the field tag at the start of raw. A field number
// beyond protobuf's range is an error, as in the generated code, rather
// than an unknown field: protowire.ConsumeTag lets it through.
func consumeTag(raw []byte) (protowire.Number, protowire.Type, int, error) {
	num, typ, n := protowire.ConsumeTag(raw)
	if n < 0 {
		return 0, 0, 0, fmt.Errorf("%w: %w", errMalformed, protowire.ParseError(n))
	}
	if num > protowire.MaxValidNumber {
		return 0, 0, 0, fmt.Errorf("%w: field number %d out of range", errMalformed, num)
	}
	return num, typ, n, nil
}

// decodeLogs parses a proto.LogBatch into d's lists; data and streams
// point into raw. A LogBatch that occurs more than once in a request is
// merged, as protobuf's rule for a message field says (and the generated
// code does): base, data and streams are those of the last occurrence that
// has them (decodeLogs is given the earlier ones), repeated fields are
// appended to.
func (d *batchDecoder) decodeLogs(raw []byte, base int64, data, streams []byte) (int64, []byte, []byte, error) {
	for len(raw) > 0 {
		num, typ, n, err := consumeTag(raw)
		if err != nil {
			return 0, nil, nil, err
		}
		raw = raw[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			var v uint64
			v, n = protowire.ConsumeVarint(raw)
			base = int64(v)
		// A field of another wire type than its own is an unknown field,
		// skipped as the generated code does.
		case num == 2 && isVarints(typ):
			d.deltas, n = appendVarints(d.deltas, raw, typ, true)
		case num == 3 && isVarints(typ):
			d.lengths, n = appendVarints(d.lengths, raw, typ, false)
		case num == 4 && typ == protowire.BytesType:
			data, n = protowire.ConsumeBytes(raw)
		case num == 5 && typ == protowire.BytesType:
			var name []byte
			if name, n = protowire.ConsumeBytes(raw); n >= 0 {
				d.names = append(d.names, d.name(name))
			}
		case num == 6 && isVarints(typ):
			d.index, n = appendVarints(d.index, raw, typ, false)
		case num == 7 && typ == protowire.BytesType:
			streams, n = protowire.ConsumeBytes(raw)
		default:
			n = protowire.ConsumeFieldValue(num, typ, raw)
		}
		if n < 0 {
			return 0, nil, nil, fmt.Errorf("%w: %w", errMalformed, protowire.ParseError(n))
		}
		raw = raw[n:]
	}
	return base, data, streams, nil
}

// The repeated varint fields of a LogBatch (lengths, process indexes,
// timestamp deltas) hold one number per line, mostly of one byte:
// appendVarints takes a one-byte varint without a call.

// isVarints reports whether typ is a wire type of a repeated varint
// field: one element, or packed.
func isVarints(typ protowire.Type) bool {
	return typ == protowire.VarintType || typ == protowire.BytesType
}

// decodeVarint converts a varint's value to T, from zigzag when zigzag is
// set.
func decodeVarint[T uint32 | int64](v uint64, zigzag bool) T {
	if zigzag {
		return T(protowire.DecodeZigZag(v))
	}
	return T(v)
}

// appendVarints appends to dst one element of a repeated varint field, or
// all of them when packed, each decoded from zigzag when zigzag is set
// (sint64), and returns the bytes used or a negative error.
func appendVarints[T uint32 | int64](dst []T, raw []byte, typ protowire.Type, zigzag bool) ([]T, int) {
	switch typ {
	case protowire.VarintType:
		v, n := protowire.ConsumeVarint(raw)
		if n >= 0 {
			dst = append(dst, decodeVarint[T](v, zigzag))
		}
		return dst, n
	case protowire.BytesType:
		packed, n := protowire.ConsumeBytes(raw)
		if n < 0 {
			return dst, n
		}
		for len(packed) > 0 {
			v, m := uint64(packed[0]), 1
			if v >= 0x80 {
				if v, m = protowire.ConsumeVarint(packed); m < 0 {
					return dst, m
				}
			}
			dst = append(dst, decodeVarint[T](v, zigzag))
			packed = packed[m:]
		}
		return dst, n
	default:
		return dst, -1 // protowire's code for a malformed field
	}
}

// name returns b as a string, reusing one seen before.
func (d *batchDecoder) name(b []byte) string {
	for _, s := range d.known {
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	if len(d.known) == maxNameCache {
		d.known = d.known[:0]
	}
	d.known = append(d.known, s)
	return s
}

// decoderSlot keeps one spare batchDecoder for the next Write.
type decoderSlot struct {
	spare atomic.Pointer[batchDecoder]
}

func (s *decoderSlot) get() *batchDecoder {
	if d := s.spare.Swap(nil); d != nil {
		return d
	}
	return &batchDecoder{}
}

func (s *decoderSlot) put(d *batchDecoder) { s.spare.Store(d) }
