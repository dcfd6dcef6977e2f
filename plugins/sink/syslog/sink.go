package syslog

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
	Name = "syslog"
	// Version is the sink's version.
	Version = "0.1.0"
)

var (
	_ sdk.Sink         = (*Sink)(nil)
	_ sdk.Configurable = (*Sink)(nil)
)

// Sink sends entries and events to a syslog server. It is safe for
// concurrent use. The zero value is not usable; call New.
type Sink struct {
	log hclog.Logger

	// Set by Configure.
	cfg *config
	enc *encoder
	// kick wakes the reconnect loop; done ends it.
	kick chan struct{}
	done chan struct{}
	// loopDone is closed when the reconnect loop has returned.
	loopDone chan struct{}

	mu sync.Mutex
	// conn is the live connection, nil while disconnected.
	conn *conn
	// queue holds encoded messages waiting, in order, for a connection.
	// While it is not empty, conn is nil.
	queue [][]byte
	// changed is closed, and replaced, whenever conn or queue change, and
	// when a reconnect attempt fails.
	changed chan struct{}
	closed  bool
	// lastErr says why there is no connection (nil while connected), and
	// failures counts the reconnect attempts that failed.
	lastErr  error
	failures uint64
}

// New returns an unconfigured Sink that logs to standard error.
func New() *Sink {
	return &Sink{
		log:     hclog.New(&hclog.LoggerOptions{Name: Name, JSONFormat: true, Output: os.Stderr}),
		changed: make(chan struct{}),
	}
}

// ConfigSchema returns the schema of the `sink "syslog" "NAME"` block.
func (s *Sink) ConfigSchema() *sdk.Schema { return schema }

// Configure validates the block and connects to the server: an
// unreachable server (connection refused, no socket, TLS handshake failed
// or not done within connect_timeout) is an error naming its address.
// With cfg.CheckOnly it only validates the block.
func (s *Sink) Configure(cfg *sdk.Config) error {
	c, err := parseConfig(cfg)
	if err != nil || cfg.CheckOnly {
		return err // prox validate: no connection
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg != nil || s.closed {
		return errors.New("sink is already configured")
	}
	s.kick = make(chan struct{}, 1)
	s.done = make(chan struct{})
	s.loopDone = make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), c.connectTimeout)
	defer cancel()
	cn, err := dial(ctx, c, s.wake)
	if err != nil && rejected(err) {
		// The server answered and refused us (its certificate): a
		// configuration problem that retrying will not fix.
		return fmt.Errorf("syslog server %s: %w", c.address, err)
	}
	s.cfg = c
	s.enc = newEncoder(c, maxMessage(c.transport))
	if err != nil {
		// A server that is down at start is not a reason to refuse to
		// run the processes: entries queue (max_queue) and the reconnect
		// loop retries with backoff.
		s.log.Error("syslog server unreachable; queueing and retrying", "address", c.address, "error", err)
		s.lastErr = err
		s.kick <- struct{}{}
	} else {
		s.conn = cn
		s.log.Debug("connected", "address", c.address)
	}
	go s.reconnectLoop()
	return nil
}

