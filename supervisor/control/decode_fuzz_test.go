package control

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeFollowLine checks the client's decoder of the log follow
// stream (decode.go): on any message, it fails exactly when encoding/json
// does, and otherwise reads the same line or dropped notice. And the
// server's encoding of a line built from the
// input (appendLogLine) is one NDJSON line that decodes to what
// encoding/json makes of the API's form of that line (LogLineFrom), whose
// bytes are the line's exactly.
func FuzzDecodeFollowLine(f *testing.F) {
	ts := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, line := range []string{"plain", "", `with "quotes"`, "tab\there", "ünï ✓", "\xff bad", "\u2028"} {
		e := logs.LogEntry{Timestamp: ts, Process: "web", Stream: sdk.Stdout, Line: []byte(line)}
		f.Add(appendLogLine(nil, &e), "web", []byte(line), uint8(sdk.Stdout), ts.UnixNano())
	}
	// Other messages: reordered, spaced, nested, raw bytes, invalid.
	for _, msg := range []string{
		`{"dropped":42}`,
		`{"line":"reordered","stream":"stderr","process":"db","time":"2025-01-02T03:04:05Z"}`,
		`{ "time" : "2025-01-02T03:04:05Z" , "process":"x", "extra": 1, "line": "spaced" }`,
		`{"time":"2025-01-02T03:04:05Z","process":"x","line":"nested","more":{"a":[1,2]}}`,
		"{\"time\":\"2025-01-02T03:04:05Z\",\"process\":\"x\",\"line\":\"raw \xff byte\"}",
		`{"time": 12`,
		// Valid JSON a hand-written scanner once read differently, and
		// invalid JSON it once took (TestDecodeRefusesInvalidJSON).
		`{"time":"2025-01-02T03:04:05Z","Process":"x","LINE":"shouted"}`,
		`{"time":"2025-01-02T03:04:05Z","proceſſ":"long s","line":"x"}`,
		`{"dropped":007}`, `{"line":"x","n":1-2}`,
	} {
		f.Add([]byte(msg), "db", []byte("x"), uint8(sdk.Stderr), int64(-1))
	}

	f.Fuzz(func(t *testing.T, msg []byte, process string, line []byte, stream uint8, nanos int64) {
		checkFollowDecode(t, msg)

		e := logs.LogEntry{Timestamp: time.Unix(0, nanos), Process: process, Stream: sdk.Stream(stream), Line: line}
		enc := appendLogLine(nil, &e)
		if i := bytes.IndexByte(enc, '\n'); i != len(enc)-1 {
			t.Fatalf("the encoding of a line is not one NDJSON line: %q", enc)
		}
		checkFollowDecode(t, enc)
		got, err := decodeFollow(enc)
		require.NoError(t, err)
		require.NotNil(t, got.Line, "%q decodes to no line", enc)
		// What encoding/json makes of the API's form of the line.
		var want LogLine
		b, err := json.Marshal(LogLineFrom(e))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &want))
		require.True(t, want.Time.Equal(got.Line.Time), "time %v, want %v", got.Line.Time, want.Time)
		want.Time = got.Line.Time
		require.Equal(t, want, *got.Line)
		require.Equal(t, line, got.Line.Bytes(), "the line's bytes")
	})
}

// checkFollowDecode decodes msg with decodeFollow and with encoding/json
// and requires the same answer.
func checkFollowDecode(t *testing.T, msg []byte) {
	t.Helper()
	got, err := decodeFollow(msg)
	var want struct {
		LogLine
		Dropped uint64 `json:"dropped"`
	}
	jerr := json.Unmarshal(msg, &want)
	if (err != nil) != (jerr != nil) {
		t.Fatalf("%q: decode says %v, encoding/json says %v", msg, err, jerr)
	}
	if err != nil {
		return
	}
	if want.Dropped > 0 {
		require.Equal(t, FollowMessage{Dropped: want.Dropped}, got, "%q", msg)
		return
	}
	require.NotNil(t, got.Line, "%q", msg)
	l := *got.Line
	if !l.Time.Equal(want.Time) || l.Time.Format(time.RFC3339Nano) != want.Time.Format(time.RFC3339Nano) {
		t.Fatalf("%q: time %v, encoding/json reads %v", msg, l.Time, want.Time)
	}
	l.Time = want.Time
	require.Equal(t, want.LogLine, l, "%q", msg)
}

