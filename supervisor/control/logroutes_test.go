package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// filterScript writes a known mix of lines on both streams, then waits.
const filterScript = `echo "alpha one"; echo "beta two" >&2; echo "alpha three"; echo "gamma 42" >&2; echo "delta 7"; sleep 60`

func lineTexts(lines []LogLine) []string {
	out := []string{}
	for _, l := range lines {
		out = append(out, l.Process+":"+l.Stream+":"+l.Line)
	}
	return out
}

func TestLogQueryFilters(t *testing.T) {
	inst := startInstance(t, sh("a", filterScript), sh("b", `echo "alpha from b"; sleep 60`))
	inst.waitLines(t, "a", 5)
	inst.waitLines(t, "b", 1)
	ctx := testContext(t)
	// Within a stream lines keep their order; between the two pipes of a
	// process, or two processes, the order is the order of the reads, so
	// those cases compare as sets.
	cases := []struct {
		name    string
		q       LogQuery
		want    []string
		ordered bool
	}{
		{"one process, both streams", LogQuery{Processes: []string{"a"}}, []string{
			"a:stdout:alpha one", "a:stderr:beta two", "a:stdout:alpha three", "a:stderr:gamma 42", "a:stdout:delta 7"}, false},
		{"stderr only", LogQuery{Processes: []string{"a"}, Stream: "stderr"}, []string{"a:stderr:beta two", "a:stderr:gamma 42"}, true},
		{"stdout only", LogQuery{Processes: []string{"a"}, Stream: "stdout"}, []string{"a:stdout:alpha one", "a:stdout:alpha three", "a:stdout:delta 7"}, true},
		{"substring", LogQuery{Processes: []string{"a"}, Contains: "alpha"}, []string{"a:stdout:alpha one", "a:stdout:alpha three"}, true},
		{"regex", LogQuery{Processes: []string{"a"}, Regex: `\d+$`}, []string{"a:stderr:gamma 42", "a:stdout:delta 7"}, false},
		{"regex and stream", LogQuery{Processes: []string{"a"}, Regex: `^(gamma|delta)`, Stream: "stdout"}, []string{"a:stdout:delta 7"}, true},
		{"limit keeps the newest", LogQuery{Processes: []string{"a"}, Stream: "stdout", Limit: 2}, []string{"a:stdout:alpha three", "a:stdout:delta 7"}, true},
		{"several processes", LogQuery{Processes: []string{"a", "b"}, Contains: "alpha"}, []string{"a:stdout:alpha one", "a:stdout:alpha three", "b:stdout:alpha from b"}, false},
		{"every process", LogQuery{Contains: "from b"}, []string{"b:stdout:alpha from b"}, true},
		{"since the future", LogQuery{Since: time.Now().Add(time.Hour)}, []string{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lines, err := inst.client.Logs(ctx, tc.q)
			require.NoError(t, err)
			if tc.ordered {
				assert.Equal(t, tc.want, lineTexts(lines))
			} else {
				assert.ElementsMatch(t, tc.want, lineTexts(lines))
			}
		})
	}
	all, err := inst.client.Logs(ctx, LogQuery{})
	require.NoError(t, err)
	assert.Len(t, all, 6)
	for i := 1; i < len(all); i++ {
		assert.False(t, all[i].Time.Before(all[i-1].Time), "oldest first")
	}
	// since as a duration back from now, through the raw API.
	body := get(t, inst, "/v1/logs?process=b&since=1h")
	assert.Contains(t, string(body), "alpha from b")
}

func TestLogParameterErrors(t *testing.T) {
	inst := startInstance(t, sh("a", "sleep 60"))
	cases := []struct {
		query  string
		status int
		code   string
	}{
		{"regex=(unclosed", http.StatusBadRequest, CodeInvalidRegex},
		{"stream=stdin", http.StatusBadRequest, CodeInvalidArgument},
		{"since=yesterday", http.StatusBadRequest, CodeInvalidArgument},
		{"limit=-1", http.StatusBadRequest, CodeInvalidArgument},
		{"limit=ten", http.StatusBadRequest, CodeInvalidArgument},
		{"process=zzz", http.StatusNotFound, CodeUnknownProcess},
	}
	for _, tc := range cases {
		for _, route := range []string{"/v1/logs", "/v1/logs/follow"} {
			t.Run(route+"?"+tc.query, func(t *testing.T) {
				resp, err := inst.client.http.Get("http://prox" + route + "?" + tc.query)
				require.NoError(t, err)
				defer resp.Body.Close()
				assert.Equal(t, tc.status, resp.StatusCode)
				err = decodeError(resp)
				assert.True(t, IsCode(err, tc.code), "%v", err)
			})
		}
	}
	_, err := inst.client.FollowLogs(testContext(t), LogQuery{Regex: "a("})
	assert.True(t, IsCode(err, CodeInvalidRegex), "%v", err)
}

