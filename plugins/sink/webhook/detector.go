package webhook

import (
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// The triggers of an alert.
const (
	triggerMatch = "match"
	triggerEvent = "event"
)

// alert is one alert to send.
type alert struct {
	process string
	// trigger is triggerMatch or triggerEvent.
	trigger string
	// event is set for triggerEvent; eventName is the listed name (state
	// or type) it matched.
	event     *sdk.Event
	eventName string
	// line is the matching line for triggerMatch, cut to maxLineBytes.
	line []byte
	time time.Time
	// suppressed counts the triggers with the same key that were not sent
	// on their own since the previous alert of the key (repeats within the
	// cooldown, and repeats folded into this alert).
	suppressed int
	// context is the process's last lines before an event.
	context []string
}

// keyState is the cooldown state of one alert key.
type keyState struct {
	lastSent   time.Time
	suppressed int
}

// detector finds the triggers in batches and applies the cooldown. It is
// not safe for concurrent use.
type detector struct {
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

func newDetector(cfg *config, now func() time.Time, suppressed *atomic.Int64) *detector {
	return &detector{
		match: cfg.match, events: cfg.events, cooldown: cfg.cooldown, contextLines: cfg.contextLines, now: now,
		suppressed: suppressed,
		keys:       make(map[string]*keyState), rings: make(map[string]*ring),
	}
}

// scan returns the alerts a batch raises, in order. Entries and events are
// taken in time order (an event after the lines that are not younger) so
// that an event's context holds the lines before it. Repeats of a key
// within one batch fold into the batch's alert for that key.
func (d *detector) scan(b *sdk.Batch) []*alert {
	var (
		alerts  []*alert
		inBatch map[string]*alert
	)
	now := d.now()
	raise := func(key string, mk func() *alert) {
		if a, ok := inBatch[key]; ok {
			a.suppressed++
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
		a.suppressed = st.suppressed
		st.lastSent, st.suppressed = now, 0
		if inBatch == nil {
			inBatch = make(map[string]*alert)
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
			name := d.eventName(ev)
			if name == "" {
				continue
			}
			raise(ev.Process+"\x00event\x00"+name, func() *alert {
				evCopy := *ev
				a := &alert{process: ev.Process, trigger: triggerEvent, event: &evCopy, eventName: name, time: ev.Timestamp}
				if r := d.rings[ev.Process]; r != nil {
					a.context = r.snapshot()
				}
				return a
			})
			continue
		}
		e := &entries[i]
		i++
		if d.match != nil && d.match.Match(e.Line) {
			raise(e.Process+"\x00match", func() *alert {
				return &alert{process: e.Process, trigger: triggerMatch, line: appendCut(nil, e.Line), time: e.Timestamp}
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

// eventName returns the listed name (state first, then type) that ev
// matches, or "".
func (d *detector) eventName(ev *sdk.Event) string {
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
