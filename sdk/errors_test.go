package sdk

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAttributeErrors(t *testing.T) {
	assert.Nil(t, AttributeErrors(nil))
	assert.Nil(t, AttributeErrors(errors.New("plain")))
	one := AttributeErrorf("path", "is required")
	assert.EqualError(t, one, "path: is required")
	wrapped := fmt.Errorf("sink: %w", errors.Join(one, errors.New("x"), AttributeErrorf("max_age", "must not be negative")))
	got := AttributeErrors(wrapped)
	require.Len(t, got, 2)
	assert.Equal(t, []string{"path", "max_age"}, []string{got[0].Attribute, got[1].Attribute})
	inner := errors.New("bad size")
	assert.ErrorIs(t, AttributeErrorf("max_size", "%w", inner), inner)
}

func TestConfigDecode(t *testing.T) {
	var v struct {
		A int `json:"a"`
	}
	v.A = 7
	require.NoError(t, (*Config)(nil).Decode(&v))
	require.NoError(t, (&Config{}).Decode(&v))
	assert.Equal(t, 7, v.A, "empty values leave v unchanged")
	require.NoError(t, (&Config{Values: []byte(`{"a":3}`)}).Decode(&v))
	assert.Equal(t, 3, v.A)
	err := (&Config{Values: []byte(`{"a":"x"}`)}).Decode(&v)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "failed to decode config")
}
