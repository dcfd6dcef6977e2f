package logs

import (
	"fmt"
	"regexp/syntax"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRingBufferWrapsKeepingNewest(t *testing.T) {
	m := newTestManager(t, ManagerOptions{BufferSize: 3})
	t0 := time.Unix(1000, 0)
	for i := range 7 {
		writeLine(m, entry("a", sdk.Stdout, t0.Add(time.Duration(i)*time.Second), fmt.Sprint("line", i)))
	}
	assert.Equal(t, []string{"line4", "line5", "line6"}, lineTexts(m.Query(Filter{}, 0)))
	assert.Equal(t, []string{"line5", "line6"}, lineTexts(m.Query(Filter{}, 2)))
}

// queryFixture writes a known mix of processes, streams and times:
// entry i is stamped t0+i seconds.
func queryFixture(t *testing.T) (*Manager, time.Time) {
	m := newTestManager(t, ManagerOptions{})
	t0 := time.Unix(5000, 0)
	rows := []struct {
		proc   string
		stream sdk.Stream
		line   string
	}{
		{"web", sdk.Stdout, "GET /index 200"},
		{"db", sdk.Stdout, "ready to accept connections"},
		{"web", sdk.Stderr, "warning: slow request"},
		{"worker", sdk.Stdout, "job 1 done"},
		{"db", sdk.Stderr, "ERROR: deadlock detected"},
		{"web", sdk.Stdout, "GET /login 302"},
		{"worker", sdk.Stderr, "job 2 ERROR timeout"},
		{"web", sdk.Stdout, "POST /login 200"},
	}
	for i, r := range rows {
		writeLine(m, entry(r.proc, r.stream, t0.Add(time.Duration(i)*time.Second), r.line))
	}
	return m, t0
}

func TestQueryFilters(t *testing.T) {
	m, t0 := queryFixture(t)
	cases := []struct {
		name   string
		filter Filter
		limit  int
		want   []string
	}{
		{"everything, merged by time", Filter{}, 0, []string{
			"GET /index 200", "ready to accept connections", "warning: slow request", "job 1 done",
			"ERROR: deadlock detected", "GET /login 302", "job 2 ERROR timeout", "POST /login 200",
		}},
		{"one process", Filter{Processes: []string{"web"}}, 0, []string{
			"GET /index 200", "warning: slow request", "GET /login 302", "POST /login 200",
		}},
		{"two processes", Filter{Processes: []string{"db", "worker"}}, 0, []string{
			"ready to accept connections", "job 1 done", "ERROR: deadlock detected", "job 2 ERROR timeout",
		}},
		{"unknown process", Filter{Processes: []string{"nope"}}, 0, nil},
		{"stderr", Filter{Stream: sdk.Stderr}, 0, []string{
			"warning: slow request", "ERROR: deadlock detected", "job 2 ERROR timeout",
		}},
		{"stdout of web", Filter{Processes: []string{"web"}, Stream: sdk.Stdout}, 0, []string{
			"GET /index 200", "GET /login 302", "POST /login 200",
		}},
		{"contains", Filter{Contains: "login"}, 0, []string{"GET /login 302", "POST /login 200"}},
		{"contains is case sensitive", Filter{Contains: "error"}, 0, nil},
		{"regex", Filter{Regex: `^(GET|POST) /\w+ 200$`}, 0, []string{"GET /index 200", "POST /login 200"}},
		{"regex case insensitive flag", Filter{Regex: `(?i)error`}, 0, []string{"ERROR: deadlock detected", "job 2 ERROR timeout"}},
		{"since is inclusive", Filter{Since: t0.Add(5 * time.Second)}, 0, []string{
			"GET /login 302", "job 2 ERROR timeout", "POST /login 200",
		}},
		{"limit keeps the newest, oldest first", Filter{}, 3, []string{
			"GET /login 302", "job 2 ERROR timeout", "POST /login 200",
		}},
		{"limit larger than matches", Filter{Stream: sdk.Stderr}, 10, []string{
			"warning: slow request", "ERROR: deadlock detected", "job 2 ERROR timeout",
		}},
		{"limit with filter", Filter{Processes: []string{"web"}}, 2, []string{"GET /login 302", "POST /login 200"}},
		{"all fields", Filter{
			Processes: []string{"web", "worker"}, Stream: sdk.Stdout, Contains: "GET", Regex: `\d{3}$`, Since: t0.Add(time.Second),
		}, 5, []string{"GET /login 302"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := m.Query(tc.filter, tc.limit)
			assert.Equal(t, tc.want, lineTexts(got))
			for i := 1; i < len(got); i++ {
				assert.False(t, got[i].Timestamp.Before(got[i-1].Timestamp), "oldest first")
			}
		})
	}
}

func TestQueryManyProcessesFilter(t *testing.T) {
	// More processes than smallProcessSet: the matcher uses a set.
	m := newTestManager(t, ManagerOptions{})
	t0 := time.Unix(0, 0)
	var procs []string
	for i := range 20 {
		name := fmt.Sprint("p", i)
		writeLine(m, entry(name, sdk.Stdout, t0.Add(time.Duration(i)), name))
		if i%2 == 0 {
			procs = append(procs, name)
		}
	}
	got := lineTexts(m.Query(Filter{Processes: procs}, 0))
	assert.Equal(t, procs, got)
}

func TestQueryKeepsOrderOfEqualTimestamps(t *testing.T) {
	m := newTestManager(t, ManagerOptions{})
	ts := time.Unix(42, 0) // a framer stamps every line of one read alike
	for i := range 5 {
		writeLine(m, entry("a", sdk.Stdout, ts, fmt.Sprint(i)))
	}
	assert.Equal(t, []string{"0", "1", "2", "3", "4"}, lineTexts(m.Query(Filter{}, 0)))
	assert.Equal(t, []string{"3", "4"}, lineTexts(m.Query(Filter{}, 2)))
}

func TestBufferSizePerProcess(t *testing.T) {
	m := newTestManager(t, ManagerOptions{BufferSize: 2, BufferSizes: map[string]int{"big": 4}})
	t0 := time.Unix(0, 0)
	write := func(proc string, from, to int) {
		for i := from; i < to; i++ {
			writeLine(m, entry(proc, sdk.Stdout, t0.Add(time.Duration(i)), fmt.Sprint(proc, i)))
		}
	}
	write("big", 0, 6)
	write("small", 0, 6)
	assert.Equal(t, []string{"big2", "big3", "big4", "big5"}, lineTexts(m.Query(Filter{Processes: []string{"big"}}, 0)))
	assert.Equal(t, []string{"small4", "small5"}, lineTexts(m.Query(Filter{Processes: []string{"small"}}, 0)))

	// Shrinking keeps the newest lines.
	m.SetBufferSize("big", 3)
	assert.Equal(t, []string{"big3", "big4", "big5"}, lineTexts(m.Query(Filter{Processes: []string{"big"}}, 0)))
	// Growing keeps everything and then holds more.
	m.SetBufferSize("small", 5)
	write("small", 6, 9)
	assert.Equal(t, []string{"small4", "small5", "small6", "small7", "small8"}, lineTexts(m.Query(Filter{Processes: []string{"small"}}, 0)))
	// n <= 0 restores the default.
	m.SetBufferSize("small", 0)
	assert.Equal(t, []string{"small7", "small8"}, lineTexts(m.Query(Filter{Processes: []string{"small"}}, 0)))
	// A size set before the first line applies to it.
	m.SetBufferSize("later", 1)
	write("later", 0, 3)
	assert.Equal(t, []string{"later2"}, lineTexts(m.Query(Filter{Processes: []string{"later"}}, 0)))
	assert.Equal(t, []string{"big", "later", "small"}, m.Processes())
}

func TestInvalidFilter(t *testing.T) {
	_, err := Filter{Regex: `(unclosed`}.Compile()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"(unclosed"`)
	var syntaxErr *syntax.Error
	assert.ErrorAs(t, err, &syntaxErr, "the regexp error is wrapped")

	_, err = Filter{Stream: 7}.Compile()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "7")

	m := newTestManager(t, ManagerOptions{})
	writeLine(m, entry("a", sdk.Stdout, time.Unix(1, 0), "x"))
	assert.Nil(t, m.Query(Filter{Regex: `[z-a]`}, 0), "an invalid filter matches nothing")
	id, ch := m.Subscribe(Filter{Regex: `a**`})
	assert.Zero(t, id)
	_, open := <-ch
	assert.False(t, open, "an invalid subscription gets a closed channel")
}

func TestNilMatcherMatchesEverything(t *testing.T) {
	var m *Matcher
	e := entry("a", sdk.Stderr, time.Time{}, "x")
	assert.True(t, m.Match(&e))
	assert.True(t, m.MatchProcess("anything"))
}
