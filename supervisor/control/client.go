package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxStreamLine bounds one NDJSON line a client accepts: a 64 KiB log
// line, escaped, with its base64 copy, fits with room to spare.
const maxStreamLine = 1 << 20

// Client talks to the control API of the prox on a socket. Its methods
// are safe for concurrent use.
type Client struct {
	socket    string
	transport *http.Transport
	http      *http.Client
}

// NewClient returns a client of the socket at path. Nothing is dialled
// until a call.
func NewClient(socket string) *Client {
	d := net.Dialer{Timeout: 5 * time.Second}
	t := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns: 4,
		// Below the server's idle timeout, so the client gives up an idle
		// connection before the server closes it under a new request.
		IdleConnTimeout:    DefaultIdleTimeout / 2,
		DisableCompression: true,
	}
	return &Client{socket: socket, transport: t, http: &http.Client{
		Transport: t,
		// A redirect is never followed: the answer comes back as it is
		// and is an error naming it (see redirectError).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// processPath returns the path of the named process's route, with the
// name as one escaped segment; "." and ".." are sent as escaped dots, so
// that no server reads them as path navigation.
func processPath(name string, action ...string) (string, error) {
	if name == "" {
		return "", errors.New("no process name")
	}
	p := "/v1/processes/" + nameSegment(name)
	for _, a := range action {
		p += "/" + a
	}
	return p, nil
}

// nameSegment is name escaped as one path segment: "." and ".." as
// escaped dots, so that no server reads them as path navigation.
func nameSegment(name string) string {
	if name == "." || name == ".." {
		return strings.Repeat("%2E", len(name))
	}
	return url.PathEscape(name)
}

// Socket returns the socket's path.
func (c *Client) Socket() string { return c.socket }

// Close closes the client's idle connections.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// LogQuery selects log lines. The zero LogQuery selects every kept line.
type LogQuery struct {
	// Processes keeps these processes' lines; empty keeps every process.
	Processes []string
	// Stream is "stdout", "stderr" or "" (both).
	Stream string
	// Contains keeps lines containing this text.
	Contains string
	// Regex keeps lines matching this RE2 pattern.
	Regex string
	// Since keeps lines from this time on; zero keeps every line.
	Since time.Time
	// Limit keeps the newest Limit lines of a query (0: all); for a
	// follow, it is how many kept lines come first (0: none, -1: all).
	Limit int
}

// values encodes q as the log routes' parameters; follow selects the
// meaning of Limit.
func (q LogQuery) values(follow bool) url.Values {
	v := url.Values{}
	for _, p := range q.Processes {
		v.Add("process", p)
	}
	if q.Stream != "" {
		v.Set("stream", q.Stream)
	}
	if q.Contains != "" {
		v.Set("contains", q.Contains)
	}
	if q.Regex != "" {
		v.Set("regex", q.Regex)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.Format(time.RFC3339Nano))
	}
	switch {
	case follow && q.Limit < 0:
		v.Set("tail", "all")
	case follow && q.Limit > 0:
		v.Set("tail", strconv.Itoa(q.Limit))
	case !follow && q.Limit > 0:
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// Status returns the instance's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	return &st, c.do(ctx, http.MethodGet, "/v1/status", nil, &st)
}

// Processes returns every process, in configuration order.
func (c *Client) Processes(ctx context.Context) ([]Process, error) {
	var ps []Process
	return ps, c.do(ctx, http.MethodGet, "/v1/processes", nil, &ps)
}

// Process returns one process.
func (c *Client) Process(ctx context.Context, name string) (*Process, error) {
	path, err := processPath(name)
	if err != nil {
		return nil, err
	}
	var p Process
	return &p, c.do(ctx, http.MethodGet, path, nil, &p)
}

// Start starts a process and returns it once it runs.
func (c *Client) Start(ctx context.Context, name string) (*Process, error) {
	return c.action(ctx, "start", name)
}

// Stop stops a process gracefully and returns it once it has ended.
func (c *Client) Stop(ctx context.Context, name string) (*Process, error) {
	return c.action(ctx, "stop", name)
}

// Restart restarts a process and returns it once it runs again.
func (c *Client) Restart(ctx context.Context, name string) (*Process, error) {
	return c.action(ctx, "restart", name)
}

func (c *Client) action(ctx context.Context, action, name string) (*Process, error) {
	path, err := processPath(name, action)
	if err != nil {
		return nil, err
	}
	var p Process
	return &p, c.do(ctx, http.MethodPost, path, nil, &p)
}

// All runs action ("start", "stop" or "restart") on every process at once
// and returns them all once done.
func (c *Client) All(ctx context.Context, action string) ([]Process, error) {
	var ps []Process
	return ps, c.do(ctx, http.MethodPost, "/v1/"+url.PathEscape(action), nil, &ps)
}

// Signal sends sig (a name such as "HUP" or "SIGHUP", or a number) to a
// running process.
func (c *Client) Signal(ctx context.Context, name, sig string) (*Process, error) {
	path, err := processPath(name, "signal")
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(SignalRequest{Signal: sig})
	if err != nil {
		return nil, err
	}
	var p Process
	return &p, c.do(ctx, http.MethodPost, path, body, &p)
}

// Logs returns the kept lines that match q, oldest first.
func (c *Client) Logs(ctx context.Context, q LogQuery) ([]LogLine, error) {
	var lines []LogLine
	return lines, c.do(ctx, http.MethodGet, "/v1/logs?"+q.values(false).Encode(), nil, &lines)
}

// FollowLogs opens a stream of the lines that match q: first the newest
// q.Limit kept ones (see LogQuery.Limit), then new ones as they are
// written. It returns once the subscription is in place, so every line
// written after it returns is in the stream. Close the stream (or cancel
// ctx) to end it.
func (c *Client) FollowLogs(ctx context.Context, q LogQuery) (*LogStream, error) {
	body, err := c.open(ctx, "/v1/logs/follow?"+q.values(true).Encode())
	if err != nil {
		return nil, err
	}
	return &LogStream{stream: newStream(body)}, nil
}

// FollowEvents opens a stream of every state change from now on. It
// returns once the subscription is in place. Close the stream (or cancel
// ctx) to end it.
func (c *Client) FollowEvents(ctx context.Context) (*EventStream, error) {
	body, err := c.open(ctx, "/v1/events")
	if err != nil {
		return nil, err
	}
	return &EventStream{stream: newStream(body)}, nil
}

// Metrics returns the running prox's metrics, GET /metrics, in
// Prometheus's text format.
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	body, err := c.open(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, maxMetrics))
	if err != nil {
		return nil, fmt.Errorf("read /metrics: %w", err)
	}
	return b, nil
}

