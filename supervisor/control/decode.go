package control

import (
	"encoding/json"
	"fmt"
)

// decodeFollow parses one message of a log follow stream: a line, or a
// notice of dropped lines. encoding/json reads it: a hand-written scanner
// was five times faster per message, but a follower that falls behind a
// busy process falls behind nearly as far with either, and two readings of
// the format had to be kept the same (docs/performance.md).
func decodeFollow(b []byte) (FollowMessage, error) {
	var raw struct {
		LogLine
		Dropped uint64 `json:"dropped"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return FollowMessage{}, fmt.Errorf("decode a stream line: %w", err)
	}
	if raw.Dropped > 0 {
		return FollowMessage{Dropped: raw.Dropped}, nil
	}
	return FollowMessage{Line: &raw.LogLine}, nil
}
