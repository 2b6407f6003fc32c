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
	ShutdownTimeout time.Duration // how long in-flight requests may take to finish on stop, after the drain
	Banner          io.Writer     // receives the human-readable start-up message; nil for none; it names the console's URL when Ops has one
	// DrainPeriod is how long, on stop, the server goes on accepting and
	// serving requests while /readyz answers 503, so that a load balancer
	// takes the instance out of rotation before its listener closes (a
	// connection waiting to be accepted then is reset). 0 stops accepting
	// at once.
	DrainPeriod time.Duration
}

// Module provides the service's http.Handler (from Config, Services and Ops
// in the graph) and runs it in an *http.Server: it listens when the app
// starts, so a taken port stops start-up. On stop it drains: /readyz
// answers 503 while requests are still accepted and served for
// DrainPeriod, then it stops accepting and waits for in-flight requests up
// to ShutdownTimeout. Modules listed before it (the job workers) stop after.
var Module = fx.Module("httpapi",
	fx.Provide(newDrain, newHandlerForFx),
	fx.Invoke(runServer),
)

// newHandlerForFx is New, its readiness failing once the server drains.
func newHandlerForFx(cfg Config, svc Services, ops Ops, d *drain) http.Handler {
	ops.Ready = d.ready(ops.Ready)
	ops.Stopping = d.stopping
	return New(cfg, svc, ops)
}

func runServer(lc fx.Lifecycle, sc ServerConfig, ops Ops, h http.Handler, d *drain, logger *slog.Logger) {
	srv := NewServer(sc.Addr, h)
	srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	// Shutdown waits for the requests in flight: the event streams, which
	// would last as long as their clients, end as it begins.
	srv.RegisterOnShutdown(d.stop)
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
				if ops.Console != nil {
					fmt.Fprintf(sc.Banner, "  Console:  %s%s (sign in with the admin token)\n", sc.PublicURL, ops.ConsolePath)
				}
				fmt.Fprintln(sc.Banner)
			}
			return nil
		},
		OnStop: func(ctx context.Context) error {
			d.begin()
			if sc.DrainPeriod > 0 {
				logger.Info("stopping: /readyz answers 503 while requests are still served", "drain_ms", sc.DrainPeriod.Milliseconds())
				wait := time.NewTimer(sc.DrainPeriod)
				select {
				case <-wait.C:
				case <-ctx.Done():
					wait.Stop()
				}
			}
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
