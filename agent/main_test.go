package agent

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-plugin"
	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/plugins/builtin"
)

// TestMain lets the test binary serve the built-in plugins: the loader
// re-executes the running binary as `<binary> plugin-serve KIND NAME`,
// exactly as it re-executes prox.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "plugin-serve" {
		if err := builtin.Serve(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	plugin.CleanupClients()
	os.Exit(code)
}

// syncBuffer is an io.Writer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lineTerminal is a Terminal that writes "name | line" to w, only at
// Flush, as the command's printer does with a small buffer.
type lineTerminal struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func newLineTerminal(w io.Writer) *lineTerminal {
	return &lineTerminal{w: w}
}

func (t *lineTerminal) QueueBatch(entries []logs.LogEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range entries {
		t.buf = fmt.Appendf(t.buf, "%s | %s\n", e.Process, e.Line)
	}
}

func (t *lineTerminal) Notice(text string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = fmt.Appendf(t.buf, "(prox: %s)\n", text)
}

func (t *lineTerminal) Flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) > 0 {
		_, _ = t.w.Write(t.buf)
		t.buf = t.buf[:0]
	}
}
