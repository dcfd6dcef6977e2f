package syslog

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prox-dev/prox/sdk"
)

// Limits of the header fields (RFC 5424, section 6).
const (
	maxHostname = 255
	maxAppName  = 48
)

// sdID is the SD-ID of prox's structured data; 32473 is the private
// enterprise number reserved for documentation (RFC 5612).
const sdID = "prox@32473"

// msgidEvent is the MSGID of event messages.
const msgidEvent = "event"

// rfc5424Time is TIMESTAMP of RFC 5424: RFC 3339 with at most six digits
// of fraction.
const rfc5424Time = "2006-01-02T15:04:05.000000Z07:00"

// encoder turns entries and events into syslog messages, without framing.
type encoder struct {
	format         string
	facility       int
	stdoutSeverity int
	stderrSeverity int
	// hostname is already sanitized.
	hostname string
	// maxSize, when positive, is the largest message: the text after the
	// header is cut to fit, the header never is.
	maxSize int
}

// newEncoder returns the encoder of c; maxSize is the transport's limit.
func newEncoder(c *config, maxSize int) *encoder {
	return &encoder{
		format:         c.format,
		facility:       c.facility,
		stdoutSeverity: c.stdoutSeverity,
		stderrSeverity: c.stderrSeverity,
		hostname:       c.hostname,
		maxSize:        maxSize,
	}
}

// batch encodes the entries and events of b, merged in time order (an
// event goes after the lines of the same instant).
func (e *encoder) batch(b *sdk.Batch) [][]byte {
	out := make([][]byte, 0, len(b.Entries)+len(b.Events))
	i, j := 0, 0
	for i < len(b.Entries) || j < len(b.Events) {
		if j < len(b.Events) && (i == len(b.Entries) || b.Events[j].Timestamp.Before(b.Entries[i].Timestamp)) {
			out = append(out, e.event(&b.Events[j]))
			j++
			continue
		}
		out = append(out, e.entry(&b.Entries[i]))
		i++
	}
	return out
}

// entry encodes one output line.
func (e *encoder) entry(le *sdk.LogEntry) []byte {
	sev := e.stdoutSeverity
	if le.Stream == sdk.Stderr {
		sev = e.stderrSeverity
	}
	stream := le.Stream.String()
	sd := "[" + sdID + ` stream="` + sdValue(stream) + `"]`
	return e.message(sev, le.Timestamp, le.Process, stream, sd, le.Line)
}

// event encodes one event: severity err for crashed and failed, notice
// otherwise.
func (e *encoder) event(ev *sdk.Event) []byte {
	sev := sevNotice
	if ev.Type == sdk.EventCrashed || ev.Type == sdk.EventFailed {
		sev = sevErr
	}
	var sd strings.Builder
	sd.WriteString("[" + sdID)
	param := func(name, value string) {
		if value != "" {
			sd.WriteString(" " + name + `="` + sdValue(value) + `"`)
		}
	}
	param("event", string(ev.Type))
	param("state", string(ev.State))
	param("previous_state", string(ev.PreviousState))
	if hasExitCode(ev) {
		param("exit_code", strconv.Itoa(ev.ExitCode))
	}
	param("signal", ev.Signal)
	if ev.Restarts > 0 {
		param("restarts", strconv.Itoa(ev.Restarts))
	}
	sd.WriteString("]")
	return e.message(sev, ev.Timestamp, ev.Process, msgidEvent, sd.String(), []byte(eventText(ev)))
}

// hasExitCode reports whether ev's exit code means something.
func hasExitCode(ev *sdk.Event) bool {
	return ev.ExitCode != 0 || (ev.Signal == "" && (ev.Type == sdk.EventExited || ev.Type == sdk.EventCrashed))
}

// eventText is the human-readable text of an event, e.g.
// "crashed (running -> backoff, exit code 1, restarts 2): boom".
func eventText(ev *sdk.Event) string {
	var details []string
	if ev.PreviousState != "" || ev.State != "" {
		details = append(details, orDash(string(ev.PreviousState))+" -> "+orDash(string(ev.State)))
	}
	if hasExitCode(ev) {
		details = append(details, "exit code "+strconv.Itoa(ev.ExitCode))
	}
	if ev.Signal != "" {
		details = append(details, "signal "+ev.Signal)
	}
	if ev.Restarts > 0 {
		details = append(details, "restarts "+strconv.Itoa(ev.Restarts))
	}
	text := orDash(string(ev.Type))
	if len(details) > 0 {
		text += " (" + strings.Join(details, ", ") + ")"
	}
	if ev.Message != "" {
		text += ": " + ev.Message
	}
	return text
}

// message assembles one message in the configured format.
func (e *encoder) message(severity int, ts time.Time, process, msgid, sd string, text []byte) []byte {
	pri := "<" + strconv.Itoa(e.facility*8+severity) + ">"
	var header string
	if e.format == formatRFC3164 {
		if ts.IsZero() {
			ts = time.Now()
		}
		// RFC 3164: "Mmm dd hh:mm:ss HOSTNAME TAG: MSG", local time.
		header = pri + ts.Local().Format(time.Stamp) + " " + e.hostname + " " + headerField(process, maxAppName, true) + ": "
	} else {
		stamp := "-"
		if !ts.IsZero() {
			stamp = ts.Format(rfc5424Time)
		}
		// RFC 5424: "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]".
		header = pri + "1 " + stamp + " " + e.hostname + " " + headerField(process, maxAppName, false) + " - " + msgid + " " + sd
		if len(text) > 0 {
			header += " "
		}
	}
	if e.maxSize > 0 && len(header)+len(text) > e.maxSize {
		text = truncate(text, e.maxSize-len(header))
	}
	msg := make([]byte, 0, len(header)+len(text))
	msg = append(msg, header...)
	return append(msg, text...)
}

// truncate cuts text to at most n bytes; valid UTF-8 is cut between
// characters.
func truncate(text []byte, n int) []byte {
	if n <= 0 {
		return nil
	}
	if len(text) <= n {
		return text
	}
	if utf8.Valid(text) {
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
	}
	return text[:n]
}

// headerField makes s a header field: printable US-ASCII without spaces
// (RFC 5424's PRINTUSASCII), at most max bytes, "-" when empty. For the RFC
// 3164 tag, ':' '[' and ']' are replaced too, as they end the tag.
func headerField(s string, max int, tag bool) string {
	b := []byte(s)
	if len(b) > max {
		b = b[:max]
	}
	for i, c := range b {
		if c < 33 || c > 126 || (tag && (c == ':' || c == '[' || c == ']')) {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}

// sdValue escapes a PARAM-VALUE (RFC 5424, section 6.3.3): '"', '\' and
// ']' get a backslash; invalid UTF-8 becomes U+FFFD.
func sdValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsAny(s, `"\]`) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' || c == ']' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// orDash returns s, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
