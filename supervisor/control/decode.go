package control

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// lineDecoder decodes the messages of a log follow stream. Lines are the
// bulk of the stream, so the flat objects the server sends are parsed by
// hand; anything else falls back to encoding/json.
type lineDecoder struct {
	// process is the previous line's process name, reused to spare an
	// allocation per line.
	process string
}

// decode parses one message.
func (d *lineDecoder) decode(b []byte) (FollowMessage, error) {
	var (
		l       LogLine
		dropped uint64
		ok      = true
	)
	ok = scanFlatObject(b, func(key, raw []byte, quoted bool) bool {
		switch string(key) {
		case "time":
			t, err := time.Parse(time.RFC3339Nano, string(raw))
			l.Time = t
			return quoted && err == nil
		case "process":
			if string(raw) != d.process {
				d.process = string(raw)
			}
			l.Process = d.process
			return quoted
		case "stream":
			switch string(raw) {
			case "stdout":
				l.Stream = "stdout"
			case "stderr":
				l.Stream = "stderr"
			default:
				l.Stream = string(raw)
			}
			return quoted
		case "line":
			l.Line = string(raw)
			return quoted
		case "line_base64":
			l.LineBase64 = string(raw)
			return quoted
		case "dropped":
			n, err := strconv.ParseUint(string(raw), 10, 64)
			dropped = n
			return !quoted && err == nil
		}
		// Another member: encoding/json ignores it, unless it names one
		// of the above in other case ("Line"), which it matches too.
		return false
	})
	if !ok {
		var raw struct {
			LogLine
			Dropped uint64 `json:"dropped"`
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			return FollowMessage{}, fmt.Errorf("decode a stream line: %w", err)
		}
		l, dropped = raw.LogLine, raw.Dropped
	}
	if dropped > 0 {
		return FollowMessage{Dropped: dropped}, nil
	}
	return FollowMessage{Line: &l}, nil
}

// scanFlatObject walks a JSON object whose member values are strings
// without escapes or integers, calling member for each (raw is a
// string's content or a number's text). It returns false as soon as the
// input is anything else, or member returns false; the caller then decodes
// it properly.
func scanFlatObject(b []byte, member func(key, raw []byte, quoted bool) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		key, next, ok := plainString(b, i)
		if !ok {
			return false
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return false
		}
		var raw []byte
		quoted := b[i] == '"'
		if quoted {
			raw, next, ok = plainString(b, i)
			if !ok {
				return false
			}
		} else {
			start := i
			for next = i; next < len(b) && (b[next] >= '0' && b[next] <= '9' || b[next] == '-'); next++ {
			}
			raw = b[start:next]
			if !jsonInteger(raw) {
				return false
			}
		}
		if !member(key, raw, quoted) {
			return false
		}
		i = skipSpace(b, next)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

// jsonInteger reports whether b, made of digits and '-', is a JSON
// integer: an optional '-', then 0 or digits not starting with 0.
func jsonInteger(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || (b[0] == '0' && len(b) > 1) {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// plainString returns the content of the JSON string at b[i] if it has no
// escape, no control character and no invalid UTF-8, and the index after
// it.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	high := false
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s := b[i+1 : j]
			if high && !utf8.Valid(s) {
				return nil, 0, false // encoding/json replaces invalid bytes
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	return nil, 0, false
}

// skipSpace returns the index of the first non-space byte from i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
