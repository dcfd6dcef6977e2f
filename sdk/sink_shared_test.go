package sdk

import (
	"context"
	"testing"

	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSharedWriteWithoutRegionIsRefused(t *testing.T) {
	rec := &recordingSink{}
	srv := &sinkServer{impl: rec}
	_, err := srv.Write(context.Background(), &proto.WriteRequest{Seq: 1, SharedLength: 100})
	require.ErrorIs(t, err, errNoRegion)
	assert.Empty(t, rec.batches)
}
