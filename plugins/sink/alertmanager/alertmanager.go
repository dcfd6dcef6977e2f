package alertmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/plugins/sink/internal/alerting"
	"github.com/prox-dev/prox/sdk"
)

const (
	// Name is the sink's kind in prox.hcl.
	Name = "alertmanager"
	// Version is the sink's version.
	Version = "0.1.0"
)

var (
	_ sdk.Sink         = (*Sink)(nil)
	_ sdk.Configurable = (*Sink)(nil)
	_ sdk.Shutdowner   = (*Sink)(nil)
)

// Sink raises alerts from log lines and process events and pushes them to
// one or more Alertmanagers (API v2), through a durable spool per
// Alertmanager. It is safe for concurrent use; Writes are handled one at
// a time. The zero value is not usable; call New.
type Sink struct {
	logger hclog.Logger
	now    func() time.Time
	host   string

	// mu serialises Write, Flush, Close and the resends, and guards what
	// follows.
	mu       sync.Mutex
	cfg      *config
	detector *alerting.Detector
	dests    []*dest
	opened   bool
	closed   bool
	// pending is a Write's request that some spools could not take; the
	// host's resend of its batch spools it there.
	pending *pendingWrite
	// spooledSeq is the number of the last batch spooled.
	spooledSeq uint64
	stopResend chan struct{}
	resendDone chan struct{}

	// firingMu guards firing, which the deliveries change too (an alert
	// an Alertmanager refused is no longer resent).
	firingMu sync.Mutex
	// firing are the event alerts raised and not resolved, by their
	// labels' key: they are resent every resend_interval.
	firing map[string]*firingAlert

	counters alerting.Counters
}

// dest is one Alertmanager: its spool, sender and delivery.
type dest struct {
	target
	spool    *alerting.Spool
	sender   *alerting.Sender
	delivery *alerting.Delivery
}

// firingAlert is an alert that fires until its process recovers.
type firingAlert struct {
	process     string
	labels      map[string]string
	annotations map[string]string
	startsAt    time.Time
}

// pendingWrite is a request some spools have not taken yet.
type pendingWrite struct {
	seq  uint64
	body []byte
	n    int
	todo []*dest
}

// postableAlert is an alert of Alertmanager's API v2
// (POST /api/v2/alerts takes a JSON array of them).
type postableAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
}

// Stats are a sink's counters since it started.
type Stats struct {
	// Sent counts the alerts Alertmanagers accepted, once per
	// Alertmanager.
	Sent int64
	// Dropped counts the alerts given up on, once per Alertmanager.
	Dropped int64
	// Suppressed counts the triggers not raised (cooldown).
	Suppressed int64
	// Requests counts the HTTP requests made; Retries those that were
	// retries.
	Requests, Retries int64
	// Spooled is the number of alerts waiting in the spools.
	Spooled int64
	// Firing is the number of alerts firing (raised, not resolved).
	Firing int
}

// New returns an unconfigured Sink that logs to stderr.
func New() *Sink {
	return &Sink{
		logger: hclog.New(&hclog.LoggerOptions{Name: "sink." + Name, JSONFormat: true, Output: os.Stderr}),
		now:    time.Now,
		firing: map[string]*firingAlert{},
	}
}

// ConfigSchema returns the schema of the `sink "alertmanager" "NAME"` block.
func (s *Sink) ConfigSchema() *sdk.Schema { return schema }

