package control

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/sdk"
)

// Tuning of the log streams.
const (
	// flushSize is the size from which a stream writes its buffer even
	// though more lines are waiting.
	flushSize = 32 << 10
	// dropCheckInterval is how often a follow stream checks whether its
	// subscription lost lines, to tell the client.
	dropCheckInterval = 250 * time.Millisecond
	// lingerDelay is how long a follow stream waits after a line for more
	// lines to send with it.
	lingerDelay = 10 * time.Millisecond
)

// logParams are the parameters of the log routes.
type logParams struct {
	filter  logs.Filter
	matcher *logs.Matcher
	// limit: the query's newest lines (0: all kept ones).
	limit int
	// tail: the kept lines a follow sends first (0: none, -1: all).
	tail int
}

// parseLogParams reads the query parameters of the log routes:
// process (repeatable; the name of a process with replicas is each of its
// instances), stream, contains, regex, since, limit, tail.
func (s *Server) parseLogParams(q url.Values) (*logParams, *APIError) {
	p := &logParams{}
	for _, name := range q["process"] {
		// A process with replicas names all its instances.
		names, apiErr := s.resolve(name)
		if apiErr != nil {
			return nil, apiErr
		}
		for _, n := range names {
			if !slices.Contains(p.filter.Processes, n) {
				p.filter.Processes = append(p.filter.Processes, n)
			}
		}
	}
	switch stream := q.Get("stream"); stream {
	case "", "both":
	case "stdout":
		p.filter.Stream = sdk.Stdout
	case "stderr":
		p.filter.Stream = sdk.Stderr
	default:
		return nil, apiErrorf(http.StatusBadRequest, CodeInvalidArgument, "invalid stream %q: want stdout or stderr", stream)
	}
	p.filter.Contains = q.Get("contains")
	p.filter.Regex = q.Get("regex")
	if since := q.Get("since"); since != "" {
		t, err := parseSince(since, time.Now())
		if err != nil {
			return nil, apiErrorf(http.StatusBadRequest, CodeInvalidArgument, "%v", err)
		}
		p.filter.Since = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, apiErrorf(http.StatusBadRequest, CodeInvalidArgument, "invalid limit %q: want a number >= 0", v)
		}
		p.limit = n
	}
	switch v := q.Get("tail"); v {
	case "", "0":
	case "all":
		p.tail = -1
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, apiErrorf(http.StatusBadRequest, CodeInvalidArgument, `invalid tail %q: want a number >= 0 or "all"`, v)
		}
		p.tail = n
	}
	m, err := p.filter.Compile()
	if err != nil {
		if p.filter.Regex != "" && strings.Contains(err.Error(), "regex") {
			return nil, apiErrorf(http.StatusBadRequest, CodeInvalidRegex, "%v", err)
		}
		return nil, apiErrorf(http.StatusBadRequest, CodeInvalidArgument, "%v", err)
	}
	p.matcher = m
	return p, nil
}

// parseSince accepts an RFC 3339 time or a duration back from now ("5m").
func parseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, &sinceError{v}
	}
	return now.Add(-d), nil
}

// sinceError is an invalid since parameter.
type sinceError struct{ v string }

// Error implements error.
func (e *sinceError) Error() string {
	return "invalid since " + strconv.Quote(e.v) + `: want an RFC 3339 time ("2006-01-02T15:04:05Z") or a duration ("5m")`
}

// logManager returns the log manager, or writes 503 and returns nil.
func (s *Server) logManager(w http.ResponseWriter) *logs.Manager {
	if s.opts.Logs == nil {
		writeError(w, apiErrorf(http.StatusServiceUnavailable, CodeUnavailable, "this prox keeps no logs"))
	}
	return s.opts.Logs
}

// handleLogs answers GET /v1/logs: the kept lines that match, oldest
// first, as a JSON array.
func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	lm := s.logManager(w)
	if lm == nil {
		return
	}
	p, apiErr := s.parseLogParams(r.URL.Query())
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	entries := lm.QueryMatcher(p.matcher, p.limit)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, 0, flushSize+4096)
	buf = append(buf, '[')
	for i := range entries {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendLogLine(buf, &entries[i])
		if len(buf) >= flushSize {
			if _, err := w.Write(buf); err != nil {
				return
			}
			buf = buf[:0]
		}
	}
	buf = append(buf, "]\n"...)
	_, _ = w.Write(buf)
}

