package alerting

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// SignatureHeader carries the request's signature when a secret is set:
// "sha256=" followed by the hex HMAC-SHA256 of the body keyed with the
// secret.
const SignatureHeader = "X-Prox-Signature"

// IdempotencyHeader carries a request's idempotency key: a random UUID
// given to the alerts of one batch when they are spooled, the same on
// every attempt to deliver them, before and after a restart, so that a
// receiver can de-duplicate.
const IdempotencyHeader = "Idempotency-Key"

// maxDrain is how much of a response body is read (and discarded) so that
// the connection can be reused.
const maxDrain = 64 << 10

// maxKeptBody bounds the part of a refusal's response body a Result
// keeps (SenderConfig.KeepBody).
const maxKeptBody = 1 << 10

// Counters are a sink's statistics, shared by its detector, its senders
// and its deliveries.
type Counters struct {
	// Sent counts the alerts delivered; Dropped those given up on;
	// Suppressed the triggers not sent as alerts of their own; Requests
	// the HTTP requests made; Retries those that were retries.
	Sent, Dropped, Suppressed, Requests, Retries atomic.Int64
}

// SenderConfig is what a Sender sends with.
type SenderConfig struct {
	// URL is where bodies are POSTed.
	URL *url.URL
	// Endpoint names URL in logs and errors (scheme://host).
	Endpoint string
	// Timeout bounds one request.
	Timeout time.Duration
	// Headers are sent with every request; a "Host" entry sets the
	// request's Host.
	Headers map[string]string
	// Secret, when set, signs each body (SignatureHeader).
	Secret []byte
	// UserAgent is the User-Agent header.
	UserAgent string
	// KeepBody keeps the start of a refusal's response body in
	// Result.Body (Alertmanager says there what it refused). Off for a
	// webhook, whose answer may carry anything.
	KeepBody bool
}

// Sender POSTs bodies to one URL, one attempt at a time. Nothing it logs
// or returns contains the URL's path, query or user info, the secret or a
// header value.
type Sender struct {
	client   *http.Client
	url      string
	host     string // a Host header, if configured
	headers  http.Header
	secret   []byte
	keepBody bool
	counters *Counters
}

// NewSender returns a Sender that counts its requests in c.
func NewSender(cfg SenderConfig, c *Counters) *Sender {
	s := &Sender{
		client: &http.Client{
			Timeout:   cfg.Timeout,
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// A redirect is answered, not followed: a POST turned into a
			// GET would lose the alert silently.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		url:      cfg.URL.String(),
		headers:  http.Header{},
		secret:   cfg.Secret,
		keepBody: cfg.KeepBody,
		counters: c,
	}
	s.headers.Set("Content-Type", "application/json")
	s.headers.Set("User-Agent", cfg.UserAgent)
	for k, v := range cfg.Headers {
		if strings.EqualFold(k, "Host") {
			s.host = v
			continue
		}
		s.headers.Set(k, v)
	}
	return s
}

// Close releases the Sender's idle connections.
func (s *Sender) Close() { s.client.CloseIdleConnections() }

// Outcome is what became of one attempt.
type Outcome int

const (
	// Delivered: the receiver accepted the request (2xx).
	Delivered Outcome = iota
	// Refused: the receiver answered a status that a retry will not
	// change (3xx, 4xx other than 408 and 429).
	Refused
	// Unreachable: no answer (connection refused or reset, DNS, timeout),
	// or a gateway's for a receiver it cannot reach (502, 503, 504).
	Unreachable
	// Failing: the receiver answered another 5xx, 408 or 429.
	Failing
)

// Result is the outcome of one attempt.
type Result struct {
	Outcome Outcome
	Status  int
	// RetryAfter is the response's Retry-After, in seconds, or 0.
	RetryAfter time.Duration
	// Reason says why it was not delivered, without the URL.
	Reason string
	// Body is the start of a refusal's response body, with
	// SenderConfig.KeepBody.
	Body string
}

// Post makes one attempt to deliver body under the idempotency key.
func (s *Sender) Post(ctx context.Context, body []byte, key string) Result {
	var signature string
	if s.secret != nil {
		mac := hmac.New(sha256.New, s.secret)
		mac.Write(body)
		signature = "sha256=" + hex.EncodeToString(mac.Sum(nil))
	}
	status, retryAfter, answer, err := s.attempt(ctx, body, key, signature)
	r := Result{Status: status, RetryAfter: retryAfter}
	switch {
	case err != nil:
		r.Outcome, r.Reason = Unreachable, err.Error()
	case status >= 200 && status < 300:
		r.Outcome = Delivered
	case status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		// A proxy or load balancer answers for a receiver that is down
		// (or the receiver is briefly unavailable): retried as one that
		// cannot be reached, so that the first alert still goes out
		// within about a second of its return.
		r.Outcome, r.Reason = Unreachable, "status "+strconv.Itoa(status)
	case status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
		r.Outcome, r.Reason = Failing, "status "+strconv.Itoa(status)
	default:
		r.Outcome, r.Reason = Refused, "status "+strconv.Itoa(status)
		if s.keepBody {
			r.Body = answer
		}
	}
	return r
}

// attempt sends one request and returns its status, Retry-After and the
// start of its body.
func (s *Sender) attempt(ctx context.Context, body []byte, key, signature string) (int, time.Duration, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, "", errors.New("failed to build the request")
	}
	req.Header = s.headers.Clone()
	if s.host != "" {
		req.Host = s.host
	}
	req.Header.Set(IdempotencyHeader, key)
	if signature != "" {
		req.Header.Set(SignatureHeader, signature)
	}
	s.counters.Requests.Add(1)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, 0, "", redact(err)
	}
	var kept []byte
	if s.keepBody && resp.StatusCode >= 300 {
		kept, _ = io.ReadAll(io.LimitReader(resp.Body, maxKeptBody))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	var retryAfter time.Duration
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		retryAfter = time.Duration(secs) * time.Second
	}
	return resp.StatusCode, retryAfter, strings.TrimSpace(strings.ToValidUTF8(string(kept), string(utf8.RuneError))), nil
}

// redact drops the URL from a client error: it may carry a token.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}
