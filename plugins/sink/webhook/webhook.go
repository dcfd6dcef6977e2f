package webhook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
)

const (
	// Name is the sink's kind in prox.hcl.
	Name = "webhook"
	// Version is the sink's version.
	Version = "0.1.0"
)

var (
	_ sdk.Sink         = (*Sink)(nil)
	_ sdk.Configurable = (*Sink)(nil)
	_ sdk.Shutdowner   = (*Sink)(nil)
)

// Sink raises alerts from log lines and process events and POSTs them to
// a webhook. It is safe for concurrent use; Writes are handled one at a
// time. The zero value is not usable; call New.
type Sink struct {
	logger hclog.Logger
	now    func() time.Time

	// mu serialises Write, Flush and Close and guards what follows.
	mu       sync.Mutex
	cfg      *config
	detector *detector
	sender   *sender
	closed   bool
	// pending are alerts whose delivery was interrupted by the end of a
	// Write's context; pendingSeq is that batch's number. A resend of the
	// batch delivers them instead of scanning it again.
	pending    []*alert
	pendingSeq uint64

	// stop ends the retries of a Write in progress when the sink closes.
	stop     context.Context
	stopFunc context.CancelFunc
	counters counters
}

// Stats are a sink's counters since it started.
type Stats struct {
	// Sent counts the alerts the webhook accepted.
	Sent int64
	// Dropped counts the alerts given up on: refused by the webhook, or
	// still failing after max_retries.
	Dropped int64
	// Suppressed counts the triggers not sent as alerts of their own
	// (repeats within the cooldown or within one batch).
	Suppressed int64
	// Requests counts the HTTP requests made; Retries those that were
	// retries.
	Requests, Retries int64
}

// New returns an unconfigured Sink that logs to stderr.
func New() *Sink {
	stop, cancel := context.WithCancel(context.Background())
	return &Sink{
		logger:   hclog.New(&hclog.LoggerOptions{Name: "sink." + Name, JSONFormat: true, Output: os.Stderr}),
		now:      time.Now,
		stop:     stop,
		stopFunc: cancel,
	}
}

// ConfigSchema returns the schema of the `sink "webhook" "NAME"` block.
func (s *Sink) ConfigSchema() *sdk.Schema { return schema }

// Configure validates the block's values. Its errors never contain the
// secret, header values or the URL.
func (s *Sink) Configure(c *sdk.Config) error {
	cfg, err := parseConfig(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg != nil {
		return errors.New("already configured")
	}
	s.cfg = cfg
	s.detector = newDetector(cfg, s.now, &s.counters.suppressed)
	s.sender = newSender(cfg, s.logger, &s.counters)
	s.logger.Debug("configured", "endpoint", cfg.endpoint, "format", cfg.format)
	return nil
}

// Write scans the batch for triggers and delivers the alerts they raise in
// one request. It returns nil once the alerts are delivered or dropped
// (refused, or failing after max_retries), so a dead webhook delays the
// batch by the retries and no more. When ctx ends first, the alerts are
// kept and Write returns ctx's error: the host's resend of the batch
// delivers them.
func (s *Sink) Write(ctx context.Context, b *sdk.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	var alerts []*alert
	if len(s.pending) > 0 && b.Seq == s.pendingSeq {
		alerts = s.pending
	} else {
		alerts = append(s.pending, s.detector.scan(b)...)
	}
	s.pending, s.pendingSeq = nil, 0
	if err := s.deliver(ctx, alerts); err != nil {
		s.pending, s.pendingSeq = alerts, b.Seq
		return err
	}
	return nil
}

// deliver sends alerts in one request; it fails only when ctx (or the
// sink's closing) interrupts it.
func (s *Sink) deliver(ctx context.Context, alerts []*alert) error {
	if len(alerts) == 0 {
		return nil
	}
	body, err := encode(s.cfg.format, alerts)
	if err != nil {
		s.counters.dropped.Add(int64(len(alerts)))
		s.logger.Error("dropping alerts", "alerts", len(alerts), "error", err)
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.stop, cancel)()
	err = s.sender.post(ctx, body, len(alerts))
	if err == nil || errors.Is(err, errDropped) {
		return nil
	}
	return fmt.Errorf("alerts not delivered: %w", err)
}

func (s *Sink) usable() error {
	if s.closed {
		return errors.New("sink is closed")
	}
	if s.cfg == nil {
		return errors.New("sink is not configured")
	}
	return nil
}

// Flush delivers alerts left over from an interrupted Write.
func (s *Sink) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.deliver(ctx, s.pending); err != nil {
		return err
	}
	s.pending, s.pendingSeq = nil, 0
	return nil
}

// Close ends the retries of a Write in progress, drops (and logs) alerts
// not delivered, and releases the HTTP connections. Later Writes fail;
// closing twice is not an error.
func (s *Sink) Close(context.Context) error {
	s.stopFunc()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if n := len(s.pending); n > 0 {
		s.counters.dropped.Add(int64(n))
		s.logger.Error("closing with undelivered alerts; dropping them", "alerts", n)
		s.pending = nil
	}
	if s.sender != nil {
		s.sender.client.CloseIdleConnections()
	}
	return nil
}

// Shutdown closes the sink if the host did not.
func (s *Sink) Shutdown() error {
	return s.Close(context.Background())
}

// Stats returns the sink's counters.
func (s *Sink) Stats() Stats {
	st := Stats{
		Sent:       s.counters.sent.Load(),
		Dropped:    s.counters.dropped.Load(),
		Requests:   s.counters.requests.Load(),
		Retries:    s.counters.retries.Load(),
		Suppressed: s.counters.suppressed.Load(),
	}
	return st
}
