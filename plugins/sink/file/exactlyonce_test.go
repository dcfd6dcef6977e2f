package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// faultyDisk is a log file writer that writes the first limit bytes of a
// batch for real, then fails like a full disk: the bytes before the
// failure stay in the file, the first record after them is cut.
type faultyDisk struct {
	mu      sync.Mutex
	armed   bool
	left    int64
	failed  bool
	written int64 // bytes of the armed batch written
}

// arm makes the writes from now on fail once limit bytes are written.
func (d *faultyDisk) arm(limit int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armed, d.left, d.failed, d.written = true, limit, false, 0
}

func (d *faultyDisk) disarm() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armed = false
}

func (d *faultyDisk) write(f *os.File, p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.armed {
		return f.Write(p)
	}
	if int64(len(p)) <= d.left {
		n, err := f.Write(p)
		d.left -= int64(n)
		d.written += int64(n)
		return n, err
	}
	n, err := f.Write(p[:d.left])
	d.written += int64(n)
	d.left = 0
	d.failed = true
	if err != nil {
		return n, err
	}
	return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
}

// newFaultySink is newSink with a faultyDisk under its files.
func newFaultySink(t *testing.T, values map[string]any, d *faultyDisk) *Sink {
	t.Helper()
	s := New()
	s.logger = hclog.New(&hclog.LoggerOptions{Name: "sink.file", Output: t.Output()})
	s.writeFile = d.write
	require.NoError(t, s.Configure(hostConfig(t, values)))
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// numberedLine is line i (counting all processes) of numberedBatch.
func batchLine(processes []string, i int) string {
	p := processes[i%len(processes)]
	return fmt.Sprintf("%s line %06d %s", p, i/len(processes), strings.Repeat("x", 40+i%23))
}

// numberedBatch is batch seq: lines [from, to) of the processes, round
// robin (see batchLine).
func numberedBatch(seq uint64, processes []string, from, to int) *sdk.Batch {
	b := &sdk.Batch{Seq: seq}
	for i := from; i < to; i++ {
		b.Entries = append(b.Entries, entry(processes[i%len(processes)], i, batchLine(processes, i)))
	}
	return b
}

// batchBytes is what b takes in a file without prefixes.
func batchBytes(b *sdk.Batch) int64 {
	n := int64(0)
	for _, e := range b.Entries {
		n += int64(len(e.Line) + 1)
	}
	return n
}

// requireExactlyOnce requires the file of each process (files[i] is that
// of processes[i]) to hold its lines of the first n of numberedBatch, each
// exactly once, whole and in order, and nothing else.
func requireExactlyOnce(t *testing.T, processes, files []string, n int) {
	t.Helper()
	for k, path := range files {
		got := lines(t, readFile(t, path))
		next := 0
		for i := k; i < n; i += len(processes) {
			want := batchLine(processes, i)
			if next >= len(got) || got[next] != want {
				context := got[max(next-2, 0):min(next+3, len(got))]
				require.Failf(t, "not every line once, whole and in order", "%s: line %d is not %q; lines %d..: %q", path, next, want, max(next-2, 0), context)
			}
			next++
		}
		require.Len(t, got, next, "%s: nothing after the last line", path)
	}
}

// TestFailedWriteThenResendWritesEachLineOnce fails a batch part way
// through, at several points (before its first byte, inside its first
// record, inside a later record, after its last byte), then resends it
// with the same Seq, as prox does: to the same sink, or to a new sink on
// the same files (a relaunched plugin). Each line is in its file exactly
// once, and no line is cut.
func TestFailedWriteThenResendWritesEachLineOnce(t *testing.T) {
	const perBatch = 4500 // ~0.3 MB: more than one buffer of the combined file
	for _, layout := range []string{"combined", "per-process"} {
		processes := []string{"api"}
		if layout == "per-process" {
			processes = []string{"api", "web"}
		}
		first := numberedBatch(101, processes, 0, perBatch)
		failing := numberedBatch(102, processes, perBatch, 2*perBatch)
		last := numberedBatch(103, processes, 2*perBatch, 3*perBatch)
		size := batchBytes(failing)
		for _, limit := range []int64{0, 20, size / 3, size - 7, size} {
			for _, resend := range []string{"same sink", "new sink"} {
				t.Run(fmt.Sprintf("%s/fails after %d of %d bytes/%s", layout, limit, size, resend), func(t *testing.T) {
					dir := t.TempDir()
					// One process in a combined file without prefix: the
					// file is that process's lines.
					values := map[string]any{"path": filepath.Join(dir, "all.log"), "process_prefix": false}
					files := []string{filepath.Join(dir, "all.log")}
					if layout == "per-process" {
						values = map[string]any{"path": filepath.Join(dir, "{process}.log")}
						files = []string{filepath.Join(dir, "api.log"), filepath.Join(dir, "web.log")}
					}
					disk := &faultyDisk{}
					s := newFaultySink(t, values, disk)
					write(t, s, first)

					disk.arm(limit)
					err := s.Write(context.Background(), failing)
					if limit < size {
						require.Error(t, err)
						assert.ErrorIs(t, err, syscall.ENOSPC)
					} else {
						// Everything was written, but prox did not get the
						// acknowledgement (a lost answer) and resends.
						require.NoError(t, err)
					}
					disk.disarm()

					if resend == "new sink" {
						// prox closes the failed sink and relaunches its
						// plugin, which gets the same configuration.
						require.NoError(t, s.Close(context.Background()))
						s = newFaultySink(t, values, disk)
					}
					write(t, s, failing)
					write(t, s, last)
					require.NoError(t, s.Flush(context.Background()))
					requireExactlyOnce(t, processes, files, 3*perBatch)
				})
			}
		}
	}
}

// TestResendAfterRotationWritesEachLineOnce: the batch that rotated the
// file fails part way; its resend goes into the new file, once, and does
// not rotate again.
func TestResendAfterRotationWritesEachLineOnce(t *testing.T) {
	processes := []string{"web"}
	first := numberedBatch(11, processes, 0, 10)   // ~700 bytes
	second := numberedBatch(12, processes, 10, 20) // ~700 more: over 1000
	for _, resend := range []string{"same sink", "new sink"} {
		t.Run(resend, func(t *testing.T) {
			path := inDir(t, "web.log")
			values := map[string]any{"path": path, "max_size": "1000B", "max_backups": 3, "process_prefix": false}
			disk := &faultyDisk{}
			s := newFaultySink(t, values, disk)
			write(t, s, first)
			disk.arm(100)
			require.Error(t, s.Write(context.Background(), second))
			disk.disarm()
			if resend == "new sink" {
				require.NoError(t, s.Close(context.Background()))
				s = newFaultySink(t, values, disk)
			}
			write(t, s, second)
			var want1, want []string
			for i := range 10 {
				want1 = append(want1, batchLine(processes, i))
				want = append(want, batchLine(processes, 10+i))
			}
			assert.Equal(t, want1, lines(t, readFile(t, path+".1")), "the first batch, rotated once")
			assert.Equal(t, want, lines(t, readFile(t, path)), "the second batch, once")
			assert.NoFileExists(t, path+".2", "no second rotation")
		})
	}
}

// TestStateRecordCutOrDamagedReadsAsNone: a record cut short (a kill
// during its write) or with a byte changed is no record; bytes after a
// whole record (what is left of a longer, older one) do not matter.
func TestStateRecordCutOrDamagedReadsAsNone(t *testing.T) {
	rec := stateRecord{seq: 1 << 40, host: 4242, files: []stateEntry{
		{path: "/logs/web.log", dev: 2049, ino: 123456, start: 1000, end: 5000},
		{path: "/logs/db.log", dev: 2049, ino: 99, start: 0, end: 17},
	}}
	b := rec.appendTo(nil)
	got, err := decodeState(append(b, "tail of an older, longer record"...))
	require.NoError(t, err)
	rec.valid = true
	assert.Equal(t, rec, got)
	for n := range len(b) {
		_, err := decodeState(b[:n])
		require.ErrorIs(t, err, errNoRecord, "cut after %d bytes", n)
	}
	for i := range len(b) {
		c := append([]byte(nil), b...)
		c[i] ^= 0x20
		_, err := decodeState(c)
		require.ErrorIs(t, err, errNoRecord, "byte %d changed", i)
	}
}

func TestStatePath(t *testing.T) {
	assert.Equal(t, "/logs/.app.log.prox-state", statePath("/logs/app.log", false))
	assert.Equal(t, "/logs/.{process}.log.prox-state", statePath("/logs/{process}.log", true))
	assert.Equal(t, "/logs/.app-{process}%2Fout.log.prox-state", statePath("/logs/app-{process}/out.log", true))
	assert.Equal(t, "/logs/.{process}%252F.log.prox-state", statePath("/logs/{process}%2F.log", true))
	assert.Equal(t, "/.app.log.prox-state", statePath("/app.log", false))
}

// TestCutStateRecordThenResendAppends: a plugin killed while it wrote the
// state record of a batch had written none of the batch: the relaunched
// plugin reads no record and appends the resent batch.
func TestCutStateRecordThenResendAppends(t *testing.T) {
	dir := t.TempDir()
	values := map[string]any{"path": filepath.Join(dir, "all.log"), "process_prefix": false}
	processes := []string{"api"}
	s := newSink(t, values)
	write(t, s, numberedBatch(21, processes, 0, 100))
	s.writeState = func(f *os.File, b []byte) error {
		_, err := f.WriteAt(b[:len(b)/2], 0)
		require.NoError(t, err)
		return &os.PathError{Op: "write", Path: f.Name(), Err: syscall.EIO}
	}
	s.state.write = s.writeState
	require.ErrorIs(t, s.Write(context.Background(), numberedBatch(22, processes, 100, 200)), syscall.EIO)
	require.NoError(t, s.Close(context.Background()))

	s = newSink(t, values)
	write(t, s, numberedBatch(22, processes, 100, 200))
	write(t, s, numberedBatch(23, processes, 200, 300))
	requireExactlyOnce(t, processes, []string{filepath.Join(dir, "all.log")}, 300)
}

// TestStateOfAnotherProxIsIgnored: a record written under another prox
// process (an earlier run, whose Seq may come again) takes nothing back.
func TestStateOfAnotherProxIsIgnored(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "all.log")
	values := map[string]any{"path": path, "process_prefix": false}
	s := newSink(t, values)
	write(t, s, &sdk.Batch{Seq: 5, Entries: []sdk.LogEntry{entry("api", 0, "from the first run")}})
	require.NoError(t, s.Close(context.Background()))

	s = New()
	s.logger = hclog.New(&hclog.LoggerOptions{Name: "sink.file", Output: t.Output()})
	s.host++ // another prox
	require.NoError(t, s.Configure(hostConfig(t, values)))
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	write(t, s, &sdk.Batch{Seq: 5, Entries: []sdk.LogEntry{entry("api", 1, "from the second run")}})
	assert.Equal(t, "from the first run\nfrom the second run\n", readFile(t, path))
}

