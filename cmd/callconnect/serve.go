package main

import (
	"callconnect/adapters/cvio"
	"callconnect/adapters/httpguard"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/console"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/jobs"
	"callconnect/adapters/postgres"
	"callconnect/adapters/system"
	"callconnect/adapters/telemetry"
	"callconnect/adapters/webhook"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// serve runs the service until SIGINT or SIGTERM, then drains: /readyz
// answers 503 while the HTTP server still accepts and serves requests for
// the drain period (so that load balancers stop sending first); then the
// server stops accepting, in-flight requests finish (up to the shutdown
// timeout), the delivery workers stop, and the database pool closes last.
func serve(cfg Config, getenv func(string) string, runMigrations bool, stdout, stderr io.Writer, extra ...fx.Option) int {
	fxApp := fx.New(append(options(cfg, getenv, runMigrations, stdout, stderr), extra...)...)
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
// the hooks that migrate and serve.
func options(cfg Config, getenv func(string) string, runMigrations bool, stdout, logOutput io.Writer) []fx.Option {
	return []fx.Option{
		fx.Supply(
			cfg,
			telemetry.Config{ServiceName: "callconnect", Version: serviceVersion(), LogLevel: cfg.LogLevel, LogOutput: logOutput, Getenv: getenv},
			postgres.Config{DatabaseURL: cfg.DatabaseURL, SecretsKey: cfg.SecretsKey},
			httpapi.ServerConfig{Addr: cfg.HTTPAddr, PublicURL: cfg.PublicURL, ShutdownTimeout: cfg.ShutdownTimeout,
				DrainPeriod: cfg.ShutdownDrain, Banner: stdout},
			domain.URLPolicy{AllowHTTP: cfg.AllowHTTPPartners, AllowPrivate: cfg.AllowPrivatePartners, AllowedOrigins: cfg.AllowedPartnerOrigins},
			app.CallsConfig{DispatchDeadline: cfg.DispatchDeadline, RetryMinBackoff: cfg.RetryMinBackoff,
				ResultDeadline: cfg.ResultDeadline},
			webhook.Config{AllowPrivate: cfg.AllowPrivatePartners, AllowedAddrs: cfg.allowedPartnerAddrs(), Version: serviceVersion(),
				ConnectTimeout: cfg.PartnerConnect, Timeout: cfg.PartnerTimeout},
			// A delivery run is one partner request plus the two short
			// transactions around it.
			jobs.Config{MaxWorkers: cfg.DeliveryWorkers, JobTimeout: cfg.PartnerTimeout + 3*time.Second},
			app.CallbacksConfig{MaxAudioBytes: cfg.MaxAudioBytes, ResultDeadline: cfg.ResultDeadline},
			app.MonitorRetentionConfig{Retention: cfg.MonitorRetention},
			app.IdempotencyExpiryConfig{},
			app.NoResultConfig{},
			cfg.AudioStore(),
		),
		fx.WithLogger(func(l *slog.Logger) fxevent.Logger {
			if cfg.LogLevel > slog.LevelDebug {
				return fxevent.NopLogger
			}
			return &fxevent.SlogLogger{Logger: l}
		}),
		fx.StartTimeout(2 * time.Minute),
		fx.StopTimeout(cfg.ShutdownDrain + cfg.ShutdownTimeout + 5*time.Second),
		telemetry.Module,
		fx.Provide(func(t *telemetry.SQLTracer) pgx.QueryTracer { return t }),
		fx.Provide(func(reg prometheus.Registerer) postgres.ExchangeCounter { return telemetry.NewExchangeMetrics(reg) }),
		postgres.Module,
		fx.Invoke(telemetry.RegisterPoolMetrics),
		system.Module,
		webhook.Module,
		cvio.Module,
		audiostore.Module,
		appModule,
		fx.Provide(UseCases.services),
		fx.Provide(newAdminFailures),
		fx.Provide(widgetTokens),
		fx.Provide(consoleParts),
		fx.Provide(httpParts),
		fx.Options(planOf(cfg, runMigrations).modules()...),
	}
}

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

// appModule collects the use cases; app itself knows nothing of fx.
var appModule = fx.Module("app",
	fx.Provide(
		eventsConfig,
		app.NewEvents,
		app.NewEventRetention,
		app.NewConfiguration,
		app.NewTelephony,
		app.NewCallButtons,
		app.NewCalls,
		app.NewPartnerTokens,
		app.NewCallbacks,
		app.NewMonitor,
		app.NewRecordingSweeper,
		app.NewMonitorRetention,
		app.NewIdempotencyKeyExpiry,
		app.NewIdempotentRequests,
		app.NewNoResultMarker,
		app.NewEventSubscriptions,
		app.NewEventDeliveries,
		eventDeliveriesConfig,
		func() ports.EventPayloads { return httpapi.EventPayloads{} },
	),
)

// eventDeliveriesConfig: a sender holds an event subscription's head for
// as long as an attempt may last (the partners' client sends it), the
// transactions around it included; the deliveries are kept as long as the
// events they sent.
func eventDeliveriesConfig(cfg Config) app.EventDeliveriesConfig {
	return app.EventDeliveriesConfig{Claim: cfg.PartnerTimeout + 5*time.Second, Retention: cfg.MonitorRetention}
}

// eventsConfig keeps the events' feeds as long as the monitor keeps its
// exchanges (CALLCONNECT_MONITOR_RETENTION).
func eventsConfig(cfg Config) (app.EventsConfig, app.EventRetentionConfig) {
	return app.EventsConfig{}, app.EventRetentionConfig{Retention: cfg.MonitorRetention}
}

// UseCases are the app's services, as the HTTP API and the console take them.
type UseCases struct {
	fx.In
	Configuration *app.Configuration
	Events        *app.Events
	Telephony     *app.Telephony
	CallButtons   *app.CallButtons
	Calls         *app.Calls
	PartnerTokens *app.PartnerTokens
	Callbacks     *app.Callbacks
	Monitor       *app.Monitor
	Idempotency   *app.IdempotentRequests

	// EventSubscriptions configures the CRM endpoints events are pushed to.
	EventSubscriptions *app.EventSubscriptions
}

// services gathers the use cases from the graph into the one app.Services
// that the HTTP API and the console both take.
func (u UseCases) services() app.Services {
	return app.Services{Configuration: u.Configuration, Events: u.Events, Telephony: u.Telephony, CallButtons: u.CallButtons, Calls: u.Calls,
		PartnerTokens: u.PartnerTokens, Callbacks: u.Callbacks, Monitor: u.Monitor, Idempotency: u.Idempotency,
		EventSubscriptions: u.EventSubscriptions}
}

// httpInputs is what the HTTP module serves, gathered from the graph.
type httpInputs struct {
	fx.In
	Config   Config
	Logger   *slog.Logger
	Pool     *pgxpool.Pool
	Tracer   trace.TracerProvider
	Registry *prometheus.Registry
	Console  *console.Console
	// AdminFailures is shared with the console's sign-in.
	AdminFailures adminFailures
	// Widgets signs the call button element's tokens.
	Widgets *httpapi.WidgetTokens
}

// widgetTokens signs the call button element's tokens with a key derived
// from the secrets key, so that every replica accepts every replica's.
func widgetTokens(cfg Config) *httpapi.WidgetTokens {
	return httpapi.NewWidgetTokens(cfg.SecretsKey, nil)
}

// adminFailures limits failed admin-token attempts per client address,
// on /v1 and at the console's sign-in together, so that a guesser gets no
// more tries by spreading them over both.
type adminFailures struct{ *httpguard.FailureLimit }

func newAdminFailures(cfg Config) adminFailures {
	return adminFailures{httpguard.NewFailureLimit(httpguard.DefaultAdminFailureLimit, cfg.TrustedProxies, nil)}
}

// consoleParts gives the console what it is built on: the admin token it
// signs operators in with, the key its session cookies are signed with
// (derived from the secrets key), the database its sessions are kept in
// (so that a sign-out holds on every replica) and where it is served.
func consoleParts(cfg Config, logger *slog.Logger, sessions ports.ConsoleSessions, failures adminFailures) console.Config {
	return console.Config{AdminToken: cfg.AdminToken, SecretsKey: cfg.SecretsKey, PublicURL: cfg.PublicURL, Logger: logger,
		Sessions: sessions, TrustedProxies: cfg.TrustedProxies, AdminFailures: failures.FailureLimit}
}

// httpParts gives the HTTP module what it serves besides the use cases: the
// configuration, readiness, metrics and the telemetry middleware.
func httpParts(in httpInputs) (httpapi.Config, httpapi.Ops) {
	// With an address of its own for /metrics, the API's port has none.
	var metrics http.Handler
	if in.Config.MetricsAddr == "" {
		metrics = telemetry.MetricsHandler(in.Registry)
	}
	hc := httpConfig(in.Config, in.Logger)
	hc.AdminFailures = in.AdminFailures.FailureLimit
	hc.WidgetTokens = in.Widgets
	return hc,
		httpapi.Ops{
			Ready:   func(ctx context.Context) error { return ready(ctx, in.Pool, in.Logger) },
			Metrics: metrics,
			Middleware: []func(http.Handler) http.Handler{
				func(h http.Handler) http.Handler { return telemetry.HTTPTracing(h, in.Tracer) },
				// Inside the tracing, so each line carries its request's trace id.
				telemetry.AccessLog(in.Logger),
				telemetry.HTTPMetrics(in.Registry),
			},
			Console: in.Console, ConsolePath: console.Path,
		}
}

func httpConfig(cfg Config, logger *slog.Logger) httpapi.Config {
	return httpapi.Config{AdminToken: cfg.AdminToken, MaxBodyBytes: cfg.MaxBodyBytes, MaxCallbackBytes: cfg.MaxCallbackBytes,
		MaxCallbackJSONBytes: cfg.MaxCallbackJSONBytes, MaxCallbackBytesInFlight: cfg.MaxCallbackBytesInFlight,
		TrustedProxies:   cfg.TrustedProxies,
		PartnerRateLimit: cfg.PartnerRateLimit, PublicURL: cfg.PublicURL, Version: serviceVersion(), Logger: logger}
}

// ready reports whether the service can do its work: the database answers
// and its schema is at the version this binary expects.
// The answer is public, so it says what is wrong without connection details;
// those go to the log.
func ready(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := pool.Ping(ctx); err != nil {
		logger.WarnContext(ctx, "not ready: database unreachable", "error", err)
		return errors.New("database unreachable")
	}
	pending, err := postgres.Pending(ctx, pool)
	if err != nil {
		logger.WarnContext(ctx, "not ready: cannot read the schema version", "error", err)
		return errors.New("cannot read the schema version")
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
