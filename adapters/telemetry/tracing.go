// Package telemetry is the service's observability adapter: OpenTelemetry
// tracing configured from the standard OTEL_* variables, W3C trace-context
// propagation, JSON logs that carry trace ids, a pgx tracer for SQL spans and
// round-trip counting, and Prometheus HTTP metrics.
//
// Every constructor is an ordinary function; module.go only collects them for
// fx. Nothing here sets OpenTelemetry globals except Install and
// SetDiagnostics, which main (or the fx module) calls once.
package telemetry

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Exporter names accepted in OTEL_TRACES_EXPORTER.
const (
	exporterOTLP    = "otlp"
	exporterConsole = "console"
	exporterNone    = "none"
)

// OTLP protocols accepted in OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL.
const (
	protocolGRPC         = "grpc"
	protocolHTTPProtobuf = "http/protobuf"
)

// TracingOption adjusts NewTracerProvider.
type TracingOption func(*tracingConfig)

type tracingConfig struct {
	console io.Writer
}

// WithConsoleWriter sends the console exporter's output to w instead of
// standard output.
func WithConsoleWriter(w io.Writer) TracingOption {
	return func(c *tracingConfig) { c.console = w }
}

// NewTracerProvider builds the tracer provider the service uses, configured
// from the standard OpenTelemetry variables read through getenv:
//
//   - OTEL_SDK_DISABLED=true gives a no-op provider: spans do not record and
//     no trace ids are made.
//   - OTEL_TRACES_EXPORTER is a comma list of otlp, console and none. When it
//     is unset, otlp is used if OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, and otherwise there is no
//     exporter at all.
//   - OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL,
//     picks grpc or http/protobuf (the default).
//
// With no exporter the provider is still a real SDK provider: spans get ids
// that reach the logs and the traceparent of outgoing calls, but nothing is
// printed, sent or dialled.
//
// The OTLP exporters (endpoint, headers, timeout, TLS), the resource
// (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), the sampler
// (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG) and the batch processor
// (OTEL_BSP_*) read their own variables from the process environment, as the
// SDK does; getenv decides only which exporters exist. OTEL_SERVICE_NAME
// overrides serviceName.
//
// shutdown flushes and stops the exporters; call it once on the way out.
func NewTracerProvider(ctx context.Context, serviceName, version string, getenv func(string) string, opts ...TracingOption) (tp trace.TracerProvider, shutdown func(context.Context) error, err error) {
	cfg := tracingConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}

	names, err := traceExporterNames(getenv)
	if err != nil {
		return nil, nil, err
	}

	res, err := newResource(ctx, serviceName, version)
	if err != nil {
		return nil, nil, err
	}

	var exporters []sdktrace.SpanExporter
	closeAll := func() {
		for _, e := range exporters {
			_ = e.Shutdown(context.WithoutCancel(ctx))
		}
	}
	providerOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	for _, name := range names {
		switch name {
		case exporterOTLP:
			exp, err := newOTLPExporter(ctx, getenv)
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			exporters = append(exporters, exp)
			providerOpts = append(providerOpts, sdktrace.WithBatcher(exp))
		case exporterConsole:
			// The console exporter is for a developer watching a terminal, so
			// spans are written as they end rather than in batches.
			stdoutOpts := []stdouttrace.Option{}
			if cfg.console != nil {
				stdoutOpts = append(stdoutOpts, stdouttrace.WithWriter(cfg.console))
			}
			exp, err := stdouttrace.New(stdoutOpts...)
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("console trace exporter: %w", err)
			}
			exporters = append(exporters, exp)
			providerOpts = append(providerOpts, sdktrace.WithSyncer(exp))
		}
	}

	sdk := sdktrace.NewTracerProvider(providerOpts...)
	return sdk, sdk.Shutdown, nil
}

// TracesExported reports whether the OTEL_* variables read through getenv
// send spans anywhere: the SDK is not disabled and at least one exporter is
// configured. Without, the spans NewTracerProvider makes only carry ids (to
// the logs and the traceparent of outgoing calls), so spans made for
// nothing else, as the SQL tracer's, can be skipped.
func TracesExported(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	names, err := traceExporterNames(getenv)
	return err == nil && len(names) > 0
}

// traceExporterNames reads which exporters are wanted. An empty result means
// none.
func traceExporterNames(getenv func(string) string) ([]string, error) {
	raw := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))
	if raw == "" {
		if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
			return []string{exporterOTLP}, nil
		}
		return nil, nil
	}
	var names []string
	none := false
	for part := range strings.SplitSeq(raw, ",") {
		name := strings.ToLower(strings.TrimSpace(part))
		switch name {
		case "":
			continue
		case exporterNone:
			none = true
		case exporterOTLP, exporterConsole:
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		default:
			return nil, fmt.Errorf("OTEL_TRACES_EXPORTER: unknown exporter %q (want otlp, console or none)", part)
		}
	}
	if none && len(names) > 0 {
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER: %q lists none together with other exporters", raw)
	}
	return names, nil
}

func newOTLPExporter(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	protocol := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
	variable := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	if protocol == "" {
		protocol = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
		variable = "OTEL_EXPORTER_OTLP_PROTOCOL"
	}
	switch strings.ToLower(protocol) {
	case "", protocolHTTPProtobuf:
		// Neither constructor dials: the first connection is made when the
		// first batch is exported.
		exp, err := otlptracehttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OTLP trace exporter (http/protobuf): %w", err)
		}
		return exp, nil
	case protocolGRPC:
		exp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OTLP trace exporter (grpc): %w", err)
		}
		return exp, nil
	}
	return nil, fmt.Errorf("%s: unsupported protocol %q (want grpc or http/protobuf)", variable, protocol)
}

// newResource describes this process. Later detectors win, so
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the name and version
// given in code.
func newResource(ctx context.Context, serviceName, version string) (*resource.Resource, error) {
	attrs := []resource.Option{resource.WithTelemetrySDK()}
	if serviceName != "" {
		attrs = append(attrs, resource.WithAttributes(semconv.ServiceName(serviceName)))
	}
	if version != "" {
		attrs = append(attrs, resource.WithAttributes(semconv.ServiceVersion(version)))
	}
	attrs = append(attrs, resource.WithFromEnv())
	res, err := resource.New(ctx, attrs...)
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES is the usual cause.
		return nil, fmt.Errorf("trace resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES): %w", err)
	}
	return res, nil
}

// Propagator is the context propagation the service speaks: W3C Trace
// Context and W3C Baggage.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// Install makes tp and Propagator the OpenTelemetry globals, for libraries
// that only know the globals. Code in this service is handed tp explicitly.
func Install(tp trace.TracerProvider) {
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(Propagator())
}
