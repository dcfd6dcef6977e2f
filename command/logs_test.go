package command

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/cli"
	"github.com/prox-dev/prox/supervisor/control"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chatty writes a known mix of lines on both streams, pausing between them
// so that each stream's lines are read one at a time, then waits.
const chatty = `
process "app" {
  command = ["sh", "-c", "echo 'alpha one'; sleep 0.05; echo 'beta two' >&2; sleep 0.05; echo 'alpha three'; sleep 0.05; echo 'gamma 42' >&2; sleep 0.05; echo 'delta 7'; exec sleep 600"]
}
process "db" {
  command = ["sh", "-c", "echo 'db ready'; exec sleep 600"]
}
`

// waitLogs waits until the process has written n lines.
func (rp *runningProx) waitLogs(t *testing.T, process string, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		l, err := rp.client.Logs(context.Background(), control.LogQuery{Processes: []string{process}})
		return err == nil && len(l) >= n
	}, ctlWait, ctlTick, "%s never wrote %d lines", process, n)
}

// TestLogs runs one prox up for the logs command's queries.
func TestLogs(t *testing.T) {
	rp := startProx(t, chatty, "app", "db")
	rp.waitLogs(t, "app", 5)
	rp.waitLogs(t, "db", 1)
	t.Run("output and filters", func(t *testing.T) { testLogsOutputAndFilters(t, rp) })
	t.Run("json", func(t *testing.T) { testLogsJSON(t, rp) })
	t.Run("usage errors", func(t *testing.T) { testLogsUsageErrors(t, rp) })
}

func testLogsOutputAndFilters(t *testing.T, rp *runningProx) {
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"one process, prefixed like up", []string{"app"}, []string{"app | alpha one", "app | beta two", "app | alpha three", "app | gamma 42", "app | delta 7"}},
		{"stdout", []string{"-stdout", "app"}, []string{"app | alpha one", "app | alpha three", "app | delta 7"}},
		{"stderr", []string{"-stderr", "app"}, []string{"app | beta two", "app | gamma 42"}},
		{"grep", []string{"-grep", "alpha"}, []string{"app | alpha one", "app | alpha three"}},
		{"regex", []string{"-regex", `\d+$`, "app"}, []string{"app | gamma 42", "app | delta 7"}},
		{"regex over every process", []string{"-regex", `^(db|delta)`}, []string{"app | delta 7", "db  | db ready"}},
		{"newest lines", []string{"-n", "2", "app"}, []string{"app | gamma 42", "app | delta 7"}},
		{"none", []string{"-n", "0", "app"}, nil},
		{"since the last hour", []string{"-since", "1h", "db"}, []string{"db  | db ready"}},
		{"since later", []string{"-since", time.Now().Add(time.Hour).Format(time.RFC3339), "db"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := rp.run(t, "logs", tc.args...)
			require.Equal(t, 0, code, errOut)
			got := lines(out)
			if strings.Contains(tc.name, "every process") {
				assert.ElementsMatch(t, tc.want, got)
				return
			}
			assert.Equal(t, tc.want, got)
		})
	}
	// Without a name: every process, padded to the longest name.
	code, out, _ := rp.run(t, "logs")
	require.Equal(t, 0, code)
	assert.Contains(t, lines(out), "db  | db ready")
	assert.Len(t, lines(out), 6)
	assert.NotContains(t, out, "\x1b[", "no colour when stdout is not a terminal")
}

func testLogsJSON(t *testing.T, rp *runningProx) {
	code, out, errOut := rp.run(t, "logs", "-json", "-stderr", "app")
	require.Equal(t, 0, code, errOut)
	rows := lines(out)
	require.Len(t, rows, 2)
	for i, want := range []string{"beta two", "gamma 42"} {
		var raw map[string]any
		require.NoError(t, json.Unmarshal([]byte(rows[i]), &raw), rows[i])
		assert.ElementsMatch(t, []string{"time", "process", "stream", "line"}, keysOf(raw))
		assert.Equal(t, "app", raw["process"])
		assert.Equal(t, "stderr", raw["stream"])
		assert.Equal(t, want, raw["line"])
		_, err := time.Parse(time.RFC3339Nano, raw["time"].(string))
		assert.NoError(t, err)
	}
}

func testLogsUsageErrors(t *testing.T, rp *runningProx) {
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"-regex", "(unclosed"}, 2, `invalid -regex "(unclosed"`},
		{[]string{"-stdout", "-stderr"}, 2, "-stdout and -stderr exclude each other"},
		{[]string{"-since", "yesterday"}, 2, `invalid -since "yesterday"`},
		{[]string{"-n", "-5"}, 2, "invalid -n -5"},
		{[]string{"-bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"nope"}, 1, `unknown process "nope"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := rp.run(t, "logs", tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Contains(t, errOut, tc.err)
		})
	}
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

