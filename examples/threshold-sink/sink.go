package main

import (
	"context"
	"errors"
	"os"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
)

// Name is the sink's kind in prox.hcl.
const Name = "threshold"

var (
	_ sdk.Sink         = (*Sink)(nil)
	_ sdk.Configurable = (*Sink)(nil)
)

// Sink raises threshold alerts from the lines and events it is written.
//
// Delivery is at least once: an alert that cannot be delivered makes Write
// (or Flush, or Close) fail, prox retries the batch, and the retry — which
// is not counted again, batches are recognised by Seq — delivers the alerts
// still pending. It is safe for concurrent use; call New.
type Sink struct {
	logger hclog.Logger

	mu       sync.Mutex
	cfg      *config
	detector *detector
	lastSeq  uint64
	queue    []*pending
	closed   bool
}

// New returns an unconfigured Sink; prox configures it before any Write.
func New() *Sink {
	return &Sink{logger: hclog.New(&hclog.LoggerOptions{Name: Name, JSONFormat: true, Output: os.Stderr})}
}

// ConfigSchema returns the schema of the sink block.
func (s *Sink) ConfigSchema() *sdk.Schema { return schema }

// Configure takes the sink block's values.
func (s *Sink) Configure(c *sdk.Config) error {
	cfg, err := parseConfig(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = cfg
	s.detector = newDetector(cfg)
	return nil
}

// Write counts the batch's matches (once per Seq) and delivers the alerts
// pending, the new ones included.
func (s *Sink) Write(ctx context.Context, b *sdk.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if b.Seq > s.lastSeq {
		s.lastSeq = b.Seq
		for _, a := range s.detector.batch(b) {
			s.logger.Warn("alert raised", "process", a.Process, "summary", a.Summary)
			p, err := newPending(s.cfg, a)
			if err != nil {
				return err
			}
			s.queue = append(s.queue, p)
		}
	}
	return s.deliver(ctx)
}

// Flush delivers the alerts pending.
func (s *Sink) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	return s.deliver(ctx)
}

// Close delivers the alerts pending, once more, and releases the sink.
func (s *Sink) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.cfg == nil {
		s.closed = true
		return nil
	}
	s.closed = true
	err := s.deliver(ctx)
	if err != nil {
		s.logger.Error("alerts lost on close", "count", len(s.queue), "error", err)
	}
	return err
}

func (s *Sink) usable() error {
	switch {
	case s.closed:
		return errors.New("the sink is closed")
	case s.cfg == nil:
		return errors.New("the sink is not configured")
	}
	return nil
}

// deliver delivers the queue in order, stopping at the first failure.
func (s *Sink) deliver(ctx context.Context) error {
	for len(s.queue) > 0 {
		if err := deliver(ctx, s.cfg, s.queue[0]); err != nil {
			return err
		}
		s.queue = s.queue[1:]
	}
	return nil
}
