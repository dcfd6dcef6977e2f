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
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// SignatureHeader carries the request's signature when a secret is set:
// "sha256=" followed by the hex HMAC-SHA256 of the body keyed with the
// secret.
const SignatureHeader = "X-Prox-Signature"

// Backoff between attempts: it doubles from minBackoff up to maxBackoff,
// and each wait is drawn at random from its upper half.
const (
	minBackoff = 200 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// maxDrain is how much of a response body is read (and discarded) so that
// the connection can be reused.
const maxDrain = 64 << 10

// sender POSTs bodies to the webhook with retries. Nothing it logs or
// returns contains the URL's path, query or user info, the secret or a
// header value.
type sender struct {
	client     *http.Client
	url        string
	endpoint   string
	host       string // a Host header, if configured
	headers    http.Header
	secret     []byte
	maxRetries int
	logger     hclog.Logger
	counters   *counters
}

// counters are the sink's statistics.
type counters struct {
	sent, dropped, suppressed, requests, retries atomic.Int64
}

func newSender(cfg *config, logger hclog.Logger, c *counters) *sender {
	s := &sender{
		client: &http.Client{
			Timeout:   cfg.timeout,
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// A redirect is answered, not followed: a POST turned into a
			// GET would lose the alert silently.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		url:        cfg.url.String(),
		endpoint:   cfg.endpoint,
		headers:    http.Header{},
		secret:     cfg.secret,
		maxRetries: cfg.maxRetries,
		logger:     logger,
		counters:   c,
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

// errDropped means the alerts were given up on (and logged).
var errDropped = errors.New("alerts dropped")

// post delivers body, which holds n alerts. It returns nil once the
// webhook accepted it (2xx), errDropped when it was refused (a status
// other than 5xx or 429) or when every retry failed, and ctx's error when
// ctx ended first.
func (s *sender) post(ctx context.Context, body []byte, n int) error {
	var signature string
	if s.secret != nil {
		mac := hmac.New(sha256.New, s.secret)
		mac.Write(body)
		signature = "sha256=" + hex.EncodeToString(mac.Sum(nil))
	}
	for attempt := 0; ; attempt++ {
		status, retryAfter, err := s.attempt(ctx, body, signature)
		if err == nil && status >= 200 && status < 300 {
			s.counters.sent.Add(int64(n))
			s.logger.Debug("alerts delivered", "endpoint", s.endpoint, "alerts", n, "status", status)
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		reason := ""
		switch {
		case err != nil:
			reason = err.Error()
		case status >= 500 || status == http.StatusTooManyRequests:
			reason = "status " + strconv.Itoa(status)
		default:
			s.counters.dropped.Add(int64(n))
			s.logger.Error("webhook refused the alerts; dropping them", "endpoint", s.endpoint, "alerts", n, "status", status)
			return errDropped
		}
		if attempt >= s.maxRetries {
			s.counters.dropped.Add(int64(n))
			s.logger.Error("webhook request failed; dropping the alerts", "endpoint", s.endpoint, "alerts", n,
				"attempts", attempt+1, "error", reason)
			return errDropped
		}
		wait := max(backoff(attempt), min(retryAfter, maxBackoff))
		s.logger.Warn("webhook request failed; retrying", "endpoint", s.endpoint, "attempt", attempt+1,
			"error", reason, "retry_in", wait.String())
		s.counters.retries.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// attempt sends one request and returns its status and Retry-After.
func (s *sender) attempt(ctx context.Context, body []byte, signature string) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, errors.New("failed to build the request")
	}
	req.Header = s.headers.Clone()
	if s.host != "" {
		req.Host = s.host
	}
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

// backoff is the wait after attempt (from 0): minBackoff doubled per
// attempt up to maxBackoff, drawn from its upper half.
func backoff(attempt int) time.Duration {
	d := maxBackoff
	if attempt < 16 {
		d = min(minBackoff<<attempt, maxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}
