package syslog

import (
	"context"
	"errors"
	"time"
)

// Reconnection backoff bounds.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// reconnectLoop runs from Configure to Close. Woken when a connection is
// lost, it reconnects with a doubling backoff, then writes the queue on
// the new connection before Write may use it, so order is kept.
func (s *Sink) reconnectLoop() {
	defer close(s.loopDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.done
		cancel()
	}()
	for {
		select {
		case <-s.done:
			return
		case <-s.kick:
		}
		backoff := minBackoff
		for !s.reconnect(ctx) {
			select {
			case <-s.done:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
		}
	}
}

// reconnect makes one attempt. It reports true when there is nothing left
// to do: connected with the queue written, or closed.
func (s *Sink) reconnect(ctx context.Context) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return true
	}
	if s.conn != nil {
		if s.conn.alive() {
			s.mu.Unlock()
			return true
		}
		s.dropLocked(errors.New("server closed the connection"))
	}
	s.mu.Unlock()

	dctx, cancel := context.WithTimeout(ctx, s.cfg.connectTimeout)
	cn, err := dial(dctx, s.cfg, s.wake)
	cancel()
	if err != nil {
		s.log.Debug("reconnect failed", "address", s.cfg.address, "error", err)
		s.mu.Lock()
		s.failedLocked(err)
		s.mu.Unlock()
		return false
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		cn.close()
		return true
	}
	queued := len(s.queue)
	n, err := cn.write(s.queue, s.cfg.deliverTimeout())
	s.queue = s.queue[n:]
	if len(s.queue) == 0 {
		s.queue = nil
	}
	s.notifyLocked()
	if err != nil {
		cn.close()
		s.log.Warn("resending after reconnect failed", "address", s.cfg.address, "sent", n, "queued", len(s.queue), "error", err)
		s.failedLocked(err)
		return false
	}
	s.conn = cn
	s.lastErr = nil
	s.log.Info("reconnected", "address", s.cfg.address, "resent", queued)
	return true
}