// handleLogsFollow answers GET /v1/logs/follow: the newest `tail` kept
// lines, then every new line that matches, as NDJSON, until the client
// goes away or prox stops. A line {"dropped": N} tells the client that N
// lines were lost because it read too slowly.
func (s *Server) handleLogsFollow(w http.ResponseWriter, r *http.Request) {
	lm := s.logManager(w)
	if lm == nil {
		return
	}
	p, apiErr := s.parseLogParams(r.URL.Query())
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	// Join before reading the backlog, so that no line falls between the
	// two; lines in both are sent once (see dedup).
	h, f := s.hubs.join(lm, p)
	defer s.hubs.leave(h, f)
	var backlog []logs.LogEntry
	if p.tail != 0 {
		backlog = lm.QueryMatcher(p.matcher, max(p.tail, 0))
	}
	seen := newDedup(backlog)

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	buf := make([]byte, 0, flushSize+4096)
	for i := range backlog {
		buf = appendLogLine(buf, &backlog[i])
		if len(buf) >= flushSize {
			if _, err := w.Write(buf); err != nil {
				return
			}
			buf = buf[:0]
		}
	}
	if _, err := w.Write(buf); err != nil || rc.Flush() != nil {
		return
	}
	backlog = nil

	ticker := time.NewTicker(dropCheckInterval)
	defer ticker.Stop()
	ctx := r.Context()
	var dropped uint64 // lost lines not yet reported
	for {
		buf = buf[:0]
		select {
		case <-ctx.Done():
			return
		case <-h.ended:
			// prox is stopping: send what is queued, then end.
			for {
				select {
				case b := <-f.batches:
					buf = append(buf, seen.filter(b)...)
					continue
				default:
				}
				break
			}
			_, _ = w.Write(buf)
			return
		case b := <-f.batches:
			dropped += b.dropped
			buf = append(buf, seen.filter(b)...)
		case <-ticker.C:
		}
		dropped += f.dropped.Swap(0)
		if dropped > 0 {
			buf = append(buf, `{"dropped":`...)
			buf = strconv.AppendUint(buf, dropped, 10)
			buf = append(buf, "}\n"...)
			dropped = 0
		}
		if len(buf) > 0 {
			if _, err := w.Write(buf); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// dedup recognises the lines of a follow's subscription that were also in
// its backlog: the subscription starts before the backlog is read, so a
// line written in between is in both. It is a multiset of the backlog's
// lines (process, stream, time and bytes); each match is used once.
type dedup struct {
	pending map[dedupKey]int
	// newest is the newest backlog line's time (Unix nanoseconds): a
	// line stamped later cannot be a duplicate, which spares the lookup.
	newest int64
}

type dedupKey struct {
	process string
	stream  sdk.Stream
	nanos   int64
	line    string
}

func newDedup(backlog []logs.LogEntry) *dedup {
	d := &dedup{}
	if len(backlog) == 0 {
		return d
	}
	d.pending = make(map[dedupKey]int, len(backlog))
	for i := range backlog {
		k := keyOf(&backlog[i])
		d.pending[k]++
		d.newest = max(d.newest, k.nanos)
	}
	return d
}

func keyOf(e *logs.LogEntry) dedupKey {
	return dedupKey{process: e.Process, stream: e.Stream, nanos: e.Timestamp.UnixNano(), line: string(e.Line)}
}

// filter returns the NDJSON of b's lines that were not in the backlog:
// b's shared encoding when none was.
func (d *dedup) filter(b *logBatch) []byte {
	if len(d.pending) == 0 {
		return b.data
	}
	var out []byte
	for i := range b.entries {
		if d.skip(&b.entries[i]) {
			if out == nil {
				out = make([]byte, 0, len(b.data))
				for j := range i {
					out = appendLogLine(out, &b.entries[j])
				}
			}
			continue
		}
		if out != nil {
			out = appendLogLine(out, &b.entries[i])
		}
	}
	if out == nil {
		return b.data
	}
	return out
}

// skip reports whether e was already sent with the backlog.
func (d *dedup) skip(e *logs.LogEntry) bool {
	if len(d.pending) == 0 || e.Timestamp.UnixNano() > d.newest {
		return false
	}
	k := keyOf(e)
	n, ok := d.pending[k]
	if !ok {
		return false
	}
	if n == 1 {
		delete(d.pending, k)
	} else {
		d.pending[k] = n - 1
	}
	return true
}
