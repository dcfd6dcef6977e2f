package main

import (
	"fmt"
	"time"
)

// maxSamples bounds the matches an alert quotes.
const maxSamples = 20

// Alert is what the sink delivers: one JSON object.
type Alert struct {
	// Process is the process whose matches raised the alert; "" when the
	// sink counts all its processes together.
	Process string `json:"process"`
	// Summary is one human line, e.g. `5 matches of "ERROR" within 1m0s
	// in web`.
	Summary string `json:"summary"`
	// Count and Window are the threshold that was reached.
	Count  int    `json:"count"`
	Window string `json:"window"`
	// First and Last are the times of the first and last match counted.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Matches are the last matches counted (at most 20), oldest first.
	Matches []Match `json:"matches"`
}

// Match is one line or event that counted.
type Match struct {
	Time    time.Time `json:"time"`
	Process string    `json:"process"`
	// Stream and Line are set for a line (invalid UTF-8 replaced).
	Stream string `json:"stream,omitempty"`
	Line   string `json:"line,omitempty"`
	// Event and Message are set for an event.
	Event   string `json:"event,omitempty"`
	Message string `json:"message,omitempty"`
}

// summary returns the alert's human line.
func summary(cfg *config, process string, n int) string {
	what := "matches"
	switch {
	case cfg.pattern != nil && len(cfg.events) > 0:
		what = fmt.Sprintf("matches of %q or events", cfg.pattern.String())
	case cfg.pattern != nil:
		what = fmt.Sprintf("matches of %q", cfg.pattern.String())
	default:
		what = "events"
	}
	who := "all processes"
	if process != "" {
		who = process
	}
	return fmt.Sprintf("%d %s within %s in %s", n, what, cfg.window, who)
}