// maxMetrics bounds what Metrics reads.
const maxMetrics = 32 << 20

// stream reads NDJSON.
type stream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
}

func newStream(body io.ReadCloser) stream {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), maxStreamLine)
	return stream{body: body, sc: sc}
}

// next returns the next line; io.EOF when the server ended the stream.
func (s *stream) next() ([]byte, error) {
	for s.sc.Scan() {
		if b := s.sc.Bytes(); len(bytes.TrimSpace(b)) > 0 {
			return b, nil
		}
	}
	if err := s.sc.Err(); err != nil {
		return nil, fmt.Errorf("read the stream: %w", err)
	}
	return nil, io.EOF
}

// Close ends the stream.
func (s *stream) Close() error { return s.body.Close() }

// LogStream is an open log follow.
type LogStream struct{ stream }

// Next returns the next message: a line, or a notice of dropped lines.
// It returns io.EOF when prox ended the stream (it is stopping).
func (s *LogStream) Next() (FollowMessage, error) {
	b, err := s.next()
	if err != nil {
		return FollowMessage{}, err
	}
	return decodeFollow(b)
}

// EventStream is an open events follow.
type EventStream struct{ stream }

// Next returns the next event; io.EOF when prox ended the stream.
func (s *EventStream) Next() (Event, error) {
	b, err := s.next()
	if err != nil {
		return Event{}, err
	}
	var ev Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return Event{}, fmt.Errorf("decode a stream line: %w", err)
	}
	return ev, nil
}

// open starts a streaming GET and returns its body once the answer's
// header arrived.
func (c *Client) open(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://prox"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp.Body, nil
}

// do sends a request and decodes a JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://prox"+path, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return decodeError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode the answer of %s %s: %w", method, path, err)
	}
	return nil
}

// decodeError reads an error answer. A redirect is an error too: the API
// never redirects, and following one could reach another route.
func decodeError(resp *http.Response) error {
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		what := "a request"
		if req := resp.Request; req != nil {
			what = req.Method + " " + req.URL.RequestURI()
		}
		return &APIError{Status: resp.StatusCode, Code: CodeInternal, Message: fmt.Sprintf(
			"the control API answered %s with a redirect (%s) to %q, which prox does not follow",
			what, resp.Status, resp.Header.Get("Location"))}
	}
	var body errorBody
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodySize))
	if err := json.Unmarshal(b, &body); err != nil || body.Error.Code == "" {
		return &APIError{Status: resp.StatusCode, Code: CodeInternal, Message: fmt.Sprintf("unexpected answer %s: %s", resp.Status, bytes.TrimSpace(b))}
	}
	return &APIError{Status: resp.StatusCode, Code: body.Error.Code, Message: body.Error.Message}
}

// transportError explains a failed request: nothing listening is
// ErrNoServer.
func (c *Client) transportError(err error) error {
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("%w: nothing listens on %s", ErrNoServer, c.socket)
	}
	if errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("cannot connect to %s: permission denied (the socket belongs to another user): %w", c.socket, err)
	}
	return fmt.Errorf("control API on %s: %w", c.socket, err)
}