// FuzzDecodeRequest checks the decoding of the API's requests: the query
// of the log routes (parseLogParams), the body of a signal request
// (decodeSignalRequest) and those of reload and scale (decodeStrict). Neither panics; a refusal is a 4xx with its code
// and a message naming what is wrong; what is accepted round-trips: the
// client's encoding of the decoded log query (LogQuery.values), or of the
// decoded signal (by name and by number), decodes to the same.
func FuzzDecodeRequest(f *testing.F) {
	for _, q := range []string{
		"", "process=web", "process=web&process=db&process=web", "process=nope", "process=",
		"stream=stdout", "stream=stderr", "stream=both", "stream=all",
		"contains=GET+%2F&regex=%5E%5Cd%2B", "regex=%28unclosed", "since=5m", "since=-5m",
		"since=2025-01-02T03:04:05.123456789%2B01:00", "since=yesterday",
		"limit=10", "limit=-1", "limit=x", "tail=all", "tail=0", "tail=5", "tail=-2",
		"process=worker.1&stream=stderr&contains=a&regex=b&since=1h&limit=3&tail=all", "%zz=1&limit=2",
	} {
		f.Add(q, []byte(`{"signal":"SIGHUP"}`))
	}
	for _, body := range []string{
		`{"signal":"HUP"}`, `{"signal":"hup"}`, `{"signal":" sigterm "}`, `{"signal":"9"}`, `{"signal":"0"}`,
		`{"signal":"-1"}`, `{"signal":"SIGNOPE"}`, `{"signal":""}`, `{}`, `{"signal":1}`, `not json`, ``,
		`{"dry_run":true}`, `{"dryRun":true}`, `{"DRY_RUN":true} x`, `{"counts":{"web":3,"db":1},"dry_run":false}`,
		`{"counts":{"web":-1}}`, `{"counts":null}`, `{"count":{"web":2}}`, `{"counts":{"web":1e3}}`,
	} {
		f.Add("", []byte(body))
	}

	names := []string{"web", "db", "worker.1"}
	var specs []supervisor.ProcessSpec
	for _, n := range names {
		specs = append(specs, supervisor.ProcessSpec{Name: n})
	}
	// A supervisor that is never started: it only knows its processes.
	s := &Server{opts: Options{Supervisor: supervisor.New(specs, supervisor.Options{})}}

	f.Fuzz(func(t *testing.T, query string, body []byte) {
		q := (&url.URL{RawQuery: query}).Query() // as the server's r.URL.Query()
		p, apiErr := s.parseLogParams(q)
		if apiErr != nil {
			require.Nil(t, p)
			checkLogParamsRefusal(t, q, apiErr)
		} else {
			checkLogParams(t, s, names, p)
		}

		// The reload and scale bodies: decoded strictly, what is accepted
		// is what a lenient decoding reads too, and round-trips.
		var reload ReloadRequest
		checkStrict(t, body, &reload, &ReloadRequest{}, &ReloadRequest{})
		var scale ScaleRequest
		checkStrict(t, body, &scale, &ScaleRequest{}, &ScaleRequest{})

		sig, apiErr := decodeSignalRequest(bytes.NewReader(body))
		if apiErr != nil {
			checkAnswer(t, apiErr)
			switch {
			case apiErr.Status != http.StatusBadRequest:
				t.Fatalf("a refused signal request is a %d", apiErr.Status)
			case apiErr.Code == CodeInvalidArgument && strings.HasPrefix(apiErr.Message, `the body must be {"signal": "NAME"}: `):
			case apiErr.Code == CodeInvalidSignal && (strings.Contains(apiErr.Message, "unknown signal") || apiErr.Message == "no signal given"):
			default:
				t.Fatalf("a refused signal request: %s %q", apiErr.Code, apiErr.Message)
			}
			return
		}
		name, err := sdk.SignalName(sig)
		require.NoError(t, err, "an accepted signal has no name")
		for _, s := range []string{name, strconv.Itoa(int(sig))} {
			b, err := json.Marshal(SignalRequest{Signal: s}) // as Client.Signal
			require.NoError(t, err)
			again, apiErr := decodeSignalRequest(bytes.NewReader(b))
			require.Nil(t, apiErr, "%s", b)
			require.Equal(t, sig, again, "%s", b)
		}
	})
}

