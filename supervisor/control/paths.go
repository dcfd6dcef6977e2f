package control

import (
	"net/http"
	"net/url"
	"strings"
)

// processesPrefix starts the path of every route about one process.
const processesPrefix = "/v1/processes/"

// processActions are the POST routes under /v1/processes/NAME/.
var processActions = []string{"start", "stop", "restart", "signal"}

// exactPaths is the API's outermost handler: a request reaches a route only
// through the path it names, as sent.
//
// The routes about one process (/v1/processes/NAME[/ACTION]) are matched
// here, on the escaped path: NAME is exactly one segment, unescaped once,
// so "..", "%2e%2e" and "a%2Fb" are names like any other (404 naming them
// when no process has them), never path navigation. Every other request
// goes to mux only when its path is already clean (no "." or ".."
// segment, no empty one): http.ServeMux would redirect any other path to
// its cleaned form, and a client that followed could reach another route
// ("/v1/processes/../stop" was redirected to "/v1/stop", every process).
func (s *Server) exactPaths(mux http.Handler) http.Handler {
	actions := map[string]http.HandlerFunc{"signal": s.handleSignal}
	for _, a := range []string{"start", "stop", "restart"} {
		actions[a] = s.handleAction(a)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.EscapedPath()
		if rest, ok := strings.CutPrefix(p, processesPrefix); ok {
			s.serveProcessRoute(w, r, rest, actions)
			return
		}
		if !cleanPath(p) {
			writeError(w, noRoute(r))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// serveProcessRoute serves /v1/processes/NAME[/ACTION], rest being the
// escaped path after /v1/processes/.
func (s *Server) serveProcessRoute(w http.ResponseWriter, r *http.Request, rest string, actions map[string]http.HandlerFunc) {
	seg, action, hasAction := strings.Cut(rest, "/")
	name, err := url.PathUnescape(seg)
	if err != nil || name == "" || strings.Contains(action, "/") || (hasAction && actions[action] == nil) {
		writeError(w, noRoute(r))
		return
	}
	r.SetPathValue("name", name)
	switch {
	case !hasAction && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.handleProcess(w, r)
	case !hasAction:
		methodNotAllowed(w, r, "GET, HEAD")
	case r.Method == http.MethodPost:
		actions[action](w, r)
	default:
		methodNotAllowed(w, r, "POST")
	}
}

// cleanPath reports whether p is a path http.ServeMux serves as it is:
// absolute, without empty, "." or ".." segments (a trailing slash is
// kept by the mux, so it is clean).
func cleanPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		switch {
		case seg == "." || seg == "..":
			return false
		case seg == "" && i != len(segs)-1:
			return false
		}
	}
	return true
}

// noRoute is the answer for a path no route has. It names the path as
// sent (escaped: no control character reaches a terminal).
func noRoute(r *http.Request) *APIError {
	return apiErrorf(http.StatusNotFound, CodeNotFound, "no route %s %s: see docs/api.md", r.Method, r.URL.EscapedPath())
}

// methodNotAllowed answers a route's path with another method.
func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, apiErrorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "%s %s: the route takes %s", r.Method, r.URL.EscapedPath(), allow))
}
