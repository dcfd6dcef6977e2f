package runnertag

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewTagsDiffer(t *testing.T) {
	a, b := New(), New()
	assert.Len(t, a, 16)
	assert.NotEqual(t, a, b)
}

func TestWithAddsTagsToOneEntry(t *testing.T) {
	env := []string{"A=1", Env + "=outer", "B=2", Env + "=other:outer"}
	got := With(env, "mine")
	assert.Equal(t, []string{"A=1", "B=2", Env + "=outer:other:mine"}, got)
	assert.Equal(t, []string{"A=1", Env + "=outer", "B=2", Env + "=other:outer"}, env, "env is not changed")

	assert.Equal(t, []string{"A=1", Env + "=mine"}, With([]string{"A=1"}, "mine"))
	assert.Equal(t, []string{Env + "=mine"}, With(nil, "mine"))
	assert.Equal(t, []string{"A=1"}, With([]string{"A=1"}), "no tag: env as it is")
}

func TestCarriesMatchesAWholeTag(t *testing.T) {
	environ := []byte("A=1\x00" + Env + "=outer:abc123\x00B=abcd\x00")
	assert.True(t, Carries(environ, "abc123"))
	assert.True(t, Carries(environ, "outer"))
	assert.False(t, Carries(environ, "abc"), "a part of a tag")
	assert.False(t, Carries(environ, "abcd"), "another variable's value")
	assert.False(t, Carries(environ, ""))
	assert.False(t, Carries([]byte("X"+Env+"=abc123\x00"), "abc123"), "another variable's name")
	require.True(t, Carries([]byte(Env+"=abc123"), "abc123"), "the last entry, without its NUL")
}
