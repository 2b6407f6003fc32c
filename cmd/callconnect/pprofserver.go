package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"

	"go.uber.org/fx"

	"callconnect/adapters/httpapi"
)

// pprofServerModule serves Go's profiler (net/http/pprof, under
// /debug/pprof/) on an address of its own when one is configured
// (CALLCONNECT_PPROF_ADDR), to see where a process under load spends its
// time: go tool pprof http://ADDR/debug/pprof/profile?seconds=10. It shows
// the process's internals (command line, goroutines, heap), so it is off
// unless asked for, never on the API's port, and belongs on loopback.
func pprofServerModule(addr string) fx.Option {
	if addr == "" {
		return fx.Module("pprof")
	}
	return fx.Module("pprof", fx.Invoke(func(lc fx.Lifecycle, logger *slog.Logger) {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		srv := httpapi.NewServer(addr, mux)
		srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
		// A CPU profile or a trace answers after the seconds it was asked
		// for: the API server's write timeout would cut it.
		srv.WriteTimeout = 0
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error {
				ln, err := net.Listen("tcp", addr)
				if err != nil {
					return fmt.Errorf("listening for /debug/pprof on %s: %w", addr, err)
				}
				go func() {
					if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
						logger.Error("pprof server stopped", "error", err)
					}
				}()
				logger.Warn("serving Go's profiler at /debug/pprof/: keep this address private", "addr", ln.Addr().String())
				return nil
			},
			OnStop: srv.Shutdown,
		})
	}))
}
