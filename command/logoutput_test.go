package command

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogOutputRunsItsHookFirst(t *testing.T) {
	var got syncBuffer
	o := &logOutput{w: &got, color: true}
	assert.True(t, o.SupportsColor())
	_, err := o.Write([]byte("a\n"))
	require.NoError(t, err)
	o.setBefore(func() { _, _ = got.Write([]byte("hook\n")) })
	_, err = o.Write([]byte("b\n"))
	require.NoError(t, err)
	o.setBefore(nil)
	_, err = o.Write([]byte("c\n"))
	require.NoError(t, err)
	assert.Equal(t, "a\nhook\nb\nc\n", got.String())
	assert.False(t, (&logOutput{}).SupportsColor())
}
