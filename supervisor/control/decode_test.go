package control

import (
	"testing"
	"time"

	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecodeFollowReadsWhatTheServerWrites: every line the server encodes
// (appendLogLine) comes back as LogLineFrom makes it, and a notice of
// dropped lines as one.
func TestDecodeFollowReadsWhatTheServerWrites(t *testing.T) {
	ts := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, line := range []string{"plain", "", `with "quotes"`, "tab\there", "ünï ✓", "\xff bad", "\u2028"} {
		e := logs.LogEntry{Timestamp: ts, Process: "web", Stream: sdk.Stdout, Line: []byte(line)}
		got, err := decodeFollow(appendLogLine(nil, &e))
		require.NoError(t, err, line)
		require.NotNil(t, got.Line, line)
		assert.Equal(t, LogLineFrom(e), *got.Line, line)
	}
	got, err := decodeFollow([]byte(`{"dropped":42}`))
	require.NoError(t, err)
	assert.Equal(t, FollowMessage{Dropped: 42}, got)
	_, err = decodeFollow([]byte(`{"time": 12`))
	assert.ErrorContains(t, err, "decode a stream line")
}

// TestDecodeRefusesInvalidJSON: a message that is not JSON is an error.
func TestDecodeRefusesInvalidJSON(t *testing.T) {
	for _, in := range []string{
		`{"dropped":007}`, `{"dropped":-}`, `{"line":"x","n":--}`, `{"line":"x","n":1-2}`, `{"line":"x","n":-01}`, `not json`,
	} {
		_, err := decodeFollow([]byte(in))
		assert.ErrorContains(t, err, "decode a stream line", in)
	}
}