// TestSecondSinkOnTheSameFilesWritesAtLeastOnce: two sinks with the same
// path (two sink blocks, two prox) cannot both take back what they wrote:
// the second finds the state file locked, says so, and appends.
func TestSecondSinkOnTheSameFilesWritesAtLeastOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "all.log")
	values := map[string]any{"path": path, "process_prefix": false}
	a := newSink(t, values)
	write(t, a, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("api", 0, "a1")}})

	var logs strings.Builder
	b := New()
	b.logger = hclog.New(&hclog.LoggerOptions{Name: "sink.file", Output: &logs})
	require.NoError(t, b.Configure(hostConfig(t, values)))
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	write(t, b, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("api", 1, "b1")}})
	assert.Contains(t, logs.String(), "cannot keep the state file")
	assert.Contains(t, logs.String(), "locked by another sink")
	write(t, b, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("api", 1, "b1")}})
	write(t, a, &sdk.Batch{Seq: 2, Entries: []sdk.LogEntry{entry("api", 2, "a2")}})
	assert.Equal(t, "a1\nb1\nb1\na2\n", readFile(t, path), "b's resend repeats; a's lines are untouched")
}

// TestCutLineOfAnEarlierProxIsRemoved: prox was killed while its plugin
// wrote a batch (the plugin died with it, part way through a record).
// That batch never comes again; the next prox's sink removes the cut
// record at the end of the file and keeps the whole lines before it.
func TestCutLineOfAnEarlierProxIsRemoved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "all.log")
	values := map[string]any{"path": path, "process_prefix": false}
	processes := []string{"api"}
	disk := &faultyDisk{}
	s := newFaultySink(t, values, disk)
	write(t, s, numberedBatch(31, processes, 0, 100))
	cut := numberedBatch(32, processes, 100, 200)
	disk.arm(batchBytes(numberedBatch(32, processes, 100, 150)) + 10) // 50 lines and 10 bytes
	require.Error(t, s.Write(context.Background(), cut))
	disk.disarm()
	require.NoError(t, s.Close(context.Background()))

	s = New()
	s.logger = hclog.New(&hclog.LoggerOptions{Name: "sink.file", Output: t.Output()})
	s.host++ // the next prox
	require.NoError(t, s.Configure(hostConfig(t, values)))
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("api", 0, "next run")}})
	var want []string
	for i := range 150 {
		want = append(want, batchLine(processes, i))
	}
	assert.Equal(t, append(want, "next run"), lines(t, readFile(t, path)))
}
