package sdktest

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// stream reads one output stream of a process to its end in the
// background.
type stream struct {
	name string
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
	err  error
}

func readStream(name string, r io.Reader) *stream {
	s := &stream{name: name, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		b := make([]byte, 32<<10)
		for {
			n, err := r.Read(b)
			s.mu.Lock()
			s.buf.Write(b[:n])
			if err != nil && err != io.EOF {
				s.err = err
			}
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return s
}

// String returns what was read so far.
func (s *stream) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// lines returns the complete lines read so far.
func (s *stream) lines() []string {
	text := s.String()
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		return strings.Split(text[:i], "\n")
	}
	return nil
}

// count returns how many complete lines equal line.
func (s *stream) count(line string) int {
	n := 0
	for _, l := range s.lines() {
		if l == line {
			n++
		}
	}
	return n
}

// waitLine waits until a complete line equals line.
func (s *stream) waitLine(t testing.TB, line string, timeout time.Duration) {
	t.Helper()
	s.waitFor(t, timeout, "a line "+quote(line), func() bool { return s.count(line) > 0 })
}

// waitFor waits until cond holds, failing the test with what the stream
// holds when it does not within timeout (or when the stream ended first).
func (s *stream) waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return
		}
		select {
		case <-s.done:
			if cond() {
				return
			}
			t.Fatalf("%s ended without %s; it holds %s", s.name, what, quote(s.String()))
		case <-deadline.C:
			t.Fatalf("no %s on %s within %s; it holds %s", what, s.name, timeout, quote(s.String()))
		case <-tick.C:
		}
	}
}

// all waits for the end of the stream and returns everything read; the
// stream must end with EOF.
func (s *stream) all(t testing.TB, timeout time.Duration) string {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not reach EOF within %s (a process still holds it open?); it holds %s", s.name, timeout, quote(s.String()))
	}
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		t.Fatalf("%s ended with an error instead of EOF: %v", s.name, err)
	}
	return s.String()
}

// quote shortens long text for messages.
func quote(s string) string {
	const max = 400
	if len(s) > max {
		return strings.TrimSpace(strings.ReplaceAll(s[:max/2], "\n", `\n`)) + " [...] " + strings.ReplaceAll(s[len(s)-max/2:], "\n", `\n`)
	}
	return "\"" + strings.ReplaceAll(s, "\n", `\n`) + "\""
}