// startFollow runs `prox logs -f` with args until the returned cancel is
// called; it returns the command's output so far and its exit code.
func startFollow(t *testing.T, rp *runningProx, args ...string) (out *syncBuffer, stop func() int) {
	t.Helper()
	out = &syncBuffer{}
	ui := cli.NewMockUi()
	ctx, cancel := context.WithCancel(context.Background())
	c := &LogsCommand{Meta: Meta{Ui: ui, Stdout: out, Stderr: ui.ErrorWriter}, ctx: ctx}
	done := make(chan int, 1)
	go func() { done <- c.Run(append([]string{"-config", rp.config, "-f"}, args...)) }()
	stopped := false
	var code int
	stop = func() int {
		if !stopped {
			stopped = true
			cancel()
			select {
			case code = <-done:
			case <-time.After(ctlWait):
				t.Fatal("logs -f did not return after its context ended")
			}
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return out, stop
}

// tickRE reads the number of a ticker's line.
var tickRE = regexp.MustCompile(`tick (\d+)$`)

func TestLogsFollowReceivesNewLines(t *testing.T) {
	rp := startProx(t, `
process "clock" { command = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.02; done"] }
process "quiet" { command = ["sh", "-c", "echo hush; exec sleep 600"] }
`, "clock", "quiet")
	rp.waitLogs(t, "clock", 3)
	out, stop := startFollow(t, rp, "-n", "1", "clock")
	// The newest kept line first, then every new one, in order, once.
	require.Eventually(t, func() bool { return len(lines(out.String())) >= 20 }, ctlWait, ctlTick)
	assert.Equal(t, 0, stop())
	rows := lines(out.String())
	prev := -1
	for _, row := range rows {
		require.True(t, strings.HasPrefix(row, "clock | tick "), "only the followed process: %q", row)
		n, err := strconv.Atoi(tickRE.FindStringSubmatch(row)[1])
		require.NoError(t, err)
		if prev >= 0 {
			assert.Equal(t, prev+1, n, "no line lost or repeated:\n%s", out.String())
		}
		prev = n
	}
}

func TestLogsFollowEndsWhenProxStops(t *testing.T) {
	rp := startProx(t, chatty, "app")
	out, stop := startFollow(t, rp, "-n", "0", "-json")
	require.Eventually(t, func() bool {
		st, err := rp.client.Status(context.Background())
		return err == nil && st.LogFollowers == 1
	}, ctlWait, ctlTick, "the follower never connected")
	require.Equal(t, 0, rp.stop(t))
	assert.Equal(t, 0, stop(), "a clean end when prox stops")
	assert.NotContains(t, out.String(), "alpha one", "-n 0: no kept line")
}

// TestManyFollowersWhileAProcessWrites: 50 API clients follow the output
// of a process of a real prox up while it writes 100,000 lines. Nothing
// deadlocks (the writer finishes), every client accounts for every line
// (received, or reported dropped), and once they go away no stream is
// left open.
func TestManyFollowersWhileAProcessWrites(t *testing.T) {
	const followers, total = 50, 100000
	rp := startProx(t, fmt.Sprintf(`
process "writer" {
  command = ["sh", "-c", "while [ ! -e go ]; do sleep 0.01; done; seq 1 %d; exec sleep 600"]
  dir = "."
}
`, total), "writer")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type tally struct{ received, dropped atomic.Uint64 }
	tallies := make([]tally, followers)
	var wg sync.WaitGroup
	// The clients read the stream as any HTTP client would and only count
	// lines: the test is about prox, not about JSON decoding in clients
	// that share its process (and, under -race, its slowness).
	httpc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", rp.socket)
		},
		MaxConnsPerHost: followers,
	}}
	defer httpc.CloseIdleConnections()
	for i := range followers {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://prox/v1/logs/follow?process=writer", nil)
		require.NoError(t, err)
		resp, err := httpc.Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		wg.Go(func() {
			defer resp.Body.Close()
			r := bufio.NewReaderSize(resp.Body, 64<<10)
			for {
				line, err := r.ReadSlice('\n')
				if err != nil {
					return
				}
				if n, ok := bytes.CutPrefix(line, []byte(`{"dropped":`)); ok {
					d, err := strconv.ParseUint(string(bytes.TrimSuffix(bytes.TrimSpace(n), []byte("}"))), 10, 64)
					if err != nil {
						t.Errorf("bad drop notice %q", line)
						return
					}
					tallies[i].dropped.Add(d)
					continue
				}
				tallies[i].received.Add(1)
			}
		})
	}
	st, err := rp.client.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, followers, st.LogFollowers)

	start := time.Now()
	require.NoError(t, os.WriteFile(filepath.Join(rp.dir, "go"), nil, 0o644))
	require.Eventually(t, func() bool {
		l, err := rp.client.Logs(ctx, control.LogQuery{Processes: []string{"writer"}, Limit: 1})
		return err == nil && len(l) == 1 && l[0].Line == strconv.Itoa(total)
	}, 2*ctlWait, ctlTick, "the writer never finished")
	t.Logf("%d lines written with %d followers in %s", total, followers, time.Since(start))
	require.Eventually(t, func() bool {
		for i := range tallies {
			if tallies[i].received.Load()+tallies[i].dropped.Load() != total {
				return false
			}
		}
		return true
	}, ctlWait, ctlTick, "every follower accounts for every line")
	var received uint64
	for i := range tallies {
		received += tallies[i].received.Load()
	}
	t.Logf("the followers received %d lines in all, and were told of the others", received)
	cancel()
	wg.Wait()
	require.Eventually(t, func() bool {
		st, err := rp.client.Status(context.Background())
		return err == nil && st.LogFollowers == 0
	}, ctlWait, ctlTick, "every stream is closed on the server once its client went away")
}
