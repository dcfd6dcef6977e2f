package control

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecodeMatchesEncodingJSON: the hand-written decoder of the follow
// stream reads what the server writes, and whatever else is valid JSON,
// exactly as encoding/json does.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	ts := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	var inputs []string
	for _, line := range []string{"plain", "", `with "quotes"`, "tab\there", "ünï ✓", "\xff bad", "\u2028"} {
		e := logs.LogEntry{Timestamp: ts, Process: "web", Stream: sdk.Stdout, Line: []byte(line)}
		inputs = append(inputs, string(appendLogLine(nil, &e)))
	}
	inputs = append(inputs,
		`{"dropped":42}`,
		`{"line":"reordered","stream":"stderr","process":"db","time":"2025-01-02T03:04:05Z"}`,
		`{ "time" : "2025-01-02T03:04:05Z" , "process":"x", "extra": 1, "line": "spaced" }`,
		`{"time":"2025-01-02T03:04:05Z","process":"x","line":"nested","more":{"a":[1,2]}}`,
		"{\"time\":\"2025-01-02T03:04:05Z\",\"process\":\"x\",\"line\":\"raw \xff byte\"}",
		// encoding/json matches member names without regard to case
		// (as FuzzDecodeFollowLine checks).
		`{"time":"2025-01-02T03:04:05Z","Process":"x","LINE":"shouted"}`,
		`{"time":"2025-01-02T03:04:05Z","line":"first","Line":"last"}`,
		`{"time":"2025-01-02T03:04:05Z","proceſſ":"long s","line":"x"}`,
	)
	var d lineDecoder
	for _, in := range inputs {
		got, err := d.decode([]byte(in))
		require.NoError(t, err, in)
		var want struct {
			LogLine
			Dropped uint64 `json:"dropped"`
		}
		require.NoError(t, json.Unmarshal([]byte(in), &want), in)
		if want.Dropped > 0 {
			assert.Equal(t, FollowMessage{Dropped: want.Dropped}, got, in)
			continue
		}
		require.NotNil(t, got.Line, in)
		assert.Equal(t, want.LogLine, *got.Line, in)
	}
	_, err := d.decode([]byte(`{"time": 12`))
	assert.Error(t, err)
}

// TestDecodeRefusesInvalidJSON: a message that is not JSON is an error,
// as with encoding/json, also when its members look flat.
func TestDecodeRefusesInvalidJSON(t *testing.T) {
	var d lineDecoder
	for _, in := range []string{
		`{"dropped":007}`, `{"dropped":-}`, `{"line":"x","n":--}`, `{"line":"x","n":1-2}`, `{"line":"x","n":-01}`,
	} {
		require.Error(t, json.Unmarshal([]byte(in), &struct{}{}), in)
		_, err := d.decode([]byte(in))
		assert.Error(t, err, in)
	}
}