// Configure validates the block's values and takes the spools' locks (as
// the webhook sink does: a spool held by another prox is locked again at
// the first Write). With c.CheckOnly it only validates the values.
func (s *Sink) Configure(c *sdk.Config) error {
	cfg, err := parseConfig(c)
	if err != nil || c.CheckOnly {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg != nil {
		return errors.New("already configured")
	}
	host, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("the host label: %w", err)
	}
	var dests []*dest
	for _, t := range cfg.targets {
		d := &dest{target: t, spool: alerting.NewSpool(t.spool, cfg.spoolMax, Name)}
		if err := d.spool.Lock(); err != nil {
			var busy *alerting.BusyError
			if !errors.As(err, &busy) || busy.SameProx() {
				for _, o := range dests {
					o.spool.Unlock()
				}
				if busy != nil && !cfg.spoolSet {
					return sdk.AttributeErrorf("spool", "the default spool %s, named after the urls, is %w: give each alertmanager sink with these urls a spool of its own", cfg.spool, err)
				}
				return sdk.AttributeErrorf("spool", "%s: %w", t.spool, err)
			}
			s.logger.Debug("the spool is in use by another prox; it is locked again at the first write", "spool", t.spool, "holder", busy.PID)
		}
		d.sender = alerting.NewSender(alerting.SenderConfig{
			URL: t.url, Endpoint: t.endpoint, Timeout: cfg.timeout, Headers: cfg.headers, UserAgent: "prox-alertmanager/" + Version, KeepBody: true,
		}, &s.counters)
		dests = append(dests, d)
	}
	s.cfg, s.host, s.dests = cfg, host, dests
	s.detector = alerting.NewDetector(cfg.triggers, s.now, &s.counters.Suppressed)
	s.logger.Debug("configured", "alertmanagers", cfg.endpoints(), "spool", cfg.spool, "resend_interval", cfg.resend.String())
	return nil
}

// open locks the spools Configure could not, loads what earlier sinks
// left, starts their deliveries and the resends, once.
func (s *Sink) open() error {
	if s.opened {
		return nil
	}
	for _, d := range s.dests {
		if err := d.spool.Lock(); err != nil {
			return fmt.Errorf("alert spool %s: %w", d.target.spool, err)
		}
		unreadable, err := d.spool.Load(s.logger)
		s.counters.Dropped.Add(int64(unreadable))
		if err != nil {
			return fmt.Errorf("alert spool %s: %w", d.target.spool, err)
		}
		if records, alerts := d.spool.Counts(); records > 0 {
			s.logger.Info("delivering the alerts left in the spool", "spool", d.target.spool, "alerts", alerts)
		}
	}
	for _, d := range s.dests {
		d.delivery = alerting.StartDelivery(alerting.DeliveryConfig{
			Spool: d.spool, Poster: d.sender, RetryFor: s.cfg.retryFor, Kind: Name, Endpoint: d.endpoint,
			Logger: s.logger, Counters: &s.counters, Now: s.now, OnRefused: s.refused,
		})
	}
	s.stopResend, s.resendDone = make(chan struct{}), make(chan struct{})
	go s.resendLoop(s.stopResend, s.resendDone, s.cfg.resend)
	s.opened = true
	return nil
}

// Write scans the batch for triggers and recoveries and spools the
// alerts they raise and resolve, as one request per Alertmanager, before
// it returns: nil means they are on disk in every spool. A spool that is
// full drops them for its Alertmanager (logged at ERROR, counted).
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
	p := s.pending
	if p == nil || b.Seq != p.seq {
		out := s.scan(b)
		s.pending = nil
		if len(out) == 0 {
			s.spooledSeq = b.Seq
			return nil
		}
		body, err := json.Marshal(out)
		if err != nil {
			s.counters.Dropped.Add(int64(len(out)))
			s.logger.Error("dropping alerts", "alerts", len(out), "error", err)
			return nil
		}
		p = &pendingWrite{seq: b.Seq, body: body, n: len(out), todo: s.dests}
	}
	if err := s.spoolAll(p); err != nil {
		s.pending = p
		return err
	}
	s.pending = nil
	s.spooledSeq = b.Seq
	return nil
}

// spoolAll appends p's body to each spool it has not reached yet; p.todo
// keeps those it could not.
func (s *Sink) spoolAll(p *pendingWrite) error {
	var (
		failed []*dest
		errs   []error
	)
	for _, d := range p.todo {
		if room := d.spool.Room(); room < p.n {
			s.counters.Dropped.Add(int64(p.n))
			s.logger.Error("the alert spool is full; dropping new alerts", "spool", d.target.spool, "alerts", p.n,
				"spool_max_alerts", s.cfg.spoolMax, "endpoint", d.endpoint)
			continue
		}
		if _, err := d.spool.Append(p.body, p.n, s.now()); err != nil {
			failed = append(failed, d)
			errs = append(errs, fmt.Errorf("alert spool %s: %w", d.target.spool, err))
		}
	}
	p.todo = failed
	return errors.Join(errs...)
}

