package file

import (
	"context"
	"fmt"
	"github.com/hashicorp/go-hclog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCombinedFile(t *testing.T) {
	path := inDir(t, "all.log")
	s := newSink(t, map[string]any{"path": path})
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{
		entry("web", 0, "listening on :8080"),
		entry("db", 1, "ready"),
		entry("web", 2, "GET /"),
	}})
	write(t, s, &sdk.Batch{Seq: 2,
		Entries: []sdk.LogEntry{entry("web", 3, "boom")},
		Events:  []sdk.Event{{Timestamp: base.Add(4 * time.Millisecond), Process: "web", Type: "exited", State: "crashed", ExitCode: 1}},
	})
	assert.Equal(t, []string{
		"web | listening on :8080",
		"db | ready",
		"web | GET /",
		"web | boom",
		"web | --- prox: process web crashed (exit 1)",
	}, lines(t, readFile(t, path)))
}

func TestPerProcessFiles(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, map[string]any{"path": filepath.Join(dir, "logs", "{process}.log")})
	write(t, s, &sdk.Batch{Seq: 1,
		Entries: []sdk.LogEntry{entry("web", 0, "w1"), entry("db", 1, "d1"), entry("web", 2, "w2")},
		Events:  []sdk.Event{{Timestamp: base.Add(time.Millisecond), Process: "web", State: "crashed", ExitCode: 2, Restarts: 1}},
	})
	assert.Equal(t, []string{"w1", "--- prox: process web crashed (exit 2, restarts 1)", "w2"},
		lines(t, readFile(t, filepath.Join(dir, "logs", "web.log"))))
	assert.Equal(t, []string{"d1"}, lines(t, readFile(t, filepath.Join(dir, "logs", "db.log"))))
	entries, err := os.ReadDir(filepath.Join(dir, "logs"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{".{process}.log.prox-state", "db.log", "web.log"}, names, "the two files and the sink's state file")
}

func TestPrefixes(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		want   []string
	}{
		{"defaults of a combined file", nil, []string{"web | out", "web | err", "web | --- prox: process web started"}},
		{"no prefixes", map[string]any{"process_prefix": false}, []string{"out", "err", "--- prox: process web started"}},
		{"stream", map[string]any{"process_prefix": false, "stream_prefix": true}, []string{"stdout out", "stderr err", "--- prox: process web started"}},
		{"all", map[string]any{"timestamp": true, "stream_prefix": true}, []string{
			"2024-05-06T07:08:09.123456789Z web | stdout out",
			"2024-05-06T07:08:09.124Z web | stderr err",
			"2024-05-06T07:08:09.125456789Z web | --- prox: process web started",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := inDir(t, "all.log")
			values := map[string]any{"path": path}
			for k, v := range tt.values {
				values[k] = v
			}
			s := newSink(t, values)
			errLine := sdk.LogEntry{Timestamp: time.Date(2024, 5, 6, 7, 8, 9, 124000000, time.UTC), Process: "web", Stream: sdk.Stderr, Line: []byte("err")}
			write(t, s, &sdk.Batch{Seq: 1,
				Entries: []sdk.LogEntry{entry("web", 0, "out"), errLine},
				Events:  []sdk.Event{{Timestamp: base.Add(2 * time.Millisecond), Process: "web", Type: "started"}},
			})
			assert.Equal(t, tt.want, lines(t, readFile(t, path)))
		})
	}
}

func TestPerProcessPrefixDefaultsOff(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, map[string]any{"path": filepath.Join(dir, "{process}.log"), "process_prefix": true})
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("web", 0, "x")}})
	assert.Equal(t, "web | x\n", readFile(t, filepath.Join(dir, "web.log")))

	dir = t.TempDir()
	s = newSink(t, map[string]any{"path": filepath.Join(dir, "{process}.log")})
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("web", 0, "x")}})
	assert.Equal(t, "x\n", readFile(t, filepath.Join(dir, "web.log")))
}

