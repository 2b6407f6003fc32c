package telemetry

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
)

// Config is what the telemetry module takes from the service's
// configuration. Supply it with fx.Supply(telemetry.Config{...}).
type Config struct {
	// ServiceName names the service in traces unless OTEL_SERVICE_NAME
	// does; "callconnect" when empty.
	ServiceName string
	// Version is the service.version resource attribute; omitted when empty.
	Version string
	// LogLevel is the minimum level logged (see ParseLevel for LOG_LEVEL).
	LogLevel slog.Level
	// LogOutput receives the JSON logs; standard error when nil.
	LogOutput io.Writer
	// Getenv reads the OTEL_* variables; os.Getenv when nil.
	Getenv func(string) string
}

// Module provides the JSON *slog.Logger, the trace.TracerProvider (shut
// down, flushing spans, when the app stops), the propagation
// TextMapPropagator, the *prometheus.Registry (also as prometheus.Registerer
// and prometheus.Gatherer) and an *SQLTracer for the pgx pool (which makes
// spans only when they are exported: see TracesExported). It also makes
// the tracer provider and propagator the OpenTelemetry globals and routes
// OpenTelemetry's own errors through the logger, for libraries that only
// know the globals.
var Module = fx.Module("telemetry",
	fx.Provide(
		provideLogger,
		provideTracerProvider,
		Propagator,
		fx.Annotate(NewRegistry,
			fx.As(fx.Self()),
			fx.As(new(prometheus.Registerer)),
			fx.As(new(prometheus.Gatherer)),
		),
		provideSQLTracer,
	),
	fx.Invoke(installGlobals),
)

func provideLogger(cfg Config) *slog.Logger {
	w := cfg.LogOutput
	if w == nil {
		w = os.Stderr
	}
	return NewLogger(w, cfg.LogLevel)
}

func provideTracerProvider(lc fx.Lifecycle, cfg Config) (trace.TracerProvider, error) {
	name := cfg.ServiceName
	if name == "" {
		name = "callconnect"
	}
	getenv := getenvOf(cfg)
	// Building the provider does not dial anything, so the background
	// context is enough; exporters connect on first export.
	tp, shutdown, err := NewTracerProvider(context.Background(), name, cfg.Version, getenv)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{OnStop: shutdown})
	return tp, nil
}

// provideSQLTracer makes SQL spans only when spans are exported: a span
// per statement that nobody receives costs the hot path its allocations and
// gives the logs nothing (their trace ids come from the request's span).
func provideSQLTracer(cfg Config, tp trace.TracerProvider) *SQLTracer {
	if !TracesExported(getenvOf(cfg)) {
		return NewSQLTracer(nil, nil)
	}
	return NewSQLTracer(tp, nil)
}

func getenvOf(cfg Config) func(string) string {
	if cfg.Getenv == nil {
		return os.Getenv
	}
	return cfg.Getenv
}

func installGlobals(logger *slog.Logger, tp trace.TracerProvider) {
	SetDiagnostics(logger)
	Install(tp)
}
