package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.uber.org/fx"
)

// ServerConfig says where and how the HTTP server runs.
type ServerConfig struct {
	Addr            string        // listen address, host:port
	PublicURL       string        // where clients reach it, for the start-up banner
	ShutdownTimeout time.Duration // how long in-flight requests may take to finish on stop
	Banner          io.Writer     // receives the human-readable start-up message; nil for none
	Console         bool          // the operator console is served (its URL goes in the banner)
}

// Module provides the service's http.Handler (from Config, Services and Ops
// in the graph) and runs it in an *http.Server: it listens when the app
// starts, so a taken port stops start-up, and on stop it stops accepting and
// waits for in-flight requests up to ShutdownTimeout.
var Module = fx.Module("httpapi",
	fx.Provide(New),
	fx.Invoke(runServer),
)

func runServer(lc fx.Lifecycle, sc ServerConfig, h http.Handler, logger *slog.Logger) {
	srv := NewServer(sc.Addr, h)
	srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", sc.Addr)
			if err != nil {
				return fmt.Errorf("listening on %s: %w", sc.Addr, err)
			}
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					logger.Error("HTTP server stopped", "error", err)
				}
			}()
			logger.Info("serving", "addr", ln.Addr().String(), "docs", sc.PublicURL+"/docs")
			if sc.Banner != nil {
				fmt.Fprintf(sc.Banner, "\nCall Connect is serving on %s\n  API docs: %s/docs\n  OpenAPI:  %s/openapi.json\n", ln.Addr(), sc.PublicURL, sc.PublicURL)
				if sc.Console {
					fmt.Fprintf(sc.Banner, "  Console:  %s%s (sign in with the admin token)\n", sc.PublicURL, ConsolePath)
				}
				fmt.Fprintln(sc.Banner)
			}
			return nil
		},
		OnStop: func(ctx context.Context) error {
			if sc.ShutdownTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, sc.ShutdownTimeout)
				defer cancel()
			}
			logger.Info("draining HTTP")
			return srv.Shutdown(ctx)
		},
	})
}