func TestInvalidUTF8TravelsIntact(t *testing.T) {
	inst := startInstance(t, sh("bin", `printf 'ok \377\376 end\n'; sleep 60`))
	inst.waitLines(t, "bin", 1)
	lines, err := inst.client.Logs(testContext(t), LogQuery{Processes: []string{"bin"}})
	require.NoError(t, err)
	require.Len(t, lines, 1)
	assert.Equal(t, []byte("ok \xff\xfe end"), lines[0].Bytes())
	assert.Equal(t, "ok \ufffd\ufffd end", lines[0].Line)
	assert.Equal(t, sdk.Stdout, lines[0].Entry().Stream)
}

func TestFollowReceivesNewLines(t *testing.T) {
	inst := startInstance(t, sh("t", ticker("t")), sh("quiet", "echo hush; sleep 60"))
	inst.waitLines(t, "t", 3)
	ctx := testContext(t)
	kept, err := inst.client.Logs(ctx, LogQuery{Processes: []string{"t"}})
	require.NoError(t, err)

	s, err := inst.client.FollowLogs(ctx, LogQuery{Processes: []string{"t"}, Limit: 2})
	require.NoError(t, err)
	defer s.Close()
	var got []string
	for len(got) < 10 {
		m, err := s.Next()
		require.NoError(t, err)
		require.NotNil(t, m.Line)
		assert.Equal(t, "t", m.Line.Process, "only the followed process")
		got = append(got, m.Line.Line)
	}
	// First the newest kept lines, then new ones, each once, in order.
	assert.Equal(t, kept[len(kept)-2].Line, got[0])
	for i := 1; i < len(got); i++ {
		var prev, cur int
		_, err1 := fmt.Sscanf(got[i-1], "t tick %d", &prev)
		_, err2 := fmt.Sscanf(got[i], "t tick %d", &cur)
		require.NoError(t, errors.Join(err1, err2))
		assert.Equal(t, prev+1, cur, "no line lost or repeated: %v", got)
	}
}

func TestFollowTailAllWithFilter(t *testing.T) {
	inst := startInstance(t, sh("a", filterScript))
	inst.waitLines(t, "a", 5)
	s, err := inst.client.FollowLogs(testContext(t), LogQuery{Regex: "^alpha", Limit: -1})
	require.NoError(t, err)
	defer s.Close()
	for _, want := range []string{"alpha one", "alpha three"} {
		m, err := s.Next()
		require.NoError(t, err)
		assert.Equal(t, want, m.Line.Line)
	}
}

// TestFollowBacklogIsNotRepeated follows a fast writer with the whole
// backlog: lines written between the subscription and the backlog's read
// must come once, never twice.
func TestFollowBacklogIsNotRepeated(t *testing.T) {
	inst := startInstance(t, sh("fast", `i=0; while :; do i=$((i+1)); echo "n $i"; done`))
	inst.waitLines(t, "fast", 100)
	for range 5 {
		s, err := inst.client.FollowLogs(testContext(t), LogQuery{Limit: -1})
		require.NoError(t, err)
		seen := map[string]bool{}
		for range 3000 {
			m, err := s.Next()
			require.NoError(t, err)
			if m.Line == nil {
				continue // a drop notice: this reader is slower than the writer
			}
			require.False(t, seen[m.Line.Line], "line %q sent twice", m.Line.Line)
			seen[m.Line.Line] = true
		}
		s.Close()
	}
}

func TestDedup(t *testing.T) {
	ts := time.Unix(100, 0)
	e := func(line string, at time.Time) logs.LogEntry {
		return logs.LogEntry{Timestamp: at, Process: "p", Stream: sdk.Stdout, Line: []byte(line)}
	}
	backlog := []logs.LogEntry{e("x", ts), e("", ts), e("", ts), e("y", ts)}
	d := newDedup(backlog)
	for _, dup := range []logs.LogEntry{e("", ts), e("", ts), e("y", ts)} {
		assert.True(t, d.skip(&dup), "%q is in the backlog", dup.Line)
	}
	third := e("", ts)
	assert.False(t, d.skip(&third), "each backlog line matches once")
	later := e("x", ts.Add(time.Nanosecond))
	assert.False(t, d.skip(&later), "a later line is new")
	assert.False(t, newDedup(nil).skip(&later))
}

func TestFollowEndsWhenTheClientGoesAway(t *testing.T) {
	inst := startInstance(t, sh("t", ticker("t")))
	inst.waitLines(t, "t", 1)
	inst.client.Close()
	before := runtime.NumGoroutine()

	const followers = 10
	var streams []*LogStream
	var clients []*Client
	for range followers {
		c := NewClient(inst.socket)
		s, err := c.FollowLogs(testContext(t), LogQuery{})
		require.NoError(t, err)
		m, err := s.Next()
		require.NoError(t, err)
		require.NotNil(t, m.Line)
		streams, clients = append(streams, s), append(clients, c)
	}
	ev := NewClient(inst.socket)
	es, err := ev.FollowEvents(testContext(t))
	require.NoError(t, err)
	assert.Greater(t, runtime.NumGoroutine(), before)
	for i := range streams {
		require.NoError(t, streams[i].Close())
		clients[i].Close()
	}
	require.NoError(t, es.Close())
	ev.Close()
	requireNoGoroutineLeak(t, before)
}

