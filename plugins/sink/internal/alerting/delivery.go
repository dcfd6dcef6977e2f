package alerting

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Backoff between attempts at the spool's oldest record: the wait doubles
// from minBackoff up to MaxUnreachableBackoff while the receiver cannot be
// reached (no answer, or a gateway's 502, 503 or 504 for it), and up to
// MaxFailingBackoff while it answers another error status;
// each wait is drawn at random from its upper half. A Retry-After in the
// answer is waited for, up to maxRetryAfter.
//
// Why 1 s while the receiver cannot be reached: an attempt at a receiver
// that is down costs one connection attempt (refused, or no route) and
// nothing more, no more than a separate probe would, so trying every
// second for the hour of retry_for stays cheap (3,600 connection
// attempts), and the first alert reaches a receiver that comes back within
// about a second. A gateway's 502, 503 or 504 costs a proxy one small
// answer, and the receiver behind it may come back at any moment: the
// same 1 s. A receiver that answers other errors (500, 408, 429) is up
// but unwell: it gets up to 10 s between requests.
const (
	minBackoff = 100 * time.Millisecond
	// MaxUnreachableBackoff caps the wait while the receiver cannot be
	// reached.
	MaxUnreachableBackoff = time.Second
	// MaxFailingBackoff caps the wait while it answers another error
	// status.
	MaxFailingBackoff = 10 * time.Second
	maxRetryAfter     = time.Minute
)

// stillFailingEvery is how often a receiver that keeps failing is logged at
// WARN again; the attempts in between are logged at DEBUG.
const stillFailingEvery = time.Minute

// Poster makes one attempt to deliver a spooled body; *Sender is one.
type Poster interface {
	Post(ctx context.Context, body []byte, key string) Result
}

// DeliveryConfig is what a Delivery delivers from and to.
type DeliveryConfig struct {
	// Spool is locked and loaded by the caller.
	Spool  *Spool
	Poster Poster
	// RetryFor is how long a record is retried, counted from when it was
	// spooled.
	RetryFor time.Duration
	// Kind names the receiver in logs ("receiver"); Endpoint its address.
	Kind, Endpoint string
	Logger         hclog.Logger
	Counters       *Counters
	Now            func() time.Time
	// OnRefused, when set, is called with the body of a record the
	// receiver refused, before it leaves the spool.
	OnRefused func(body []byte)
}

