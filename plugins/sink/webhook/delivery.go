package webhook

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Backoff between attempts at the spool's oldest record: the wait doubles
// from minBackoff up to maxUnreachableBackoff while the webhook cannot be
// reached, and up to maxFailingBackoff while it answers an error status;
// each wait is drawn at random from its upper half. A Retry-After in the
// answer is waited for, up to maxRetryAfter.
//
// Why 1 s while the webhook cannot be reached: an attempt at a webhook
// that is down costs one connection attempt (refused, or no route) and
// nothing more, no more than a separate probe would, so trying every
// second for the hour of retry_for stays cheap (3,600 connection
// attempts), and the first alert reaches a webhook that comes back within
// about a second. A webhook that answers errors is up but unwell: it gets
// up to 10 s between requests.
const (
	minBackoff            = 100 * time.Millisecond
	maxUnreachableBackoff = time.Second
	maxFailingBackoff     = 10 * time.Second
	maxRetryAfter         = time.Minute
)

// stillFailingEvery is how often a webhook that keeps failing is logged at
// WARN again; the attempts in between are logged at DEBUG.
const stillFailingEvery = time.Minute

// delivery sends the spool's records to the webhook from a goroutine of
// its own: in order, one at a time, the oldest until it is delivered,
// refused or expired.
type delivery struct {
	spool    *spool
	sender   *sender
	retryFor time.Duration
	endpoint string
	logger   hclog.Logger
	counters *counters
	now      func() time.Time

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	// kick cuts a backoff short (Flush).
	kick chan struct{}

	mu sync.Mutex
	// failures counts the attempts that failed (unreachable or failing).
	failures uint64
	// changed is closed, and replaced, when a record leaves the spool or
	// an attempt fails.
	changed chan struct{}
}

// startDelivery starts delivering the records of sp, which the caller has
// locked and loaded.
func startDelivery(cfg *config, sp *spool, snd *sender, logger hclog.Logger, c *counters, now func() time.Time) *delivery {
	ctx, cancel := context.WithCancel(context.Background())
	d := &delivery{
		spool: sp, sender: snd, retryFor: cfg.retryFor, endpoint: cfg.endpoint, logger: logger, counters: c, now: now,
		ctx: ctx, cancel: cancel, done: make(chan struct{}), kick: make(chan struct{}, 1), changed: make(chan struct{}),
	}
	go d.run()
	return d
}

func (d *delivery) run() {
	defer close(d.done)
	var (
		streak    int       // failed attempts in a row
		since     time.Time // the first of them
		lastWarn  time.Time
		lastTried uint64 // the record attempted last
	)
	for {
		rec := d.spool.head()
		if rec == nil {
			select {
			case <-d.spool.added:
			case <-d.kick:
			case <-d.ctx.Done():
				return
			}
			continue
		}
		n := int64(rec.header.Alerts)
		body, err := d.spool.body(rec)
		// The counters and logs come before a record leaves the spool: a
		// Flush that sees the spool empty sees them.
		if err != nil {
			d.counters.dropped.Add(n)
			d.logger.Error("an alert record in the spool is unreadable; dropping its alerts", "alerts", n, "error", err)
			d.remove(rec)
			d.notify(false)
			continue
		}
		if rec.seq == lastTried {
			d.counters.retries.Add(1)
		}
		lastTried = rec.seq
		r := d.sender.post(d.ctx, body, rec.header.Key)
		if d.ctx.Err() != nil {
			// Closing: the record stays in the spool, and goes out again,
			// with its key, from the next sink on this spool.
			return
		}
		now := d.now()
		switch r.outcome {
		case delivered:
			d.counters.sent.Add(n)
			if streak > 0 {
				_, spooled := d.spool.counts()
				d.logger.Info("webhook delivery resumed", "endpoint", d.endpoint, "failed_for", now.Sub(since).Round(time.Millisecond).String(),
					"attempts", streak, "spooled", spooled)
			}
			d.logger.Debug("alerts delivered", "endpoint", d.endpoint, "alerts", n, "status", r.status)
			d.remove(rec)
			streak = 0
			d.notify(false)
			continue
		case refused:
			d.counters.dropped.Add(n)
			d.logger.Error("webhook refused the alerts; dropping them", "endpoint", d.endpoint, "alerts", n, "status", r.status)
			d.remove(rec)
			streak = 0
			d.notify(false)
			continue
		}

		_, spooled := d.spool.counts()
		switch {
		case streak == 0:
			since, lastWarn = now, now
			d.logger.Warn("webhook request failed; the alerts stay in the spool and are retried", "endpoint", d.endpoint,
				"error", r.reason, "spooled", spooled, "retry_for", d.retryFor.String())
		case now.Sub(lastWarn) >= stillFailingEvery:
			lastWarn = now
			d.logger.Warn("webhook request still failing", "endpoint", d.endpoint, "error", r.reason,
				"failing_for", now.Sub(since).Round(time.Second).String(), "spooled", spooled)
		default:
			d.logger.Debug("webhook request failed", "endpoint", d.endpoint, "error", r.reason, "attempt", streak+1)
		}
		streak++
		if expired := d.spool.expired(now.Add(-d.retryFor)); len(expired) > 0 {
			var lost int64
			for _, e := range expired {
				lost += int64(e.header.Alerts)
			}
			d.counters.dropped.Add(lost)
			d.logger.Error("alerts not delivered within retry_for; dropping them", "endpoint", d.endpoint, "alerts", lost,
				"retry_for", d.retryFor.String(), "error", r.reason)
			d.spool.drop(expired)
		}
		d.notify(true)

		ceiling := maxUnreachableBackoff
		if r.outcome == failing {
			ceiling = maxFailingBackoff
		}
		wait := backoff(streak-1, ceiling)
		if r.retryAfter > wait {
			wait = min(r.retryAfter, maxRetryAfter)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-d.kick:
			t.Stop()
		case <-d.ctx.Done():
			t.Stop()
			return
		}
	}
}

// remove takes rec out of the spool, logging a failure to remove its
// file (it would be sent again, with its key, by the next sink).
func (d *delivery) remove(rec *record) {
	if err := d.spool.remove(rec); err != nil {
		d.logger.Warn("failed to remove a delivered alert record from the spool", "error", err)
	}
}

// notify wakes the waiting Flush calls.
func (d *delivery) notify(failed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if failed {
		d.failures++
	}
	close(d.changed)
	d.changed = make(chan struct{})
}

// flush makes an attempt now (cutting a backoff short) and returns once
// the spool is empty, an attempt failed, ctx ended or the delivery
// stopped: it waits while the webhook accepts, never for one that fails.
func (d *delivery) flush(ctx context.Context) {
	d.mu.Lock()
	failures := d.failures
	d.mu.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
	for {
		d.mu.Lock()
		failed, changed := d.failures > failures, d.changed
		d.mu.Unlock()
		if records, _ := d.spool.counts(); failed || records == 0 {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		case <-d.done:
			return
		}
	}
}

// stop ends the delivery, an attempt in flight included, and waits for
// its goroutine.
func (d *delivery) stop() {
	d.cancel()
	<-d.done
}

// backoff is the wait after the failed attempt number attempt (from 0):
// minBackoff doubled per attempt up to ceiling, drawn from its upper half.
func backoff(attempt int, ceiling time.Duration) time.Duration {
	d := ceiling
	if attempt < 16 {
		d = min(minBackoff<<attempt, ceiling)
	}
	return d/2 + rand.N(d/2+1)
}
