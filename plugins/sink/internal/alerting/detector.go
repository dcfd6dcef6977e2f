package alerting

import (
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// The triggers of an alert.
const (
	// TriggerMatch: a log line matched the pattern.
	TriggerMatch = "match"
	// TriggerEvent: a listed process event.
	TriggerEvent = "event"
)

// Alert is one alert to send.
type Alert struct {
	Process string
	// Trigger is TriggerMatch or TriggerEvent.
	Trigger string
	// Event is set for TriggerEvent; EventName is the listed name (state
	// or type) it matched.
	Event     *sdk.Event
	EventName string
	// Line is the matching line for TriggerMatch, cut to MaxLineBytes.
	Line []byte
	Time time.Time
	// Suppressed counts the triggers with the same key that were not sent
	// on their own since the previous alert of the key (repeats within the
	// cooldown, and repeats folded into this alert).
	Suppressed int
	// Context is the process's last lines before an event.
	Context []string
}

// keyState is the cooldown state of one alert key.
type keyState struct {
	lastSent   time.Time
	suppressed int
}

// Triggers are what raises an alert: the `match`, `events`, `cooldown`
// and `context_lines` of a sink's block.
type Triggers struct {
	// Match, when set, raises an alert for each matching line.
	Match *regexp.Regexp
	// Events raise an alert by listed state or type (lower case).
	Events map[string]bool
	// Cooldown: at most one alert per process and trigger within it.
	Cooldown time.Duration
	// ContextLines is how many of a process's last lines an event alert
	// carries.
	ContextLines int
}

// Detector finds the triggers in batches and applies the cooldown. It is
// not safe for concurrent use.
type Detector struct {
	match        *regexp.Regexp
	events       map[string]bool
	cooldown     time.Duration
	contextLines int
	now          func() time.Time

	keys  map[string]*keyState
	rings map[string]*ring
	// suppressed counts, over the sink's life, the triggers not sent on
	// their own.
	suppressed *atomic.Int64
}

// NewDetector returns a Detector of t that counts suppressed triggers in
// suppressed.
func NewDetector(t Triggers, now func() time.Time, suppressed *atomic.Int64) *Detector {
	return &Detector{
		match: t.Match, events: t.Events, cooldown: t.Cooldown, contextLines: t.ContextLines, now: now,
		suppressed: suppressed,
		keys:       make(map[string]*keyState), rings: make(map[string]*ring),
	}
}

// Scan returns the alerts a batch raises, in order. Entries and events are
// taken in time order (an event after the lines that are not younger) so
// that an event's context holds the lines before it. Repeats of a key
// within one batch fold into the batch's alert for that key.
func (d *Detector) Scan(b *sdk.Batch) []*Alert {
	var (
		alerts  []*Alert
		inBatch map[string]*Alert
	)
	now := d.now()
	raise := func(key string, mk func() *Alert) {
		if a, ok := inBatch[key]; ok {
			a.Suppressed++
			d.suppressed.Add(1)
			return
		}
		st := d.keys[key]
		if st == nil {
			st = &keyState{}
			d.keys[key] = st
		} else if d.cooldown > 0 && now.Sub(st.lastSent) < d.cooldown {
			st.suppressed++
			d.suppressed.Add(1)
			return
		}
		a := mk()
		a.Suppressed = st.suppressed
		st.lastSent, st.suppressed = now, 0
		if inBatch == nil {
			inBatch = make(map[string]*Alert)
		}
		inBatch[key] = a
		alerts = append(alerts, a)
	}

	entries, events := b.Entries, b.Events
	i, j := 0, 0
	for i < len(entries) || j < len(events) {
		if j < len(events) && (i == len(entries) || events[j].Timestamp.Before(entries[i].Timestamp)) {
			ev := &events[j]
			j++
			name := d.EventName(ev)
			if name == "" {
				continue
			}
			raise(ev.Process+"\x00event\x00"+name, func() *Alert {
				evCopy := *ev
				a := &Alert{Process: ev.Process, Trigger: TriggerEvent, Event: &evCopy, EventName: name, Time: ev.Timestamp}
				if r := d.rings[ev.Process]; r != nil {
					a.Context = r.snapshot()
				}
				return a
			})
			continue
		}
		e := &entries[i]
		i++
		if d.match != nil && d.match.Match(e.Line) {
			raise(e.Process+"\x00match", func() *Alert {
				return &Alert{Process: e.Process, Trigger: TriggerMatch, Line: AppendCut(nil, e.Line), Time: e.Timestamp}
			})
		}
		if d.contextLines > 0 {
			r := d.rings[e.Process]
			if r == nil {
				r = newRing(d.contextLines)
				d.rings[e.Process] = r
			}
			r.push(e.Line)
		}
	}
	return alerts
}

// EventName returns the listed name (state first, then type) that ev
// matches, or "".
func (d *Detector) EventName(ev *sdk.Event) string {
	for _, n := range []string{string(ev.State), string(ev.Type)} {
		if n == "" {
			continue
		}
		if l := strings.ToLower(n); d.events[l] {
			return l
		}
	}
	return ""
}
