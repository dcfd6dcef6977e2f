package command

import (
	"bytes"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/logs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingWriter keeps every Write as it was made.
type recordingWriter struct {
	writes []string
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.writes = append(w.writes, string(b))
	return len(b), nil
}

func entry(process, line string) logs.LogEntry {
	return logs.LogEntry{Process: process, Line: []byte(line)}
}

func TestPrinterPrintWritesEachLineAtOnce(t *testing.T) {
	w := &recordingWriter{}
	p := newPrinter(w, []string{"web", "db"}, false)
	p.Print(entry("web", "hello"))
	p.Print(entry("db", "world"))
	assert.Equal(t, []string{"web | hello\n", "db  | world\n"}, w.writes)
}

func TestPrinterQueueBatchWritesOnFlush(t *testing.T) {
	w := &recordingWriter{}
	p := newPrinter(w, []string{"web", "db"}, false)
	p.QueueBatch([]logs.LogEntry{entry("web", "one")})
	p.QueueBatch([]logs.LogEntry{entry("db", "two")})
	assert.Empty(t, w.writes, "queued lines wait for Flush")
	p.Flush()
	assert.Equal(t, []string{"web | one\ndb  | two\n"}, w.writes, "one write for the queued lines")
	p.Flush()
	assert.Len(t, w.writes, 1, "nothing left to write")
}

func TestPrinterQueueBatchWritesWholeLinesWhenFull(t *testing.T) {
	w := &recordingWriter{}
	p := newPrinter(w, []string{"a", "b"}, false)
	var want strings.Builder
	for i := range 5000 {
		name := []string{"a", "b"}[i%2]
		line := strings.Repeat("x", i%120)
		p.QueueBatch([]logs.LogEntry{entry(name, line)})
		want.WriteString(name + " | " + line + "\n")
	}
	require.NotEmpty(t, w.writes, "a full buffer is written without waiting for Flush")
	p.Flush()
	for i, wr := range w.writes {
		assert.True(t, strings.HasSuffix(wr, "\n"), "write %d ends with a whole line", i)
		assert.LessOrEqual(t, len(wr), printBufferSize+200, "write %d", i)
	}
	assert.Equal(t, want.String(), strings.Join(w.writes, ""))
}

func TestPrinterQueueBatchDoesNotDependOnTheBatches(t *testing.T) {
	var batch []logs.LogEntry
	for i := range 12000 { // about 600 KB: more than two buffers
		batch = append(batch, entry([]string{"a", "bb"}[i%2], strings.Repeat("y", i%90)))
	}
	one, many := &recordingWriter{}, &recordingWriter{}
	p1, p2 := newPrinter(one, []string{"a", "bb"}, false), newPrinter(many, []string{"a", "bb"}, false)
	for _, e := range batch {
		p1.QueueBatch([]logs.LogEntry{e})
	}
	p2.QueueBatch(batch[:5000])
	p2.QueueBatch(batch[5000:])
	p1.Flush()
	p2.Flush()
	assert.Equal(t, one.writes, many.writes, "the same writes, whole lines, in order")
	assert.Greater(t, len(many.writes), 1, "a full buffer is written within a batch")
}

func TestPrinterPrintAfterQueueBatchKeepsOrder(t *testing.T) {
	var out bytes.Buffer
	p := newPrinter(&out, []string{"web"}, false)
	p.QueueBatch([]logs.LogEntry{entry("web", "first")})
	p.Print(entry("web", "second"))
	assert.Equal(t, "web | first\nweb | second\n", out.String())
}

// brokenPipe is a stdout whose reader is gone.
type brokenPipe struct{ writes int }

func (b *brokenPipe) Write([]byte) (int, error) {
	b.writes++
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
}

func TestPrinterStopsOnceItsReaderIsGone(t *testing.T) {
	w := &brokenPipe{}
	p := newPrinter(w, []string{"a"}, false)
	gone := make(chan error, 2)
	p.onGone = func(err error) { gone <- err }
	p.QueueBatch([]logs.LogEntry{{Process: "a", Line: []byte("one")}})
	p.Flush()
	select {
	case err := <-gone:
		assert.ErrorIs(t, err, syscall.EPIPE)
	case <-time.After(10 * time.Second):
		t.Fatal("onGone was not called")
	}
	p.QueueBatch([]logs.LogEntry{{Process: "a", Line: []byte("two")}})
	p.Flush()
	p.Print(logs.LogEntry{Process: "a", Line: []byte("three")})
	assert.Equal(t, 1, w.writes, "nothing is written after the reader went")
	assert.Empty(t, gone, "onGone is called once")
}