// checkStrict checks decodeStrict on body into v: a body it accepts is
// one json.Unmarshal reads (lenient, into lenient), to the same value,
// and v, encoded again, decodes to itself (into again). v, lenient and
// again are pointers to zero values of one type.
func checkStrict(t *testing.T, body []byte, v, lenient, again any) {
	t.Helper()
	if decodeStrict(body, v) != nil {
		return
	}
	require.NoError(t, json.Unmarshal(body, lenient), "accepted strictly, refused leniently: %q", body)
	require.Equal(t, lenient, v, "%q", body)
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, decodeStrict(b, again), "%s", b)
	require.Equal(t, v, again, "%s", b)
}

// checkAnswer checks the answer the server writes for e: its status, and
// a JSON body with e's code and message.
func checkAnswer(t *testing.T, e *APIError) {
	t.Helper()
	w := httptest.NewRecorder()
	writeError(w, e)
	require.Equal(t, e.Status, w.Code)
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var body errorBody
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), "%s", w.Body)
	require.Equal(t, e.Code, body.Error.Code)
	require.Equal(t, replaceInvalid([]byte(e.Message)), body.Error.Message, "invalid UTF-8 replaced, byte by byte")
}

// checkLogParamsRefusal checks the answer to a log query refused.
func checkLogParamsRefusal(t *testing.T, q url.Values, e *APIError) {
	t.Helper()
	checkAnswer(t, e)
	switch e.Code {
	case CodeUnknownProcess:
		require.Equal(t, http.StatusNotFound, e.Status)
		for _, name := range q["process"] {
			if strings.HasSuffix(e.Message, strconv.Quote(name)) {
				return
			}
		}
		t.Fatalf("%q names none of the processes asked for", e.Message)
	case CodeInvalidArgument, CodeInvalidRegex:
		require.Equal(t, http.StatusBadRequest, e.Status)
		param, _, _ := strings.Cut(strings.TrimPrefix(e.Message, "invalid "), " ")
		want := CodeInvalidArgument
		if param == "regex" {
			want = CodeInvalidRegex
		}
		if _, ok := q[param]; !ok || !strings.HasPrefix(e.Message, "invalid ") || e.Code != want {
			t.Fatalf("%s %q does not name a parameter given", e.Code, e.Message)
		}
	default:
		t.Fatalf("a refused log query: %d %s %q", e.Status, e.Code, e.Message)
	}
}

// checkLogParams checks accepted log parameters, and that the client's
// encoding of them gives them back.
func checkLogParams(t *testing.T, s *Server, names []string, p *logParams) {
	t.Helper()
	seen := map[string]bool{}
	for _, n := range p.filter.Processes {
		require.Contains(t, names, n)
		require.False(t, seen[n], "process %q twice", n)
		seen[n] = true
	}
	require.NotNil(t, p.matcher)
	require.GreaterOrEqual(t, p.limit, 0)
	require.GreaterOrEqual(t, p.tail, -1)
	lq := LogQuery{Processes: p.filter.Processes, Contains: p.filter.Contains, Regex: p.filter.Regex, Since: p.filter.Since}
	switch p.filter.Stream {
	case 0:
	case sdk.Stdout, sdk.Stderr:
		lq.Stream = p.filter.Stream.String()
	default:
		t.Fatalf("stream %d", p.filter.Stream)
	}

	for _, follow := range []bool{false, true} {
		lq.Limit = p.limit
		if follow {
			lq.Limit = p.tail
		}
		again, apiErr := s.parseLogParams(lq.values(follow))
		require.Nil(t, apiErr, "the client's encoding of an accepted query is refused")
		require.True(t, again.filter.Since.Equal(p.filter.Since), "since %v, then %v", p.filter.Since, again.filter.Since)
		want, got := p.filter, again.filter
		want.Since, got.Since = time.Time{}, time.Time{}
		require.Equal(t, want, got)
		if follow {
			require.Equal(t, p.tail, again.tail)
		} else {
			require.Equal(t, p.limit, again.limit)
		}
	}
}
