package wire

import (
	"testing"

	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/mem"
	gproto "google.golang.org/protobuf/proto"
)

// fixedMessage marshals itself as its bytes.
type fixedMessage []byte

func (m fixedMessage) MarshalBuffers() (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(m)}, nil
}

// rawMessage keeps a copy of what it received.
type rawMessage struct{ got []byte }

func (m *rawMessage) ReceiveRaw(data mem.BufferSlice) error {
	m.got = data.Materialize()
	return nil
}

func TestCodecDispatches(t *testing.T) {
	c := Codec{}
	assert.Equal(t, "proto", c.Name(), "the content type of the standard codec")

	// A Marshaler writes its own bytes; a RawReceiver gets them as sent.
	data, err := c.Marshal(fixedMessage("\x08\x07"))
	require.NoError(t, err)
	var raw rawMessage
	require.NoError(t, c.Unmarshal(data, &raw))
	assert.Equal(t, []byte("\x08\x07"), raw.got)

	// Any other message goes through the standard proto codec, both ways.
	var req proto.WriteRequest
	require.NoError(t, c.Unmarshal(data, &req))
	assert.Equal(t, uint64(7), req.Seq)
	data, err = c.Marshal(&proto.WriteResponse{AckSeq: 9})
	require.NoError(t, err)
	want, err := gproto.Marshal(&proto.WriteResponse{AckSeq: 9})
	require.NoError(t, err)
	assert.Equal(t, want, data.Materialize())
}

func TestValidUTF8(t *testing.T) {
	assert.Equal(t, "web", ValidUTF8("web"))
	assert.Equal(t, "a\uFFFDb", ValidUTF8("a\xffb"))
}