// Delivery sends the spool's records from a goroutine of its own: in
// order, one at a time, the oldest until it is delivered, refused or
// expired.
type Delivery struct {
	spool     *Spool
	sender    Poster
	retryFor  time.Duration
	kind      string
	endpoint  string
	logger    hclog.Logger
	counters  *Counters
	now       func() time.Time
	onRefused func(body []byte)

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

// StartDelivery starts delivering the records of cfg.Spool.
func StartDelivery(cfg DeliveryConfig) *Delivery {
	ctx, cancel := context.WithCancel(context.Background())
	d := &Delivery{
		spool: cfg.Spool, sender: cfg.Poster, retryFor: cfg.RetryFor, kind: cfg.Kind, endpoint: cfg.Endpoint, logger: cfg.Logger,
		counters: cfg.Counters, now: cfg.Now, onRefused: cfg.OnRefused,
		ctx: ctx, cancel: cancel, done: make(chan struct{}), kick: make(chan struct{}, 1), changed: make(chan struct{}),
	}
	go d.run()
	return d
}

func (d *Delivery) run() {
	defer close(d.done)
	var (
		streak    int       // failed attempts in a row
		since     time.Time // the first of them
		lastWarn  time.Time
		lastTried uint64 // the record attempted last
	)
	for {
		rec := d.spool.Head()
		if rec == nil {
			select {
			case <-d.spool.added:
			case <-d.kick:
			case <-d.ctx.Done():
				return
			}
			continue
		}
		n := int64(rec.Header.Alerts)
		body, err := d.spool.Body(rec)
		// The counters and logs come before a record leaves the spool: a
		// Flush that sees the spool empty sees them.
		if err != nil {
			d.counters.Dropped.Add(n)
			d.logger.Error("an alert record in the spool is unreadable; dropping its alerts", "alerts", n, "error", err)
			d.remove(rec)
			d.notify(false)
			continue
		}
		if rec.Seq == lastTried {
			d.counters.Retries.Add(1)
		}
		lastTried = rec.Seq
		r := d.sender.Post(d.ctx, body, rec.Header.Key)
		if d.ctx.Err() != nil {
			// Closing: the record stays in the spool, and goes out again,
			// with its key, from the next sink on this spool.
			return
		}
		now := d.now()
		switch r.Outcome {
		case Delivered:
			d.counters.Sent.Add(n)
			if streak > 0 {
				_, spooled := d.spool.Counts()
				d.logger.Info(d.kind+" delivery resumed", "endpoint", d.endpoint, "failed_for", now.Sub(since).Round(time.Millisecond).String(),
					"attempts", streak, "spooled", spooled)
			}
			d.logger.Debug("alerts delivered", "endpoint", d.endpoint, "alerts", n, "status", r.Status)
			d.remove(rec)
			streak = 0
			d.notify(false)
			continue
		case Refused:
			d.counters.Dropped.Add(n)
			args := []any{"endpoint", d.endpoint, "alerts", n, "status", r.Status}
			if r.Body != "" {
				args = append(args, "response", r.Body)
			}
			d.logger.Error(d.kind+" refused the alerts; dropping them", args...)
			if d.onRefused != nil {
				d.onRefused(body)
			}
			d.remove(rec)
			streak = 0
			d.notify(false)
			continue
		}

		_, spooled := d.spool.Counts()
		switch {
		case streak == 0:
			since, lastWarn = now, now
			d.logger.Warn(d.kind+" request failed; the alerts stay in the spool and are retried", "endpoint", d.endpoint,
				"error", r.Reason, "spooled", spooled, "retry_for", d.retryFor.String())
		case now.Sub(lastWarn) >= stillFailingEvery:
			lastWarn = now
			d.logger.Warn(d.kind+" request still failing", "endpoint", d.endpoint, "error", r.Reason,
				"failing_for", now.Sub(since).Round(time.Second).String(), "spooled", spooled)
		default:
			d.logger.Debug(d.kind+" request failed", "endpoint", d.endpoint, "error", r.Reason, "attempt", streak+1)
		}
		streak++
		if expired := d.spool.Expired(now.Add(-d.retryFor)); len(expired) > 0 {
			var lost int64
			for _, e := range expired {
				lost += int64(e.Header.Alerts)
			}
			d.counters.Dropped.Add(lost)
			d.logger.Error("alerts not delivered within retry_for; dropping them", "endpoint", d.endpoint, "alerts", lost,
				"retry_for", d.retryFor.String(), "error", r.Reason)
			d.spool.Drop(expired)
		}
		d.notify(true)

		ceiling := MaxUnreachableBackoff
		if r.Outcome == Failing {
			ceiling = MaxFailingBackoff
		}
		wait := Backoff(streak-1, ceiling)
		if r.RetryAfter > wait {
			wait = min(r.RetryAfter, maxRetryAfter)
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
func (d *Delivery) remove(rec *Record) {
	if err := d.spool.Remove(rec); err != nil {
		d.logger.Warn("failed to remove a delivered alert record from the spool", "error", err)
	}
}

// notify wakes the waiting Flush calls.
func (d *Delivery) notify(failed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if failed {
		d.failures++
	}
	close(d.changed)
	d.changed = make(chan struct{})
}

// Flush makes an attempt now (cutting a backoff short) and returns once
// the spool is empty, an attempt failed, ctx ended or the delivery
// stopped: it waits while the receiver accepts, never for one that fails.
func (d *Delivery) Flush(ctx context.Context) {
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
		if records, _ := d.spool.Counts(); failed || records == 0 {
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

// Stop ends the delivery, an attempt in flight included, and waits for
// its goroutine.
func (d *Delivery) Stop() {
	d.cancel()
	<-d.done
}

// Backoff is the wait after the failed attempt number attempt (from 0):
// minBackoff doubled per attempt up to ceiling, drawn from its upper half.
func Backoff(attempt int, ceiling time.Duration) time.Duration {
	d := ceiling
	if attempt < 16 {
		d = min(minBackoff<<attempt, ceiling)
	}
	return d/2 + rand.N(d/2+1)
}
