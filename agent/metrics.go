package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/prox-dev/prox/internal/version"
	"github.com/prox-dev/prox/supervisor"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/prox-dev/prox/supervisor/metrics"
)

// listenMetrics takes the metrics block's TCP address, before any plugin
// starts; an address in use is a diagnostic at the address. nil without
// a metrics block.
func listenMetrics(cfg *config.Config) (net.Listener, hcl.Diagnostics) {
	if cfg == nil || cfg.Metrics == nil || cfg.Metrics.Address == "" {
		return nil, nil
	}
	m := cfg.Metrics
	ln, err := net.Listen("tcp", m.Address)
	if err != nil {
		detail := fmt.Sprintf("prox cannot serve /metrics on %s: %v.", m.Address, err)
		if errors.Is(err, errAddrInUse) {
			detail = fmt.Sprintf("Another program already listens on %s (a second prox up with this file, or another exporter): choose a free port.", m.Address)
		}
		rng := m.AddressRange
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Metrics address not available", Detail: detail, Subject: &rng}}
	}
	return ln, nil
}

// metricsHandler is /metrics for the running stack.
func (a *Agent) metricsHandler(sup supervisor.Supervisor) http.Handler {
	st, pipe := a.st, a.pipe
	return metrics.Handler(metrics.Source{
		Supervisor: sup,
		Logs:       pipe.logs,
		Version:    version.Version,
		Plugins: func() []metrics.Plugin {
			var out []metrics.Plugin
			for key, r := range st.relaunching {
				inst := r.Instance()
				out = append(out, metrics.Plugin{ID: "runner." + key, Up: !inst.Exited(), Relaunches: uint64(r.Relaunches())})
			}
			for id, t := range pipe.sinkTargets {
				p := metrics.Plugin{ID: "sink." + id, Up: !t.Instance().Exited()}
				if s, ok := pipe.logs.SinkStats(id); ok {
					p.Relaunches = s.Relaunches
				}
				out = append(out, p)
			}
			return out
		},
	})
}

// serveMetrics serves /metrics on the metrics listener until the returned
// function is called.
func serveMetrics(ln net.Listener, h http.Handler, logger hclog.Logger) func() {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: logger.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener stopped", "error", err)
		}
	}()
	logger.Info("serving /metrics", "address", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
}
