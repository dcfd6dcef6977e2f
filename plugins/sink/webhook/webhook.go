package webhook

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/plugins/sink/internal/alerting"
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

// Sink raises alerts from log lines and process events, spools them on
// disk and POSTs them to a webhook from there. It is safe for concurrent
// use; Writes are handled one at a time. The zero value is not usable;
// call New.
type Sink struct {
	logger hclog.Logger
	now    func() time.Time

	// mu serialises Write, Flush and Close and guards what follows.
	mu       sync.Mutex
	cfg      *config
	detector *alerting.Detector
	sender   *alerting.Sender
	spool    *alerting.Spool
	// delivery runs from the first Write or Flush on: not from Configure,
	// which `prox validate` calls too.
	delivery *alerting.Delivery
	closed   bool
	// pending are alerts that a Write could not spool; pendingSeq is that
	// batch's number. The host's resend of the batch spools them instead
	// of scanning it again.
	pending    []*alerting.Alert
	pendingSeq uint64
	// spooledSeq is the number of the last batch spooled: a resend of it
	// (its acknowledgement was lost on the way) is acknowledged again.
	spooledSeq uint64

	counters alerting.Counters
}

// Stats are a sink's counters since it started.
type Stats struct {
	// Sent counts the alerts the webhook accepted.
	Sent int64
	// Dropped counts the alerts given up on: refused by the webhook, not
	// delivered within retry_for, or finding the spool full.
	Dropped int64
	// Suppressed counts the triggers not sent as alerts of their own
	// (repeats within the cooldown or within one batch).
	Suppressed int64
	// Requests counts the HTTP requests made; Retries those that were
	// retries.
	Requests, Retries int64
	// Spooled is the number of alerts waiting in the spool.
	Spooled int64
}

// New returns an unconfigured Sink that logs to stderr.
func New() *Sink {
	return &Sink{
		logger: hclog.New(&hclog.LoggerOptions{Name: "sink." + Name, JSONFormat: true, Output: os.Stderr}),
		now:    time.Now,
	}
}

// ConfigSchema returns the schema of the `sink "webhook" "NAME"` block.
func (s *Sink) ConfigSchema() *sdk.Schema { return schema }