func TestEventsCanBeTurnedOff(t *testing.T) {
	path := inDir(t, "all.log")
	s := newSink(t, map[string]any{"path": path, "events": false, "process_prefix": false})
	write(t, s, &sdk.Batch{Seq: 1,
		Entries: []sdk.LogEntry{entry("web", 0, "line")},
		Events:  []sdk.Event{{Timestamp: base, Process: "web", State: "crashed", ExitCode: 1}},
	})
	assert.Equal(t, "line\n", readFile(t, path))
}

func TestEventOrderWithinBatch(t *testing.T) {
	path := inDir(t, "all.log")
	s := newSink(t, map[string]any{"path": path, "process_prefix": false})
	write(t, s, &sdk.Batch{Seq: 1,
		Entries: []sdk.LogEntry{entry("web", 0, "a"), entry("web", 5, "b"), entry("web", 10, "c")},
		Events: []sdk.Event{
			{Timestamp: base, Process: "web", Type: "started"},
			{Timestamp: base.Add(7 * time.Millisecond), Process: "web", State: "crashed", Signal: "SIGKILL"},
			{Timestamp: base.Add(20 * time.Millisecond), Process: "web", State: "failed", Message: "restart limit\nreached"},
		},
	})
	assert.Equal(t, []string{
		"a",
		"--- prox: process web started",
		"b",
		"--- prox: process web crashed (signal SIGKILL)",
		"c",
		"--- prox: process web failed: restart limit reached",
	}, lines(t, readFile(t, path)))
}

func TestInvalidUTF8WrittenByteExact(t *testing.T) {
	path := inDir(t, "all.log")
	s := newSink(t, map[string]any{"path": path, "process_prefix": false})
	raw := [][]byte{
		{0xff, 0xfe, 'a', 0xc3},
		{'x', 0x00, '\r', 0x80, 0xbf},
		{},
		[]byte("héllo \xed\xa0\x80 surrogate"),
	}
	b := &sdk.Batch{Seq: 1}
	var want []byte
	for i, l := range raw {
		b.Entries = append(b.Entries, sdk.LogEntry{Timestamp: base.Add(time.Duration(i)), Process: "bin", Stream: sdk.Stdout, Line: l})
		want = append(append(want, l...), '\n')
	}
	write(t, s, b)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestAppendsToExistingFile(t *testing.T) {
	path := inDir(t, "all.log")
	require.NoError(t, os.WriteFile(path, []byte("old\n"), 0o644))
	s := newSink(t, map[string]any{"path": path, "process_prefix": false})
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("web", 0, "new")}})
	assert.Equal(t, "old\nnew\n", readFile(t, path))
}

func TestFlushMakesDataVisibleOnDisk(t *testing.T) {
	path := inDir(t, "all.log")
	s := newSink(t, map[string]any{"path": path, "process_prefix": false})
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("web", 0, "one"), entry("web", 1, "two")}})
	require.NoError(t, s.Flush(context.Background()))
	// A separate reader (another open file description) sees the lines.
	assert.Equal(t, "one\ntwo\n", readFile(t, path))

	require.NoError(t, s.Close(context.Background()))
	assert.Equal(t, "one\ntwo\n", readFile(t, path))
	err := s.Write(context.Background(), &sdk.Batch{Seq: 2, Entries: []sdk.LogEntry{entry("web", 2, "late")}})
	assert.ErrorContains(t, err, "closed")
	assert.NoError(t, s.Close(context.Background()), "a second Close is not an error")
}

func TestLargeBatchBeyondBuffer(t *testing.T) {
	path := inDir(t, "all.log")
	s := newSink(t, map[string]any{"path": path, "process_prefix": false, "max_size": "0"})
	const n = 20000 // ~1.2 MB: several buffer fills
	b := &sdk.Batch{Seq: 1}
	for i := range n {
		b.Entries = append(b.Entries, entry("web", i, fmt.Sprintf("line %06d %s", i, strings.Repeat("x", 50))))
	}
	write(t, s, b)
	got := lines(t, readFile(t, path))
	require.Len(t, got, n)
	for i, l := range got {
		require.Equal(t, fmt.Sprintf("line %06d %s", i, strings.Repeat("x", 50)), l)
	}
}

