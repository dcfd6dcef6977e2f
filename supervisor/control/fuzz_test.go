package control

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/prox-dev/prox/supervisor"
	"github.com/stretchr/testify/require"
)

// fuzzNames are the processes of FuzzRouter. The supervisor, unlike the
// configuration, takes any name: names that look like path navigation or
// escapes make the property sharper. Each is a group of its own, but for
// the instances of fuzzGroups.
var fuzzNames = []string{"a", "b", "a.b", "..", ".", "a/b", "%2e", "a b", "g.1", "g.2", "dots.1"}

// fuzzGroups maps the instances of FuzzRouter's replicated processes to
// their group: two instances of "g", and one of a group named "..".
var fuzzGroups = map[string]string{"g.1": "g", "g.2": "g", "dots.1": ".."}

// fuzzGroup is the group of the fuzz process named name.
func fuzzGroup(name string) string {
	if g, ok := fuzzGroups[name]; ok {
		return g
	}
	return name
}

// call is an action that reached the supervisor.
type call struct{ action, name string }

// recordingSupervisor is a running supervisor whose actions are recorded
// instead of carried out, so that every request of the fuzzer finds the
// processes as they were.
type recordingSupervisor struct {
	Supervisor
	mu    sync.Mutex
	calls []call
}

func (r *recordingSupervisor) record(action, name string) error {
	r.mu.Lock()
	r.calls = append(r.calls, call{action, name})
	r.mu.Unlock()
	_, err := r.Process(name)
	return err
}

func (r *recordingSupervisor) take() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

func (r *recordingSupervisor) StartProcess(_ context.Context, name string) error {
	return r.record("start", name)
}

func (r *recordingSupervisor) StopProcess(_ context.Context, name string) error {
	return r.record("stop", name)
}

func (r *recordingSupervisor) RestartProcess(_ context.Context, name string) error {
	return r.record("restart", name)
}

func (r *recordingSupervisor) SignalProcess(_ context.Context, name string, _ syscall.Signal) error {
	return r.record("signal", name)
}

// allowedCalls is what a request may do, read from the path as sent:
// POST /v1/processes/SEG/ACTION acts on the process named SEG unescaped,
// POST /v1/groups/SEG/ACTION on the instances of the group named SEG
// unescaped, POST /v1/ACTION on every process; anything else acts on none.
func allowedCalls(r *http.Request) []call {
	if r.Method != http.MethodPost {
		return nil
	}
	p := r.URL.EscapedPath()
	groupActions := []string{"start", "stop", "restart"}
	if action, ok := strings.CutPrefix(p, "/v1/"); ok && slices.Contains(groupActions, action) {
		var out []call
		for _, n := range fuzzNames {
			out = append(out, call{action, n})
		}
		return out
	}
	if rest, ok := strings.CutPrefix(p, "/v1/groups/"); ok {
		parts := strings.Split(rest, "/")
		if len(parts) != 2 || !slices.Contains(groupActions, parts[1]) {
			return nil
		}
		group, err := url.PathUnescape(parts[0])
		if err != nil {
			return nil
		}
		var out []call
		for _, n := range fuzzNames {
			if fuzzGroup(n) == group {
				out = append(out, call{parts[1], n})
			}
		}
		return out
	}
	rest, ok := strings.CutPrefix(p, "/v1/processes/")
	if !ok {
		return nil
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 2 || !slices.Contains(processActions, parts[1]) {
		return nil
	}
	name, err := url.PathUnescape(parts[0])
	if err != nil {
		return nil
	}
	return []call{{parts[1], name}}
}

// FuzzRouter sends arbitrary methods and paths to the API's handler: a
// request acts only on the process its path names exactly (or the
// instances of the group it names, or, for /v1/ACTION, every process), is
// never redirected, and never panics.
// The seed corpus is testdata/fuzz/FuzzRouter.
func FuzzRouter(f *testing.F) {
	inst := startInstance(f, fuzzProcs()...)
	rec := &recordingSupervisor{Supervisor: inst.sup}
	ln, err := Listen(filepath.Join(f.TempDir(), "fuzz.sock"))
	require.NoError(f, err)
	srv := Serve(ln, Options{Supervisor: rec, Logs: inst.logs, Version: "test"})
	f.Cleanup(func() { _ = srv.Close(context.Background()) })
	handler := srv.http.Handler
	for _, n := range fuzzNames {
		require.Eventually(f, func() bool {
			info, err := inst.sup.Process(n)
			return err == nil && info.State == supervisor.StateRunning
		}, waitFor, tick, "process %q never ran", n)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel() // streams end at once

	f.Fuzz(func(t *testing.T, method, target string) {
		body := `{"signal":"HUP"}`
		raw := method + " " + target + " HTTP/1.1\r\nHost: prox\r\nContent-Length: 16\r\n\r\n" + body
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return // not a request the server would serve
		}
		req = req.WithContext(cancelled)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		got := rec.take()

		if w.Code >= 300 && w.Code < 400 || w.Header().Get("Location") != "" {
			t.Fatalf("%s %s was redirected: %d %q", method, target, w.Code, w.Header().Get("Location"))
		}
		allowed := allowedCalls(req)
		for _, c := range got {
			if !slices.Contains(allowed, c) {
				t.Fatalf("%s %s (escaped path %q) reached %s of %q; allowed: %v", method, target, req.URL.EscapedPath(), c.action, c.name, allowed)
			}
		}
		// A process route that names a process reaches it (a group route
		// may be refused for its query: ?rolling=x).
		onProcess := strings.HasPrefix(req.URL.EscapedPath(), "/v1/processes/")
		if onProcess && len(allowed) == 1 && slices.Contains(fuzzNames, allowed[0].name) && len(got) != 1 {
			t.Fatalf("%s %s did not reach %s of %q: status %d, %s", method, target, allowed[0].action, allowed[0].name, w.Code, w.Body)
		}
	})
}

// fuzzProcs are long-running processes named fuzzNames.
func fuzzProcs() []proc {
	var out []proc
	for _, n := range fuzzNames {
		p := sh(n, "sleep 600")
		p.group = fuzzGroups[n]
		out = append(out, p)
	}
	return out
}
