package logs

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// Filter selects log entries. The zero Filter selects every entry.
type Filter struct {
	// Processes keeps the entries of these processes; empty (the default)
	// keeps every process.
	Processes []string
	// Stream keeps one stream (sdk.Stdout or sdk.Stderr); 0 (the default)
	// keeps both.
	Stream sdk.Stream
	// Contains keeps lines containing this exact byte string; "" (the
	// default) keeps every line.
	Contains string
	// Regex keeps lines matching this RE2 pattern (package regexp syntax,
	// unanchored); "" (the default) keeps every line.
	Regex string
	// Since keeps entries stamped at or after this instant; the zero time
	// (the default) keeps every entry.
	Since time.Time
}

// smallProcessSet is the size up to which a Matcher scans its process list
// instead of hashing into a map.
const smallProcessSet = 8

// Matcher is a compiled Filter. It is immutable and safe for concurrent
// use. A nil *Matcher matches every entry.
type Matcher struct {
	processes   []string
	processSet  map[string]struct{}
	allProcs    bool
	stream      sdk.Stream
	contains    []byte
	re          *regexp.Regexp
	since       time.Time
	sinceActive bool
}

// Compile checks the filter and compiles it. An invalid Regex or an
// unknown Stream is an error naming the offending value.
func (f Filter) Compile() (*Matcher, error) {
	if f.Stream != 0 && f.Stream != sdk.Stdout && f.Stream != sdk.Stderr {
		return nil, fmt.Errorf("invalid stream %d: want 0 (both), %d (stdout) or %d (stderr)", f.Stream, sdk.Stdout, sdk.Stderr)
	}
	m := &Matcher{
		allProcs:    len(f.Processes) == 0,
		stream:      f.Stream,
		since:       f.Since,
		sinceActive: !f.Since.IsZero(),
	}
	if f.Contains != "" {
		m.contains = []byte(f.Contains)
	}
	if f.Regex != "" {
		re, err := regexp.Compile(f.Regex)
		if err != nil {
			return nil, fmt.Errorf("invalid regex %q: %w", f.Regex, err)
		}
		m.re = re
	}
	if len(f.Processes) > smallProcessSet {
		m.processSet = make(map[string]struct{}, len(f.Processes))
		for _, p := range f.Processes {
			m.processSet[p] = struct{}{}
		}
	} else {
		m.processes = slices.Clone(f.Processes)
	}
	return m, nil
}

// MatchProcess reports whether entries of the named process can match.
func (m *Matcher) MatchProcess(name string) bool {
	if m == nil || m.allProcs {
		return true
	}
	if m.processSet != nil {
		_, ok := m.processSet[name]
		return ok
	}
	return slices.Contains(m.processes, name)
}

// Match reports whether e passes every condition of the filter.
func (m *Matcher) Match(e *LogEntry) bool {
	if m == nil {
		return true
	}
	if m.stream != 0 && e.Stream != m.stream {
		return false
	}
	if m.sinceActive && e.Timestamp.Before(m.since) {
		return false
	}
	if !m.MatchProcess(e.Process) {
		return false
	}
	if m.contains != nil && !bytes.Contains(e.Line, m.contains) {
		return false
	}
	if m.re != nil && !m.re.Match(e.Line) {
		return false
	}
	return true
}