// Configure validates the block's values and takes the spool's lock. Its
// errors never contain the secret, header values or the URL.
//
// A spool held by another sink of the same prox is an error of the spool
// attribute. One held by another prox (a `prox validate` while prox up
// runs, or a prox still stopping) is not: the lock is taken again at the
// first Write or Flush. With c.CheckOnly it only validates the values.
func (s *Sink) Configure(c *sdk.Config) error {
	cfg, err := parseConfig(c)
	if err != nil || c.CheckOnly {
		return err // prox validate: no spool folder, no lock
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg != nil {
		return errors.New("already configured")
	}
	sp := alerting.NewSpool(cfg.spool, cfg.spoolMax, Name)
	if err := sp.Lock(); err != nil {
		var busy *alerting.BusyError
		if !errors.As(err, &busy) || busy.SameProx() {
			return spoolError(cfg, err)
		}
		s.logger.Debug("the spool is in use by another prox; it is locked again at the first write", "spool", cfg.spool, "holder", busy.PID)
	}
	for _, name := range cfg.ignored {
		s.logger.Warn(name+" is ignored: a failed delivery is retried for retry_for (default 1h); remove it", "endpoint", cfg.endpoint)
	}
	s.cfg = cfg
	s.spool = sp
	s.detector = alerting.NewDetector(alerting.Triggers{Match: cfg.match, Events: cfg.events, Cooldown: cfg.cooldown, ContextLines: cfg.contextLines},
		s.now, &s.counters.Suppressed)
	s.sender = alerting.NewSender(alerting.SenderConfig{
		URL: cfg.url, Endpoint: cfg.endpoint, Timeout: cfg.timeout, Headers: cfg.headers, Secret: cfg.secret, UserAgent: "prox-webhook/" + Version,
	}, &s.counters)
	s.logger.Debug("configured", "endpoint", cfg.endpoint, "format", cfg.format, "spool", cfg.spool)
	return nil
}

// spoolError is a spool problem as an error of the spool attribute.
func spoolError(cfg *config, err error) error {
	var busy *alerting.BusyError
	if errors.As(err, &busy) && !cfg.spoolSet {
		return sdk.AttributeErrorf("spool", "the default spool %s, named after the url, is %w: give each webhook sink with this url a spool of its own", cfg.spool, err)
	}
	return sdk.AttributeErrorf("spool", "%s: %w", cfg.spool, err)
}

// open locks the spool if Configure could not, loads the records an
// earlier sink left and starts their delivery, once.
func (s *Sink) open() error {
	if s.delivery != nil {
		return nil
	}
	if err := s.spool.Lock(); err != nil {
		return fmt.Errorf("alert spool %s: %w", s.cfg.spool, err)
	}
	unreadable, err := s.spool.Load(s.logger)
	s.counters.Dropped.Add(int64(unreadable))
	if err != nil {
		return fmt.Errorf("alert spool %s: %w", s.cfg.spool, err)
	}
	if records, alerts := s.spool.Counts(); records > 0 {
		s.logger.Info("delivering the alerts left in the spool", "spool", s.cfg.spool, "alerts", alerts)
	}
	s.delivery = alerting.StartDelivery(alerting.DeliveryConfig{
		Spool: s.spool, Poster: s.sender, RetryFor: s.cfg.retryFor, Kind: Name, Endpoint: s.cfg.endpoint,
		Logger: s.logger, Counters: &s.counters, Now: s.now,
	})
	return nil
}

// Write scans the batch for triggers and spools the alerts they raise, as
// one request, before it returns: nil means they are on disk (synced),
// and are delivered from there, in order, after the alerts spooled before
// them. When the spool is full, the alerts that do not fit are dropped,
// logged at ERROR and counted, and Write returns nil. A Write whose ctx
// has ended does nothing and returns ctx's error.
func (s *Sink) Write(ctx context.Context, b *sdk.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.open(); err != nil {
		return err
	}
	if b.Seq != 0 && b.Seq == s.spooledSeq {
		return nil
	}
	var alerts []*alerting.Alert
	if len(s.pending) > 0 && b.Seq == s.pendingSeq {
		alerts = s.pending
	} else {
		alerts = append(s.pending, s.detector.Scan(b)...)
	}
	s.pending, s.pendingSeq = nil, 0
	if err := s.spoolAlerts(alerts); err != nil {
		s.pending, s.pendingSeq = alerts, b.Seq
		return err
	}
	s.spooledSeq = b.Seq
	return nil
}

// spoolAlerts appends alerts to the spool as one record, as many as fit.
func (s *Sink) spoolAlerts(alerts []*alerting.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	if room := s.spool.Room(); len(alerts) > room {
		lost := alerts[room:]
		alerts = alerts[:room]
		s.counters.Dropped.Add(int64(len(lost)))
		s.logger.Error("the alert spool is full; dropping new alerts", "spool", s.cfg.spool, "alerts", len(lost),
			"spool_max_alerts", s.cfg.spoolMax, "endpoint", s.cfg.endpoint)
		if len(alerts) == 0 {
			return nil
		}
	}
	body, err := encode(s.cfg.format, alerts)
	if err != nil {
		s.counters.Dropped.Add(int64(len(alerts)))
		s.logger.Error("dropping alerts", "alerts", len(alerts), "error", err)
		return nil
	}
	if _, err := s.spool.Append(body, len(alerts), s.now()); err != nil {
		return fmt.Errorf("alert spool %s: %w", s.cfg.spool, err)
	}
	return nil
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

// Flush makes an attempt at once to deliver what the spool holds and
// waits while the webhook accepts: it returns once the spool is empty, or
// as soon as an attempt fails (the alerts are safe in the spool: the
// delivery goes on, and a later prox on this spool delivers what is left),
// or when ctx ends. It fails only when the spool cannot be opened.
func (s *Sink) Flush(ctx context.Context) error {
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	if err := s.open(); err != nil {
		s.mu.Unlock()
		return err
	}
	d := s.delivery
	s.mu.Unlock()
	d.Flush(ctx)
	return nil
}

// Close ends the delivery, an attempt in flight included, and releases the
// spool and the HTTP connections. Spooled alerts stay on disk for the next
// sink on this spool (prox's next start). Later Writes fail; closing twice
// is not an error.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.delivery != nil {
		s.delivery.Stop()
		if _, alerts := s.spool.Counts(); alerts > 0 {
			s.logger.Warn("closing with undelivered alerts; they stay in the spool for the next start", "spool", s.cfg.spool,
				"alerts", alerts, "endpoint", s.cfg.endpoint)
		}
	}
	if n := len(s.pending); n > 0 {
		s.counters.Dropped.Add(int64(n))
		s.logger.Error("closing with alerts that could not be spooled; dropping them", "alerts", n)
		s.pending = nil
	}
	if s.spool != nil {
		s.spool.Unlock()
	}
	if s.sender != nil {
		s.sender.Close()
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
		Sent:       s.counters.Sent.Load(),
		Dropped:    s.counters.Dropped.Load(),
		Requests:   s.counters.Requests.Load(),
		Retries:    s.counters.Retries.Load(),
		Suppressed: s.counters.Suppressed.Load(),
	}
	s.mu.Lock()
	sp := s.spool
	s.mu.Unlock()
	if sp != nil {
		_, alerts := sp.Counts()
		st.Spooled = int64(alerts)
	}
	return st
}
