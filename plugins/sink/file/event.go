package file

import (
	"strconv"

	"github.com/prox-dev/prox/sdk"
)

// eventPrefix starts every event line, so that event lines stand out from
// the process's own output and are easy to grep.
const eventPrefix = "--- prox: process "

// appendEvent appends the text of an event line, e.g.
// "--- prox: process web crashed (exit 1, restarts 2): message", without
// a newline.
func appendEvent(b []byte, ev *sdk.Event) []byte {
	b = append(b, eventPrefix...)
	b = append(b, ev.Process...)
	b = append(b, ' ')
	what := string(ev.State)
	if what == "" {
		what = string(ev.Type)
	}
	if what == "" {
		what = "changed"
	}
	b = append(b, what...)
	sep := " ("
	if ev.Signal != "" {
		b = append(b, sep...)
		b = append(b, "signal "...)
		b = append(b, ev.Signal...)
		sep = ", "
	} else if ev.ExitCode != 0 {
		b = append(b, sep...)
		b = append(b, "exit "...)
		b = strconv.AppendInt(b, int64(ev.ExitCode), 10)
		sep = ", "
	}
	if ev.Restarts > 0 {
		b = append(b, sep...)
		b = append(b, "restarts "...)
		b = strconv.AppendInt(b, int64(ev.Restarts), 10)
		sep = ", "
	}
	if sep == ", " {
		b = append(b, ')')
	}
	if ev.Message != "" {
		b = append(b, ": "...)
		// An event line stays one line.
		for i := 0; i < len(ev.Message); i++ {
			c := ev.Message[i]
			if c == '\n' || c == '\r' {
				c = ' '
			}
			b = append(b, c)
		}
	}
	return b
}
