package control

import (
	"encoding/json"
	"net/http"

	"github.com/prox-dev/prox/logs"
)

// handleEvents answers GET /v1/events: every state change from now on, of
// processes and of sinks, as NDJSON Event objects, until the client goes
// away or prox stops.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	sup := s.opts.Supervisor
	ch := sup.Subscribe()
	defer sup.Unsubscribe(ch)
	var sinks <-chan logs.SinkEvent // nil: none
	if s.opts.Logs != nil {
		sinks = s.opts.Logs.SubscribeSinkEvents()
		defer s.opts.Logs.UnsubscribeSinkEvents(sinks)
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	ctx := r.Context()
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sinks:
			if !ok {
				sinks = nil // the sinks are closed; the processes' events go on
				continue
			}
			b, err := json.Marshal(EventFromSink(ev))
			if err != nil {
				s.logger.Error("encode an event", "error", err)
				return
			}
			if _, err := w.Write(append(b, '\n')); err != nil || rc.Flush() != nil {
				return
			}
		case ev, ok := <-ch:
			if !ok {
				return
			}
			buf = buf[:0]
			for {
				b, err := json.Marshal(EventFrom(ev))
				if err != nil {
					s.logger.Error("encode an event", "error", err)
					return
				}
				buf = append(append(buf, b...), '\n')
				select {
				case ev, ok = <-ch:
					if ok {
						continue
					}
				default:
				}
				break
			}
			if _, err := w.Write(buf); err != nil || rc.Flush() != nil {
				return
			}
			if !ok {
				return
			}
		}
	}
}
