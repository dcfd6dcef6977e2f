package main

import (
	"sort"
	"strings"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// detector counts matches per key (a process, or "" for all of them) in a
// sliding window and raises an alert when the count is reached outside a
// cooldown. Time is the matches' own timestamps, so a replayed or delayed
// batch is judged by when its lines were written. It is not safe for
// concurrent use.
type detector struct {
	cfg  *config
	keys map[string]*window
}

// window holds a key's last matches (at most count of them: enough to
// tell whether count fell within the window) and its cooldown.
type window struct {
	matches    []Match
	quietUntil time.Time
}

func newDetector(cfg *config) *detector {
	return &detector{cfg: cfg, keys: map[string]*window{}}
}

// batch feeds the batch's matching lines and events, in time order, and
// returns the alerts they raise.
func (d *detector) batch(b *sdk.Batch) []*Alert {
	var matches []Match
	if d.cfg.pattern != nil {
		for i := range b.Entries {
			e := &b.Entries[i]
			if d.cfg.streams[e.Stream] && d.cfg.pattern.Match(e.Line) {
				matches = append(matches, Match{Time: e.Timestamp, Process: e.Process, Stream: e.Stream.String(),
					Line: strings.ToValidUTF8(string(e.Line), "\uFFFD")})
			}
		}
	}
	for i := range b.Events {
		e := &b.Events[i]
		if d.cfg.events[string(e.Type)] {
			matches = append(matches, Match{Time: e.Timestamp, Process: e.Process, Event: string(e.Type), Message: e.Message})
		}
	}
	sort.SliceStable(matches, func(i, j int) bool { return matches[i].Time.Before(matches[j].Time) })
	var alerts []*Alert
	for _, m := range matches {
		if a := d.add(m); a != nil {
			alerts = append(alerts, a)
		}
	}
	return alerts
}

// add counts one match and returns the alert it raises, if any.
func (d *detector) add(m Match) *Alert {
	key := ""
	if d.cfg.perProcess {
		key = m.Process
	}
	w := d.keys[key]
	if w == nil {
		w = &window{}
		d.keys[key] = w
	}
	// Forget what fell out of the window, and what is beyond count.
	start := m.Time.Add(-d.cfg.window)
	kept := w.matches[:0]
	for _, old := range w.matches {
		if old.Time.After(start) {
			kept = append(kept, old)
		}
	}
	w.matches = append(kept, m)
	if over := len(w.matches) - d.cfg.count; over > 0 {
		w.matches = append(w.matches[:0], w.matches[over:]...)
	}
	if len(w.matches) < d.cfg.count || m.Time.Before(w.quietUntil) {
		return nil
	}
	samples := w.matches
	if len(samples) > maxSamples {
		samples = samples[len(samples)-maxSamples:]
	}
	a := &Alert{
		Process: key,
		Summary: summary(d.cfg, key, len(w.matches)),
		Count:   d.cfg.count,
		Window:  d.cfg.window.String(),
		First:   w.matches[0].Time,
		Last:    m.Time,
		Matches: append([]Match(nil), samples...),
	}
	w.matches = w.matches[:0]
	w.quietUntil = m.Time.Add(d.cfg.cooldown)
	return a
}
