package control

import (
	"encoding/base64"
	"time"
	"unicode/utf8"

	"github.com/prox-dev/prox/logs"
)

// appendLogLine appends the JSON of e (the same object as LogLineFrom(e)
// marshals to) and a newline. Log lines are the bulk of what the API
// sends, so they are encoded by hand, without reflection.
func appendLogLine(dst []byte, e *logs.LogEntry) []byte {
	dst = append(dst, `{"time":"`...)
	dst = e.Timestamp.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","process":`...)
	dst = appendJSONString(dst, e.Process)
	dst = append(dst, `,"stream":"`...)
	dst = append(dst, e.Stream.String()...)
	dst = append(dst, `","line":`...)
	dst = appendJSONString(dst, e.Line)
	if !utf8.Valid(e.Line) {
		dst = append(dst, `,"line_base64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, e.Line)
		dst = append(dst, '"')
	}
	return append(dst, "}\n"...)
}

// hexDigits are the digits of \u escapes.
const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		var rb [utf8.UTFMax]byte
		n := copy(rb[:], s[i:min(i+utf8.UTFMax, len(s))])
		r, size := utf8.DecodeRune(rb[:n])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