func TestUncreatableDirectory(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "blocker")
	require.NoError(t, os.WriteFile(blocker, nil, 0o644))

	t.Run("combined file: Configure fails", func(t *testing.T) {
		s := New()
		err := s.Configure(hostConfig(t, map[string]any{"path": filepath.Join(blocker, "sub", "all.log")}))
		require.Error(t, err)
		assert.Contains(t, err.Error(), filepath.Join(blocker, "sub"))
	})
	t.Run("per-process fixed part: Configure fails", func(t *testing.T) {
		s := New()
		err := s.Configure(hostConfig(t, map[string]any{"path": filepath.Join(blocker, "{process}.log")}))
		require.Error(t, err)
		assert.Contains(t, err.Error(), blocker)
	})
	t.Run("per-process directory: Write fails and writes nothing", func(t *testing.T) {
		logs := filepath.Join(dir, "logs")
		s := newSink(t, map[string]any{"path": filepath.Join(logs, "{process}", "out.log")})
		require.NoError(t, os.MkdirAll(logs, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(logs, "web"), nil, 0o644))
		err := s.Write(context.Background(), &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("db", 0, "d"), entry("web", 1, "w")}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), filepath.Join(logs, "web"))
		assert.Contains(t, err.Error(), `process "web"`)
		assert.Equal(t, "", readFile(t, filepath.Join(logs, "db", "out.log")), "a failed batch writes nothing")

		// Once the obstacle is gone, the resent batch goes through once.
		require.NoError(t, os.Remove(filepath.Join(logs, "web")))
		write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("db", 0, "d"), entry("web", 1, "w")}})
		assert.Equal(t, "d\n", readFile(t, filepath.Join(logs, "db", "out.log")))
		assert.Equal(t, "w\n", readFile(t, filepath.Join(logs, "web", "out.log")))
	})
}

func TestUnsafeProcessNames(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, map[string]any{"path": filepath.Join(dir, "{process}.log")})
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("a/b", 0, "slash"), entry("..", 1, "dots")}})
	assert.Equal(t, "slash\n", readFile(t, filepath.Join(dir, "a_b.log")))
	assert.Equal(t, "dots\n", readFile(t, filepath.Join(dir, "__.log")))
}

func TestWriteBeforeConfigure(t *testing.T) {
	err := New().Write(context.Background(), &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{entry("web", 0, "x")}})
	assert.ErrorContains(t, err, "not configured")
}

func TestFlushAndCloseSyncOnlyWhatWasWrittenSinceTheLastSync(t *testing.T) {
	dir := t.TempDir()
	s := New()
	s.logger = hclog.New(&hclog.LoggerOptions{Name: "sink.file", Output: t.Output()})
	var mu sync.Mutex
	synced := map[string]int{}
	s.fsync = func(f *os.File) error {
		mu.Lock()
		defer mu.Unlock()
		synced[filepath.Base(f.Name())]++
		return f.Sync()
	}
	require.NoError(t, s.Configure(hostConfig(t, map[string]any{"path": filepath.Join(dir, "{process}.log")})))
	var entries []sdk.LogEntry
	for i := range 40 {
		entries = append(entries, entry(fmt.Sprintf("p%02d", i), i, "line"))
	}
	write(t, s, &sdk.Batch{Seq: 1, Entries: entries})
	require.NoError(t, s.Flush(context.Background()))
	assert.Len(t, synced, 40, "every file written is synced, once")
	for name, n := range synced {
		assert.Equal(t, 1, n, name)
	}
	write(t, s, &sdk.Batch{Seq: 2, Entries: []sdk.LogEntry{entry("p07", 50, "more")}})
	require.NoError(t, s.Close(context.Background()))
	assert.Equal(t, 2, synced["p07.log"], "written again: synced again")
	assert.Equal(t, 1, synced["p08.log"], "nothing new since the Flush: no second fsync")
	assert.Equal(t, "line\nmore\n", readFile(t, filepath.Join(dir, "p07.log")))
}