// scan turns a batch into the alerts to send: those its triggers raise
// and those its recoveries resolve, in that order per process.
func (s *Sink) scan(b *sdk.Batch) []postableAlert {
	raised := s.detector.Scan(b)
	now := s.now()
	endsAt := now.Add(EndsAtFactor * s.cfg.resend)
	var (
		out   []postableAlert
		index = map[string]int{}
	)
	put := func(key string, a postableAlert) {
		if i, ok := index[key]; ok {
			out[i] = a
			return
		}
		index[key] = len(out)
		out = append(out, a)
	}
	s.firingMu.Lock()
	defer s.firingMu.Unlock()
	for _, a := range raised {
		labels := s.labels(a)
		annotations := annotations(a)
		key := labelKey(labels)
		if a.Trigger == alerting.TriggerMatch {
			// A one-off: it lasts the cooldown (or a resend interval).
			life := max(s.cfg.triggers.Cooldown, s.cfg.resend)
			put(key, postableAlert{Labels: labels, Annotations: annotations, StartsAt: a.Time, EndsAt: a.Time.Add(life)})
			continue
		}
		f := s.firing[key]
		if f == nil {
			f = &firingAlert{process: a.Process, labels: labels, startsAt: a.Time}
			s.firing[key] = f
		}
		f.annotations = annotations
		put(key, postableAlert{Labels: labels, Annotations: annotations, StartsAt: f.startsAt, EndsAt: endsAt})
	}
	for i := range b.Events {
		ev := &b.Events[i]
		if !recovers(ev) {
			continue
		}
		for key, f := range s.firing {
			if f.process != ev.Process || f.startsAt.After(ev.Timestamp) {
				continue
			}
			resolved := ev.Timestamp
			if !resolved.After(f.startsAt) {
				resolved = f.startsAt.Add(time.Millisecond)
			}
			put(key, postableAlert{Labels: f.labels, Annotations: f.annotations, StartsAt: f.startsAt, EndsAt: resolved})
			delete(s.firing, key)
		}
	}
	return out
}

// recovers reports whether ev ends a process's event alerts: it runs
// again, it is healthy, or it was stopped as asked.
func recovers(ev *sdk.Event) bool {
	switch ev.State {
	case sdk.StateRunning, sdk.StateHealthy, sdk.StateStopped:
		return true
	}
	return false
}

// labels are an alert's labels: alertname, process, host, then the
// configured ones.
func (s *Sink) labels(a *alerting.Alert) map[string]string {
	l := make(map[string]string, 3+len(s.cfg.labels))
	for k, v := range s.cfg.labels {
		l[k] = v
	}
	l["alertname"] = alertName(a)
	l["process"] = a.Process
	l["host"] = s.host
	return l
}

// alertName is "ProxLogMatch" for a match, else "ProxProcess" and the
// event's name in CamelCase: "ProxProcessCrashed", "ProxProcessFailed".
func alertName(a *alerting.Alert) string {
	if a.Trigger == alerting.TriggerMatch {
		return "ProxLogMatch"
	}
	var b strings.Builder
	b.WriteString("ProxProcess")
	upper := true
	for _, r := range a.EventName {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// annotations are an alert's annotations: summary, reason, description,
// and last_lines (an event's context) or line (a match).
func annotations(a *alerting.Alert) map[string]string {
	summary := alerting.Summary(a)
	desc := summary
	if n := alerting.SuppressedNote(a); n != "" {
		desc += "\nRepeated " + n + " since the last alert."
	}
	an := map[string]string{"summary": summary, "reason": reason(a), "description": desc}
	if a.Trigger == alerting.TriggerMatch {
		an["line"] = string(a.Line)
	} else if len(a.Context) > 0 {
		an["last_lines"] = strings.Join(a.Context, "\n")
	}
	return an
}

// reason says why the alert was raised, in a few words.
func reason(a *alerting.Alert) string {
	if a.Trigger == alerting.TriggerMatch {
		return "a log line matched the alert pattern"
	}
	ev := a.Event
	var parts []string
	switch {
	case ev.Signal != "":
		parts = append(parts, "killed by signal "+ev.Signal)
	case ev.Type == sdk.EventCrashed || ev.Type == sdk.EventExited || ev.ExitCode != 0:
		parts = append(parts, "exit code "+strconv.Itoa(ev.ExitCode))
	}
	if ev.Message != "" {
		parts = append(parts, ev.Message)
	}
	if len(parts) == 0 {
		parts = append(parts, a.EventName)
	}
	return strings.Join(parts, ": ")
}

// labelKey identifies a label set.
func labelKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(l[k])
		b.WriteByte(0)
	}
	return b.String()
}

