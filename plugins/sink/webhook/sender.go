package webhook

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

// sender POSTs bodies to the webhook, one attempt at a time. Nothing it
// logs or returns contains the URL's path, query or user info, the secret
// or a header value.
type sender struct {
	client   *http.Client
	url      string
	endpoint string
	host     string // a Host header, if configured
	headers  http.Header
	secret   []byte
	counters *counters
}

// counters are the sink's statistics.
type counters struct {
	sent, dropped, suppressed, requests, retries atomic.Int64
}

func newSender(cfg *config, c *counters) *sender {
	s := &sender{
		client: &http.Client{
			Timeout:   cfg.timeout,
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// A redirect is answered, not followed: a POST turned into a
			// GET would lose the alert silently.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		url:      cfg.url.String(),
		endpoint: cfg.endpoint,
		headers:  http.Header{},
		secret:   cfg.secret,
		counters: c,
	}
	s.headers.Set("Content-Type", "application/json")
	s.headers.Set("User-Agent", "prox-webhook/"+Version)
	for k, v := range cfg.headers {
		if strings.EqualFold(k, "Host") {
			s.host = v
			continue
		}
		s.headers.Set(k, v)
	}
	return s
}

// outcome is what became of one attempt.
type outcome int

const (
	// delivered: the webhook accepted the request (2xx).
	delivered outcome = iota
	// refused: the webhook answered a status that a retry will not
	// change (3xx, 4xx other than 408 and 429).
	refused
	// unreachable: no answer (connection refused or reset, DNS, timeout).
	unreachable
	// failing: the webhook answered 5xx, 408 or 429.
	failing
)

// result is the outcome of one attempt.
type result struct {
	outcome outcome
	status  int
	// retryAfter is the response's Retry-After, in seconds, or 0.
	retryAfter time.Duration
	// reason says why it was not delivered, without the URL.
	reason string
}

// post makes one attempt to deliver body under the idempotency key.
func (s *sender) post(ctx context.Context, body []byte, key string) result {
	var signature string
	if s.secret != nil {
		mac := hmac.New(sha256.New, s.secret)
		mac.Write(body)
		signature = "sha256=" + hex.EncodeToString(mac.Sum(nil))
	}
	status, retryAfter, err := s.attempt(ctx, body, key, signature)
	r := result{status: status, retryAfter: retryAfter}
	switch {
	case err != nil:
		r.outcome, r.reason = unreachable, err.Error()
	case status >= 200 && status < 300:
		r.outcome = delivered
	case status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
		r.outcome, r.reason = failing, "status "+strconv.Itoa(status)
	default:
		r.outcome, r.reason = refused, "status "+strconv.Itoa(status)
	}
	return r
}

// attempt sends one request and returns its status and Retry-After.
func (s *sender) attempt(ctx context.Context, body []byte, key, signature string) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, errors.New("failed to build the request")
	}
	req.Header = s.headers.Clone()
	if s.host != "" {
		req.Host = s.host
	}
	req.Header.Set(IdempotencyHeader, key)
	if signature != "" {
		req.Header.Set(SignatureHeader, signature)
	}
	s.counters.requests.Add(1)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, 0, redact(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	var retryAfter time.Duration
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		retryAfter = time.Duration(secs) * time.Second
	}
	return resp.StatusCode, retryAfter, nil
}

// redact drops the URL from a client error: it may carry a token.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}
