package wire

import (
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the proto codec Codec delegates to
	"google.golang.org/grpc/mem"
)

// The sink's Write request is the hot message of the log path: every line
// sent to a sink travels in one. The generated code would pack a batch
// into a proto.WriteRequest (a copy of every line), marshal it (a second
// copy), and on the plugin side unmarshal it (a copy) and unpack it into a
// new batch (an allocation per batch). Instead the host's outgoing batch
// writes the wire form straight from the batch into one pooled buffer
// (Marshaler), and the plugin's incoming batch takes the received bytes as
// they are (RawReceiver) and reads them into a reused batch whose lines
// point into them. The bytes on the wire are exactly the protobuf encoding
// of proto.WriteRequest, so either side may use the generated code instead
// (a plugin or a host built another way).

// Marshaler is an outgoing message that encodes itself: Codec sends the
// buffers it returns, which the transport frees once written.
type Marshaler interface {
	MarshalBuffers() (mem.BufferSlice, error)
}

// RawReceiver is an incoming message that takes its encoding as received:
// Codec hands it the received bytes, which stay valid only during the
// call (it copies what it keeps).
type RawReceiver interface {
	ReceiveRaw(data mem.BufferSlice) error
}

// Codec is the gRPC codec of prox's connections: the standard proto codec
// for every message except a Marshaler (sent) and a RawReceiver
// (received). It is named "proto", as the standard one, so the wire's
// content type does not change.
type Codec struct{}

var _ encoding.CodecV2 = Codec{}

// protoCodec is the standard codec Codec delegates to.
var protoCodec = encoding.GetCodecV2("proto")

// Name returns "proto".
func (Codec) Name() string { return "proto" }

// Marshal encodes v.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(Marshaler); ok {
		return m.MarshalBuffers()
	}
	return protoCodec.Marshal(v)
}

// Unmarshal decodes data into v.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	if r, ok := v.(RawReceiver); ok {
		return r.ReceiveRaw(data)
	}
	return protoCodec.Unmarshal(data, v)
}