// resendLoop sends the firing alerts again every interval, until stop.
func (s *Sink) resendLoop(stop <-chan struct{}, done chan<- struct{}, interval time.Duration) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.resend()
		}
	}
}

// resend spools the firing alerts, endsAt refreshed, for each
// Alertmanager whose spool is empty: one that still has requests waiting
// (it is down) gets them once it has caught up, at the next interval.
func (s *Sink) resend() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	endsAt := s.now().Add(EndsAtFactor * s.cfg.resend)
	s.firingMu.Lock()
	out := make([]postableAlert, 0, len(s.firing))
	for _, f := range s.firing {
		out = append(out, postableAlert{Labels: f.labels, Annotations: f.annotations, StartsAt: f.startsAt, EndsAt: endsAt})
	}
	s.firingMu.Unlock()
	if len(out) == 0 {
		return
	}
	sort.Slice(out, func(i, j int) bool { return labelKey(out[i].Labels) < labelKey(out[j].Labels) })
	body, err := json.Marshal(out)
	if err != nil {
		s.logger.Error("failed to encode the firing alerts", "error", err)
		return
	}
	for _, d := range s.dests {
		if records, _ := d.spool.Counts(); records > 0 || d.spool.Room() < len(out) {
			continue
		}
		if _, err := d.spool.Append(body, len(out), s.now()); err != nil {
			s.logger.Warn("failed to spool the firing alerts again; the next interval tries again", "spool", d.target.spool, "error", err)
		}
	}
}

// refused stops resending the firing alerts of a request an Alertmanager
// refused (4xx): a retry would be refused too. The delivery has logged
// the refusal, once.
func (s *Sink) refused(body []byte) {
	var alerts []postableAlert
	if json.Unmarshal(body, &alerts) != nil {
		return
	}
	s.firingMu.Lock()
	defer s.firingMu.Unlock()
	for _, a := range alerts {
		delete(s.firing, labelKey(a.Labels))
	}
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

// Flush makes an attempt at once to deliver what each spool holds and
// waits while the Alertmanagers accept: it returns once the spools are
// empty, or as soon as an attempt fails (the alerts are safe in the
// spool), or when ctx ends.
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
	dests := s.dests
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, d := range dests {
		wg.Go(func() { d.delivery.Flush(ctx) })
	}
	wg.Wait()
	return nil
}

// Close ends the resends and the deliveries, and releases the spools.
// Spooled alerts stay on disk for the next sink on these spools; firing
// alerts that are not resolved end at their endsAt. Later Writes fail;
// closing twice is not an error.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	stop, done := s.stopResend, s.resendDone
	s.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dests {
		if d.delivery != nil {
			d.delivery.Stop()
			if _, alerts := d.spool.Counts(); alerts > 0 {
				s.logger.Warn("closing with undelivered alerts; they stay in the spool for the next start", "spool", d.target.spool,
					"alerts", alerts, "endpoint", d.endpoint)
			}
		}
		d.spool.Unlock()
		d.sender.Close()
	}
	if p := s.pending; p != nil {
		s.counters.Dropped.Add(int64(p.n * len(p.todo)))
		s.logger.Error("closing with alerts that could not be spooled; dropping them", "alerts", p.n)
		s.pending = nil
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
	for _, d := range s.dests {
		_, alerts := d.spool.Counts()
		st.Spooled += int64(alerts)
	}
	s.mu.Unlock()
	s.firingMu.Lock()
	st.Firing = len(s.firing)
	s.firingMu.Unlock()
	return st
}
