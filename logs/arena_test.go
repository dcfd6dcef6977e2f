package logs

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestArenaCopyHasNoSpareCapacity: every copy's capacity is its length,
// long lines (their own allocation) too, so that readers sharing a kept
// line who append to it each get their own array rather than writing
// into a common spare capacity (found by FuzzFramer).
func TestArenaCopyHasNoSpareCapacity(t *testing.T) {
	var a arena
	for _, n := range []int{0, 1, 100, maxArenaLine, maxArenaLine + 1, maxArenaLine + 19, 3*maxArenaLine + 5} {
		line := bytes.Repeat([]byte{'x'}, n)
		got := a.copy(line)
		require.Equal(t, line, got, "%d bytes", n)
		assert.Equal(t, n, cap(got), "capacity of a copy of %d bytes", n)
	}
}