// Write sends the batch's entries and events, in time order. It returns
// nil once they are written to the connection or, when the connection is
// broken, queued to be sent on the next one. When the queue has no room
// for them, it waits for the outcome of the next reconnect attempt (at most
// three times connect_timeout, and no longer than ctx allows): once one
// fails, it fails naming the address and why it cannot be reached (e.g.
// "connection refused"), so that the host shows the sink failing and
// resends the batch with its backoff.
func (s *Sink) Write(ctx context.Context, b *sdk.Batch) error {
	s.mu.Lock()
	enc := s.enc
	s.mu.Unlock()
	if enc == nil {
		return errors.New("sink is not configured")
	}
	msgs := enc.batch(b)
	if len(msgs) == 0 {
		return nil
	}
	timer := time.NewTimer(s.cfg.deliverTimeout())
	defer timer.Stop()

	s.mu.Lock()
	defer s.mu.Unlock()
	waiting := false
	var failuresBefore uint64
	for {
		if s.closed {
			return errors.New("sink is closed")
		}
		if s.conn != nil && len(s.queue) == 0 {
			if !s.conn.alive() {
				s.dropLocked(errors.New("server closed the connection"))
			} else {
				n, err := s.conn.write(msgs, s.cfg.deliverTimeout())
				msgs = msgs[n:]
				if err == nil {
					return nil
				}
				s.dropLocked(err)
			}
		}
		if len(s.queue)+len(msgs) <= s.cfg.maxQueue {
			s.queue = append(s.queue, msgs...)
			s.notifyLocked()
			return nil
		}
		// No connection and no room: wait for the reconnect loop's next
		// attempt; fail with its error if it fails.
		if !waiting {
			waiting, failuresBefore = true, s.failures
		} else if s.failures != failuresBefore {
			return fmt.Errorf("syslog server %s unreachable, %d messages queued (max_queue %d): %w",
				s.cfg.address, len(s.queue), s.cfg.maxQueue, s.lastErr)
		}
		changed := s.changed
		s.mu.Unlock()
		var err error
		select {
		case <-changed:
		case <-ctx.Done():
			err = ctx.Err()
		case <-timer.C:
			err = errors.New("timed out")
		}
		s.mu.Lock()
		if err != nil {
			if s.lastErr != nil {
				err = fmt.Errorf("%w (last error: %v)", err, s.lastErr)
			}
			return fmt.Errorf("failed to deliver %d messages to syslog server %s (not connected, %d queued, max_queue %d): %w",
				len(msgs), s.cfg.address, len(s.queue), s.cfg.maxQueue, err)
		}
	}
}

// Flush waits until the queued messages are written to a connection, at
// most three times connect_timeout and no longer than ctx allows.
func (s *Sink) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg == nil {
		return nil
	}
	timer := time.NewTimer(s.cfg.deliverTimeout())
	defer timer.Stop()
	for len(s.queue) > 0 && !s.closed {
		changed := s.changed
		s.mu.Unlock()
		var err error
		select {
		case <-changed:
		case <-ctx.Done():
			err = ctx.Err()
		case <-timer.C:
			err = errors.New("timed out")
		}
		s.mu.Lock()
		if err != nil && len(s.queue) > 0 {
			return fmt.Errorf("flush: %d messages still queued for syslog server %s: %w", len(s.queue), s.cfg.address, err)
		}
	}
	return nil
}

// Close flushes (see Flush), then closes the connection and ends the
// reconnect loop. Messages it could not deliver make it fail with their
// count.
func (s *Sink) Close(ctx context.Context) error {
	ferr := s.Flush(ctx)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	lost := len(s.queue)
	s.queue = nil
	if s.conn != nil {
		s.conn.close()
		s.conn = nil
	}
	s.notifyLocked()
	configured := s.cfg != nil
	s.mu.Unlock()
	if !configured {
		return nil
	}
	close(s.done)
	<-s.loopDone
	if lost > 0 {
		return fmt.Errorf("closed with %d messages not delivered to syslog server %s: %w", lost, s.cfg.address, ferr)
	}
	return nil
}

// dropLocked closes the broken connection and wakes the reconnect loop.
func (s *Sink) dropLocked(cause error) {
	s.log.Warn("connection lost, reconnecting", "address", s.cfg.address, "error", cause)
	s.conn.close()
	s.conn = nil
	s.lastErr = cause
	s.notifyLocked()
	s.wake()
}

// failedLocked records a failed reconnect attempt and wakes the waiting
// Writes, which then fail with its error.
func (s *Sink) failedLocked(err error) {
	s.lastErr = err
	s.failures++
	s.notifyLocked()
}

// notifyLocked tells the waiters that conn or queue changed.
func (s *Sink) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// wake wakes the reconnect loop without blocking.
func (s *Sink) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// rejected reports whether a dial error means the server refused this
// client for good (certificate verification), rather than being away.
func rejected(err error) bool {
	var verr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var cerr x509.CertificateInvalidError
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr)
}