func TestFollowEndsWhenProxStops(t *testing.T) {
	inst := startInstance(t, sh("t", ticker("t")))
	s, err := inst.client.FollowLogs(testContext(t), LogQuery{})
	require.NoError(t, err)
	es, err := inst.client.FollowEvents(testContext(t))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, inst.server.Close(ctx))
	for {
		_, err := s.Next()
		if err != nil {
			assert.ErrorIs(t, err, io.EOF, "a clean end")
			break
		}
	}
	_, err = es.Next()
	assert.ErrorIs(t, err, io.EOF)
}

// TestManyFollowersOfAFastWriter: 50 API clients follow a process that
// writes 100,000 lines. The writer finishes (no deadlock), every client
// accounts for every line (received, or reported dropped), and when they
// go away nothing is left running. The clients only count lines, so that
// the test measures the server, not JSON decoding in the clients.
func TestManyFollowersOfAFastWriter(t *testing.T) {
	followers, lines := envInt("FOLLOWERS", 50), 100000
	inst := startInstance(t, sh("w", fmt.Sprintf(`while [ ! -e go ]; do sleep 0.01; done; seq 1 %d`, lines)))
	inst.client.Close()
	before := runtime.NumGoroutine()

	type tally struct{ received, dropped atomic.Uint64 }
	tallies := make([]tally, followers)
	var wg sync.WaitGroup
	bodies := make([]io.Closer, followers)
	clients := make([]*Client, followers)
	for i := range followers {
		clients[i] = NewClient(inst.socket)
		body, err := clients[i].open(testContext(t), "/v1/logs/follow?process=w")
		require.NoError(t, err)
		bodies[i] = body
		wg.Go(func() {
			r := bufio.NewReaderSize(body, 64<<10)
			for {
				line, err := r.ReadSlice('\n')
				if err != nil {
					return
				}
				if n, ok := bytes.CutPrefix(line, []byte(`{"dropped":`)); ok {
					d, err := strconv.ParseUint(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(n), []byte("}")))), 10, 64)
					if err != nil {
						t.Errorf("bad drop notice %q", line)
						return
					}
					tallies[i].dropped.Add(d)
				} else {
					tallies[i].received.Add(1)
				}
			}
		})
	}
	start := time.Now()
	require.NoError(t, touch(inst, "go"))
	require.Eventually(t, func() bool {
		info, _ := inst.sup.Process("w")
		return info.State == supervisor.StateStopped
	}, 2*waitFor, tick, "the writer finished")
	t.Logf("the writer wrote %d lines in %s with %d followers", lines, time.Since(start), followers)
	assert.Eventually(t, func() bool {
		for i := range tallies {
			if tallies[i].received.Load()+tallies[i].dropped.Load() != uint64(lines) {
				return false
			}
		}
		return true
	}, waitFor, tick, "every follower accounts for every line")
	if t.Failed() {
		for i := range tallies {
			t.Logf("follower %d: %d received, %d dropped", i, tallies[i].received.Load(), tallies[i].dropped.Load())
		}
	}
	var received, dropped uint64
	for i := range tallies {
		received += tallies[i].received.Load()
		dropped += tallies[i].dropped.Load()
	}
	t.Logf("followers received %d lines and were told of %d dropped ones", received, dropped)
	for i := range bodies {
		require.NoError(t, bodies[i].Close())
		clients[i].Close()
	}
	wg.Wait()
	requireNoGoroutineLeak(t, before)
}

// touch creates a file in the processes' working folder.
func touch(inst *instance, name string) error {
	return os.WriteFile(filepath.Join(inst.dir, name), nil, 0o600)
}

func TestEncodeMatchesEncodingJSON(t *testing.T) {
	for _, line := range []string{
		"plain", "", `quote " and \ backslash`, "tab\tcr\rnul\x00esc\x1b", "<html> & stuff",
		"ünïcödé ✓ 😀", "\xff\xfe invalid", "trunc \xe2\x82", "sep \u2028 \u2029", strings.Repeat("x", 70000),
	} {
		e := logs.LogEntry{Timestamp: time.Date(2025, 1, 2, 3, 4, 5, 600, time.UTC), Process: "p \"q\"", Stream: sdk.Stderr, Line: []byte(line)}
		got := appendLogLine(nil, &e)
		require.True(t, strings.HasSuffix(string(got), "}\n"))
		var decoded LogLine
		require.NoError(t, json.Unmarshal(got, &decoded), "%s", got)
		assert.Equal(t, LogLineFrom(e), decoded, "line %q", line)
		assert.Equal(t, []byte(line), decoded.Bytes())
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
