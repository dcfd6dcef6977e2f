package sdktest

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// Output reads a stream — a process's Stdout or Stderr — to its end in
// the background, so that a test can look at what arrived so far, wait for
// the end, and never block the process on a full pipe. It is safe for
// concurrent use.
type Output struct {
	name string // for failure messages; "" is "the stream"
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
	err  error
}

// Collect starts reading r into an Output.
func Collect(r io.Reader) *Output {
	o := &Output{done: make(chan struct{})}
	go func() {
		defer close(o.done)
		b := make([]byte, 32<<10)
		for {
			n, err := r.Read(b)
			o.mu.Lock()
			o.buf.Write(b[:n])
			if err != nil && err != io.EOF {
				o.err = err
			}
			o.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return o
}

// String returns what was read so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Contains reports whether what was read so far contains s.
func (o *Output) Contains(s string) bool { return strings.Contains(o.String(), s) }

// Done is closed once the stream has ended (EOF or an error).
func (o *Output) Done() <-chan struct{} { return o.done }

// Err returns the error the stream ended with; nil at EOF or before the
// end.
func (o *Output) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// All waits up to timeout for the end of the stream and returns everything
// read; the test fails if the stream does not end in time (a process still
// holds it open?) or ends with an error rather than EOF.
func (o *Output) All(t testing.TB, timeout time.Duration) string {
	t.Helper()
	select {
	case <-o.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not reach EOF within %s (a process still holds it open?); it holds %s", o.label(), timeout, quote(o.String()))
	}
	if err := o.Err(); err != nil {
		t.Fatalf("%s ended with an error instead of EOF: %v", o.label(), err)
	}
	return o.String()
}

func (o *Output) label() string {
	if o.name == "" {
		return "the stream"
	}
	return o.name
}

// stream is a named Output with the line-level waits of the suites.
type stream struct{ *Output }

func readStream(name string, r io.Reader) *stream {
	o := Collect(r)
	o.name = name
	return &stream{o}
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

// quote shortens long text for messages.
func quote(s string) string {
	const max = 400
	if len(s) > max {
		return strings.TrimSpace(strings.ReplaceAll(s[:max/2], "\n", `\n`)) + " [...] " + strings.ReplaceAll(s[len(s)-max/2:], "\n", `\n`)
	}
	return "\"" + strings.ReplaceAll(s, "\n", `\n`) + "\""
}
