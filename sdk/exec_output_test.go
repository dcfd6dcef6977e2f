package sdk

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCappedOutput(t *testing.T) {
	b := &CappedOutput{Limit: 5}
	n, err := b.Write([]byte("abc"))
	assert.Equal(t, 3, n)
	assert.NoError(t, err)
	n, err = b.Write([]byte("defgh"))
	assert.Equal(t, 5, n, "a write past the limit still reports success")
	assert.NoError(t, err)
	assert.Equal(t, "abcde", string(b.Bytes()))
	got := b.Bytes()
	got[0] = 'X'
	assert.Equal(t, "abcde", string(b.Bytes()), "Bytes returns a copy")
}
