package pluginhost

import (
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPackBatchShape(t *testing.T) {
	base := time.Unix(1700000000, 500)
	req := packBatch(&sdk.Batch{Seq: 4, Entries: []sdk.LogEntry{
		{Timestamp: base, Process: "a", Stream: sdk.Stdout, Line: []byte("one")},
		{Timestamp: base.Add(-2), Process: "b", Stream: sdk.Stderr, Line: nil},
		{Timestamp: base.Add(3), Process: "a", Stream: sdk.Stderr, Line: []byte("three")},
	}})
	assert.Equal(t, uint64(4), req.Seq)
	lb := req.Logs
	require.NotNil(t, lb)
	assert.Equal(t, base.UnixNano(), lb.BaseUnixNano)
	assert.Equal(t, []int64{0, -2, 3}, lb.TsDeltas)
	assert.Equal(t, []uint32{3, 0, 5}, lb.Lengths)
	assert.Equal(t, "onethree", string(lb.Data))
	assert.Equal(t, []string{"a", "b"}, lb.Processes)
	assert.Equal(t, []uint32{0, 1, 0}, lb.ProcessIndex)
	assert.Equal(t, []byte{1, 2, 2}, lb.Streams)
	assert.Empty(t, req.Events)

	assert.Nil(t, packBatch(&sdk.Batch{Seq: 1}).Logs, "no entries, no log batch")
}
