package syslog

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testEncoder(format string, maxSize int) *encoder {
	return &encoder{format: format, facility: 1, stdoutSeverity: sevInfo, stderrSeverity: sevWarning, hostname: "host", maxSize: maxSize}
}

var testTime = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)

func TestRFC5424MessageLayout(t *testing.T) {
	e := testEncoder(formatRFC5424, 0)
	got := e.entry(&sdk.LogEntry{Timestamp: testTime, Process: "web", Stream: sdk.Stderr, Line: []byte("bad \xff line")})
	// PRI user.warning = 1*8+4, six digits of fraction, no PROCID, no BOM.
	assert.Equal(t, "<12>1 2026-03-04T05:06:07.123456Z host web - stderr [prox@32473 stream=\"stderr\"] bad \xff line", string(got))

	empty := e.entry(&sdk.LogEntry{Timestamp: testTime, Process: "web", Stream: sdk.Stdout})
	assert.Equal(t, `<14>1 2026-03-04T05:06:07.123456Z host web - stdout [prox@32473 stream="stdout"]`, string(empty))

	noTime := e.entry(&sdk.LogEntry{Process: "web", Stream: sdk.Stdout, Line: []byte("x")})
	assert.Equal(t, `<14>1 - host web - stdout [prox@32473 stream="stdout"] x`, string(noTime))
}

func TestRFC3164MessageLayout(t *testing.T) {
	e := testEncoder(formatRFC3164, 0)
	ts := time.Date(2026, 3, 4, 5, 6, 7, 0, time.Local)
	got := e.entry(&sdk.LogEntry{Timestamp: ts, Process: "web[1]: x", Stream: sdk.Stdout, Line: []byte("hello")})
	// The day is space-padded; ':' and '[' would end the tag.
	assert.Equal(t, "<14>Mar  4 05:06:07 host web_1___x: hello", string(got))
}

func TestEventMessages(t *testing.T) {
	e := testEncoder(formatRFC5424, 0)
	crashed := e.event(&sdk.Event{Timestamp: testTime, Process: "web", Type: "crashed", State: "backoff", PreviousState: "running", Signal: "SIGSEGV", Restarts: 3, Message: `say "hi"]`})
	assert.Equal(t, `<11>1 2026-03-04T05:06:07.123456Z host web - event [prox@32473 event="crashed" state="backoff" previous_state="running" signal="SIGSEGV" restarts="3"] crashed (running -> backoff, signal SIGSEGV, restarts 3): say "hi"]`, string(crashed))

	exited := e.event(&sdk.Event{Timestamp: testTime, Process: "web", Type: "exited", State: "stopped", PreviousState: "running"})
	assert.Equal(t, `<13>1 2026-03-04T05:06:07.123456Z host web - event [prox@32473 event="exited" state="stopped" previous_state="running" exit_code="0"] exited (running -> stopped, exit code 0)`, string(exited))

	failed := testEncoder(formatRFC3164, 0).event(&sdk.Event{Timestamp: testTime, Process: "web", Type: "failed"})
	assert.True(t, strings.HasPrefix(string(failed), "<11>"), "failed is err: %s", failed)
	assert.True(t, strings.HasSuffix(string(failed), " web: failed"), "%s", failed)
}

func TestBatchMergesEventsByTime(t *testing.T) {
	e := testEncoder(formatRFC5424, 0)
	b := &sdk.Batch{
		Entries: []sdk.LogEntry{
			{Timestamp: testTime, Process: "p", Stream: sdk.Stdout, Line: []byte("one")},
			{Timestamp: testTime.Add(2 * time.Second), Process: "p", Stream: sdk.Stdout, Line: []byte("three")},
		},
		Events: []sdk.Event{
			{Timestamp: testTime.Add(time.Second), Process: "p", Type: "started"},
			{Timestamp: testTime.Add(2 * time.Second), Process: "p", Type: "exited"},
		},
	}
	var got []string
	for _, m := range e.batch(b) {
		s := string(m)
		got = append(got, s[strings.LastIndex(s, "] ")+2:])
	}
	assert.Equal(t, []string{"one", "started", "three", "exited (exit code 0)"}, got)
}

func TestSDValueEscapes(t *testing.T) {
	assert.Equal(t, `plain`, sdValue("plain"))
	assert.Equal(t, `a\"b\\c\]d`, sdValue(`a"b\c]d`))
	assert.Equal(t, "x\uFFFDy", sdValue("x\xffy"), "PARAM-VALUE must be UTF-8")
}

func TestHeaderFieldSanitizes(t *testing.T) {
	assert.Equal(t, "-", headerField("", maxAppName, false))
	assert.Equal(t, "a_b_c__", headerField("a b\tc\xc3\xa9", maxAppName, false))
	assert.Equal(t, "a[1]:", headerField("a[1]:", maxAppName, false))
	assert.Equal(t, "a_1__", headerField("a[1]:", maxAppName, true))
	long := headerField(strings.Repeat("n", 100), maxAppName, false)
	assert.Len(t, long, maxAppName)
}

func TestDatagramTruncationKeepsHeader(t *testing.T) {
	e := testEncoder(formatRFC5424, maxUDPMessage)
	header := `<14>1 2026-03-04T05:06:07.123456Z host web - stdout [prox@32473 stream="stdout"] `

	ascii := strings.Repeat("a", 5000)
	got := e.entry(&sdk.LogEntry{Timestamp: testTime, Process: "web", Stream: sdk.Stdout, Line: []byte(ascii)})
	require.Len(t, got, maxUDPMessage)
	assert.Equal(t, header+ascii[:maxUDPMessage-len(header)], string(got))

	// Valid UTF-8 is cut between characters.
	utf := strings.Repeat("é", 3000)
	got = e.entry(&sdk.LogEntry{Timestamp: testTime, Process: "web", Stream: sdk.Stdout, Line: []byte(utf)})
	assert.LessOrEqual(t, len(got), maxUDPMessage)
	assert.Greater(t, len(got), maxUDPMessage-2)
	assert.True(t, strings.HasPrefix(string(got), header))
	assert.True(t, utf8.Valid(got))

	// A short line is untouched.
	got = e.entry(&sdk.LogEntry{Timestamp: testTime, Process: "web", Stream: sdk.Stdout, Line: []byte("short")})
	assert.Equal(t, header+"short", string(got))
}

func TestStreamMessagesAreNotTruncated(t *testing.T) {
	e := testEncoder(formatRFC5424, maxMessage(transportTCP))
	line := strings.Repeat("z", 64<<10)
	got := e.entry(&sdk.LogEntry{Timestamp: testTime, Process: "web", Stream: sdk.Stdout, Line: []byte(line)})
	assert.True(t, strings.HasSuffix(string(got), " "+line))
}
