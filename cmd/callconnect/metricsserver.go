package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"callconnect/adapters/httpapi"
	"callconnect/adapters/telemetry"
)

// metricsServerModule serves /metrics on an address of its own when one is
// configured (CALLCONNECT_METRICS_ADDR), so that the scrape endpoint can be
// kept off the public port: the API's handler then has no /metrics. Listed
// before the HTTP API, it stops after it, so the drain can still be scraped.
func metricsServerModule(addr string) fx.Option {
	if addr == "" {
		return fx.Module("metrics")
	}
	return fx.Module("metrics", fx.Invoke(func(lc fx.Lifecycle, g prometheus.Gatherer, logger *slog.Logger) {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", telemetry.MetricsHandler(g))
		srv := httpapi.NewServer(addr, mux)
		srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					return fmt.Errorf("listening for /metrics on %s: %w", addr, err)
				}
				go func() {
					if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
						logger.Error("metrics server stopped", "error", err)
					}
				}()
				logger.Info("serving /metrics", "addr", ln.Addr().String())
				return nil
			},
			OnStop: srv.Shutdown,
		})
	}))
}
