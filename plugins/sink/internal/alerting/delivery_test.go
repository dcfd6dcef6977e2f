package alerting

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	for attempt, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond} {
		for range 20 {
			d := Backoff(attempt, MaxFailingBackoff)
			assert.GreaterOrEqual(t, d, want/2)
			assert.LessOrEqual(t, d, want)
		}
	}
	for _, attempt := range []int{7, 10, 50} {
		d := Backoff(attempt, MaxFailingBackoff)
		assert.GreaterOrEqual(t, d, MaxFailingBackoff/2)
		assert.LessOrEqual(t, d, MaxFailingBackoff)
	}
}

// TestBackoffWhileUnreachableIsAtMostASecond pins what makes the first
// alert reach a webhook that comes back within about a second: while it
// cannot be reached, no wait between attempts exceeds 1s.
func TestBackoffWhileUnreachableIsAtMostASecond(t *testing.T) {
	for attempt := range 100 {
		d := Backoff(attempt, MaxUnreachableBackoff)
		require.LessOrEqual(t, d, time.Second, "attempt %d", attempt)
		require.Positive(t, d)
	}
}
