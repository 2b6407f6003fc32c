package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"callconnect/adapters/httpapi"
	"callconnect/adapters/postgres"
	"callconnect/adapters/system"
	"callconnect/adapters/telemetry"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// serve runs the service until SIGINT or SIGTERM, then drains: the HTTP
// server stops accepting, in-flight requests finish (up to the shutdown
// timeout), and the database pool closes last.
func serve(cfg Config, getenv func(string) string, runMigrations bool, stdout, stderr io.Writer) int {
	fxApp := fx.New(options(cfg, getenv, runMigrations, stdout, stderr)...)
	if err := fxApp.Err(); err != nil {
		fmt.Fprintf(stderr, "callconnect: cannot assemble the service: %v\n", err)
		return 1
	}
	startCtx, cancel := context.WithTimeout(context.Background(), fxApp.StartTimeout())
	defer cancel()
	if err := fxApp.Start(startCtx); err != nil {
		fmt.Fprintf(stderr, "callconnect: cannot start: %v\n", err)
		return 1
	}
	sig := <-fxApp.Wait()
	stopCtx, cancelStop := context.WithTimeout(context.Background(), fxApp.StopTimeout())
	defer cancelStop()
	if err := fxApp.Stop(stopCtx); err != nil {
		fmt.Fprintf(stderr, "callconnect: unclean stop: %v\n", err)
		return 1
	}
	return sig.ExitCode
}

// options assembles the service: one module per adapter, the use cases, and
// the hooks that migrate and serve. Tests reuse it with their own Config.
func options(cfg Config, getenv func(string) string, runMigrations bool, stdout, logOutput io.Writer) []fx.Option {
	return []fx.Option{
		fx.Supply(cfg, startBanner{stdout}, telemetry.Config{ServiceName: "callconnect", Version: version, LogLevel: cfg.LogLevel, LogOutput: logOutput, Getenv: getenv}),
		fx.WithLogger(func(l *slog.Logger) fxevent.Logger {
			if cfg.LogLevel > slog.LevelDebug {
				return fxevent.NopLogger
			}
			return &fxevent.SlogLogger{Logger: l}
		}),
		fx.StartTimeout(2 * time.Minute),
		fx.StopTimeout(cfg.ShutdownTimeout + 5*time.Second),
		telemetry.Module,
		postgresModule,
		appModule,
		migrationsModule(runMigrations),
		httpModule,
	}
}

var postgresModule = fx.Module("postgres",
	fx.Provide(
		func(lc fx.Lifecycle, cfg Config, tracer *telemetry.SQLTracer) (*pgxpool.Pool, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pool, err := postgres.NewPool(ctx, cfg.DatabaseURL, tracer)
			if err != nil {
				return nil, err
			}
			lc.Append(fx.StopHook(pool.Close))
			return pool, nil
		},
		fx.Annotate(func(pool *pgxpool.Pool, cfg Config) (*postgres.Store, error) {
			return postgres.NewStore(pool, cfg.SecretsKey)
		}, fx.As(new(ports.Store))),
	),
)

// migrationsModule migrates the schema when the service starts, before the
// HTTP server opens (fx starts modules in the order they are listed). The
// migrator holds a PostgreSQL advisory lock, so replicas starting together
// take turns.
func migrationsModule(run bool) fx.Option {
	if !run {
		return fx.Module("migrations")
	}
	return fx.Module("migrations",
		fx.Invoke(func(lc fx.Lifecycle, pool *pgxpool.Pool, logger *slog.Logger) {
			lc.Append(fx.Hook{OnStart: func(ctx context.Context) error {
				start := time.Now()
				if err := postgres.Migrate(ctx, pool); err != nil {
					return fmt.Errorf("migrating the schema: %w", err)
				}
				logger.Info("schema migrated", "duration_ms", time.Since(start).Milliseconds())
				return nil
			}})
		}),
	)
}

var appModule = fx.Module("app",
	fx.Provide(
		fx.Annotate(func() system.Clock { return system.Clock{} }, fx.As(new(ports.Clock))),
		fx.Annotate(system.NewRandom, fx.As(new(ports.Random))),
		func(cfg Config) domain.URLPolicy {
			return domain.URLPolicy{AllowHTTP: cfg.AllowHTTPPartners, AllowPrivate: cfg.AllowPrivatePartners}
		},
		app.NewConfiguration,
		app.NewTelephony,
		app.NewCallButtons,
	),
)

var httpModule = fx.Module("http",
	fx.Provide(
		func(cfg Config, logger *slog.Logger, conf *app.Configuration, tel *app.Telephony, buttons *app.CallButtons,
			pool *pgxpool.Pool, tp trace.TracerProvider, reg *prometheus.Registry) http.Handler {
			return httpapi.New(
				httpConfig(cfg, logger),
				httpapi.Services{Configuration: conf, Telephony: tel, CallButtons: buttons},
				httpapi.Ops{
					Ready:   func(ctx context.Context) error { return ready(ctx, pool) },
					Metrics: telemetry.MetricsHandler(reg),
					Middleware: []func(http.Handler) http.Handler{
						func(h http.Handler) http.Handler { return telemetry.HTTPTracing(h, tp) },
						telemetry.HTTPMetrics(reg),
					},
				})
		},
	),
	fx.Invoke(func(lc fx.Lifecycle, cfg Config, h http.Handler, logger *slog.Logger, banner startBanner) {
		srv := httpapi.NewServer(cfg.HTTPAddr, h)
		srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error {
				ln, err := net.Listen("tcp", cfg.HTTPAddr)
				if err != nil {
					return fmt.Errorf("listening on HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
				}
				go func() {
					if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
						logger.Error("HTTP server stopped", "error", err)
					}
				}()
				base := cfg.PublicURL
				logger.Info("serving", "addr", ln.Addr().String(), "docs", base+"/docs")
				fmt.Fprintf(banner, "\nCall Connect is serving on %s\n  API docs: %s/docs\n  OpenAPI:  %s/openapi.json\n\n", ln.Addr(), base, base)
				return nil
			},
			OnStop: func(ctx context.Context) error {
				ctx, cancel := context.WithTimeout(ctx, cfg.ShutdownTimeout)
				defer cancel()
				logger.Info("draining HTTP")
				return srv.Shutdown(ctx)
			},
		})
	}),
)

// startBanner is where the human-readable start-up message goes (standard
// output, while the JSON logs go to standard error).
type startBanner struct{ io.Writer }

func httpConfig(cfg Config, logger *slog.Logger) httpapi.Config {
	return httpapi.Config{AdminToken: cfg.AdminToken, MaxBodyBytes: cfg.MaxBodyBytes, PublicURL: cfg.PublicURL, Version: version, Logger: logger}
}

// ready reports whether the service can do its work: the database answers
// and its schema is at the version this binary expects.
func ready(ctx context.Context, pool *pgxpool.Pool) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	pending, err := postgres.Pending(ctx, pool)
	if err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	if pending {
		return errors.New("database migrations are pending")
	}
	return nil
}

func migrate(ctx context.Context, cfg Config) error {
	pool, err := postgres.NewPool(ctx, cfg.DatabaseURL, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	return postgres.Migrate(ctx, pool)
}

func openAPIDocument(cfg Config) ([]byte, error) {
	return httpapi.OpenAPI(httpConfig(cfg, slog.New(slog.NewTextHandler(os.Stderr, nil))))
}
