package control

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/supervisor"
)

// Supervisor is what the server needs of the supervisor:
// *supervisor.Manager.
type Supervisor interface {
	supervisor.Supervisor
	// Unsubscribe ends a subscription of Subscribe.
	Unsubscribe(ch <-chan supervisor.SupervisorEvent) uint64
}

// Options configure a Server.
type Options struct {
	// Supervisor is the running supervisor; required.
	Supervisor Supervisor
	// Logs is the log manager the supervisor's output goes to; default
	// nil, and then the log routes answer 503 "unavailable".
	Logs *logs.Manager
	// Signaller signals processes; default: the supervisor if it
	// implements Signaller, else none and the signal route answers 501
	// "not_implemented".
	Signaller Signaller
	// Logger receives the server's logs; default none.
	Logger hclog.Logger
	// Reloader reloads the configuration (POST /v1/reload); default nil,
	// and then that route answers 501 "not_implemented".
	Reloader Reloader
	// Version is prox's version, reported by /v1/status; default "".
	Version string
	// Config is the configuration file's path, reported by /v1/status;
	// default "".
	Config string
	// ReadTimeout bounds the reading of a request, header and body; a
	// connection whose request stalls longer is closed. Default
	// DefaultReadTimeout. It never cuts an answer: once a request is read,
	// net/http lifts the connection's read deadline, so the streams
	// (/v1/logs/follow, /v1/events) last as long as their clients read.
	ReadTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request before the server closes it. Default
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Shutdown, when set, asks prox to stop as Ctrl-C does and returns
	// once every process has ended (or ctx is done, which leaves the stop
	// going): POST /v1/shutdown. Default nil, and the route answers 501
	// "not_implemented".
	Shutdown func(ctx context.Context) error
	// Drained, when set, returns once prox has drained its sinks after a
	// shutdown (or ctx is done): POST /v1/shutdown?drained=true answers
	// then, with every sink's final counts. Default nil, and that request
	// answers as soon as the processes have ended, without sinks.
	Drained func(ctx context.Context) error
	// Metrics serves GET /metrics (Prometheus's text format); default
	// nil, and then the route answers 404 like an unknown path.
	Metrics http.Handler
}

// The server's default timeouts. There is no write timeout: the streams
// last as long as their clients read.
const (
	// DefaultReadTimeout is Options.ReadTimeout's default.
	DefaultReadTimeout = 10 * time.Second
	// DefaultIdleTimeout is Options.IdleTimeout's default.
	DefaultIdleTimeout = 10 * time.Second
)

// Server serves the control API on a Listener.
type Server struct {
	opts    Options
	logger  hclog.Logger
	ln      *Listener
	socket  string // absolute
	http    *http.Server
	ctx     context.Context // ends every stream on Close
	cancel  context.CancelFunc
	served  chan struct{}
	pid     int
	started time.Time
	hubs    hubs
}

// closeTimeout bounds how long Close waits for requests in flight.
const closeTimeout = 5 * time.Second

// Serve serves the API on ln in the background until Close, which also
// closes ln.
func Serve(ln *Listener, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.Signaller == nil {
		if s, ok := opts.Supervisor.(Signaller); ok {
			opts.Signaller = s
		}
	}
	abs, err := filepath.Abs(ln.Path())
	if err != nil {
		abs = ln.Path()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:    opts,
		logger:  opts.Logger.Named("control"),
		ln:      ln,
		socket:  abs,
		ctx:     ctx,
		cancel:  cancel,
		served:  make(chan struct{}),
		pid:     os.Getpid(),
		started: time.Now(),
	}
	s.http = &http.Server{
		Handler:     s.routes(),
		ReadTimeout: opts.ReadTimeout, // header and body
		IdleTimeout: opts.IdleTimeout,
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    s.logger.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
	}
	go func() {
		defer close(s.served)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("control API stopped", "error", err)
		}
	}()
	s.logger.Debug("control API listening", "socket", abs)
	return s
}

// Socket returns the socket's absolute path.
func (s *Server) Socket() string { return s.socket }

// Close ends every stream, waits (bounded by ctx and 5 s) for the other
// requests in flight, stops serving and releases the socket.
func (s *Server) Close(ctx context.Context) error {
	s.cancel()
	ctx, cancel := context.WithTimeout(ctx, closeTimeout)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.http.Close())
	}
	<-s.served
	return errors.Join(err, s.ln.Close())
}

// routes returns the API's handler.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", s.handleStatus)
	mux.HandleFunc("GET /v1/processes", s.handleProcesses)
	// The routes of one process, /v1/processes/NAME[/ACTION], are
	// matched by exactPaths.
	for _, action := range []string{"start", "stop", "restart"} {
		mux.HandleFunc("POST /v1/"+action, s.handleActionAll(action))
	}
	mux.HandleFunc("POST /v1/groups/{name}/{action}", s.handleGroupAction)
	mux.HandleFunc("GET /v1/logs", s.handleLogs)
	mux.HandleFunc("GET /v1/logs/follow", s.handleLogsFollow)
	mux.HandleFunc("GET /v1/events", s.handleEvents)
	mux.HandleFunc("GET /v1/sinks", s.handleSinks)
	mux.HandleFunc("POST /v1/shutdown", s.handleShutdown)
	if s.opts.Metrics != nil {
		mux.Handle("GET /metrics", s.opts.Metrics)
	}
	mux.HandleFunc("POST /v1/reload", s.handleReload)
	mux.HandleFunc("POST /v1/scale", s.handleScale)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, noRoute(r))
	})
	return s.exactPaths(mux)
}

// handleStatus answers GET /v1/status.
func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request) {
	st := s.opts.Supervisor.Status()
	writeJSON(w, http.StatusOK, Status{
		PID:           s.pid,
		Version:       s.opts.Version,
		APIVersion:    APIVersion,
		State:         st.State,
		StartedAt:     st.StartedAt,
		Config:        s.opts.Config,
		Socket:        s.socket,
		Processes:     len(st.Processes),
		DroppedEvents: st.DroppedEvents,
		LogFollowers:  s.hubs.count(),
	})
}

// writeJSON writes v as the answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, apiErrorf(http.StatusInternalServerError, CodeInternal, "encode the answer: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError writes err as an error answer.
func writeError(w http.ResponseWriter, err *APIError) {
	var body errorBody
	body.Error.Code, body.Error.Message = err.Code, err.Message
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(err.Status)
	_, _ = w.Write(append(b, '\n'))
}

// supervisorError maps an error of the supervisor to an answer.
func supervisorError(err error, what string) *APIError {
	switch {
	case errors.Is(err, supervisor.ErrUnknownProcess):
		return apiErrorf(http.StatusNotFound, CodeUnknownProcess, "%v", err)
	case errors.Is(err, supervisor.ErrNotRunning):
		return apiErrorf(http.StatusConflict, CodeNotRunning, "%s: %v", what, err)
	case errors.Is(err, supervisor.ErrShutdown):
		return apiErrorf(http.StatusServiceUnavailable, CodeUnavailable, "%s: %v", what, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return apiErrorf(http.StatusServiceUnavailable, CodeUnavailable, "%s: interrupted: %v", what, err)
	}
	return apiErrorf(http.StatusInternalServerError, CodeActionFailed, "%s: %v", what, err)
}

// unknownProcess is the answer for a name no process has.
func unknownProcess(name string) *APIError {
	return apiErrorf(http.StatusNotFound, CodeUnknownProcess, "%v %q", supervisor.ErrUnknownProcess, name)
}
