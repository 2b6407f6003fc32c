package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
)

func TestModuleProvidesAndShutsDown(t *testing.T) {
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})

	var logs bytes.Buffer
	var (
		logger *slog.Logger
		tp     trace.TracerProvider
		prop   propagation.TextMapPropagator
		reg    *prometheus.Registry
		rg     prometheus.Registerer
		ga     prometheus.Gatherer
		sqlTr  *SQLTracer
	)
	app := fx.New(
		Module,
		fx.Supply(Config{
			ServiceName: "callconnect",
			Version:     "test",
			LogLevel:    slog.LevelDebug,
			LogOutput:   &logs,
			Getenv:      func(string) string { return "" },
		}),
		fx.Populate(&logger, &tp, &prop, &reg, &rg, &ga, &sqlTr),
		fx.NopLogger,
	)
	if err := app.Err(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if rg != reg || ga != reg {
		t.Error("Registerer and Gatherer are not the provided registry")
	}
	if otel.GetTracerProvider() != tp {
		t.Error("module did not install the tracer provider globally")
	}
	spanCtx, span := tp.Tracer("test").Start(ctx, "op")
	logger.DebugContext(spanCtx, "inside")
	span.End()
	if lines := decodeLines(t, logs.String()); len(lines) != 1 || lines[0][TraceIDKey] == nil {
		t.Errorf("module logger output: %s", logs.String())
	}
	if sqlTr == nil || prop == nil {
		t.Error("SQL tracer or propagator missing")
	}
	if err := app.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestModuleFailsOnBadConfiguration(t *testing.T) {
	app := fx.New(
		Module,
		fx.Supply(Config{Getenv: func(k string) string {
			if k == "OTEL_TRACES_EXPORTER" {
				return "zipkin"
			}
			return ""
		}}),
		fx.Invoke(func(trace.TracerProvider) {}),
		fx.NopLogger,
	)
	if app.Err() == nil {
		t.Fatal("module started with OTEL_TRACES_EXPORTER=zipkin")
	}
}

// TestModuleSQLSpansOnlyWhenExported: without an exporter the SQL tracer
// makes no span (nobody would receive it); with one, it does.
func TestModuleSQLSpansOnlyWhenExported(t *testing.T) {
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})
	for _, tc := range []struct {
		what  string
		env   map[string]string
		spans bool
	}{
		{"no exporter configured", nil, false},
		{"OTEL_TRACES_EXPORTER=none", map[string]string{"OTEL_TRACES_EXPORTER": "none"}, false},
		{"the SDK disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}, false},
		{"the console exporter", map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true},
		{"an OTLP endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
	} {
		var sqlTr *SQLTracer
		app := fx.New(
			Module,
			fx.Supply(Config{LogOutput: &bytes.Buffer{}, Getenv: func(k string) string { return tc.env[k] }}),
			fx.Populate(&sqlTr),
			fx.NopLogger,
		)
		if err := app.Err(); err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		if got := sqlTr.tracer != nil; got != tc.spans {
			t.Errorf("%s: the SQL tracer makes spans: %v, want %v", tc.what, got, tc.spans)
		}
		if got := TracesExported(func(k string) string { return tc.env[k] }); got != tc.spans {
			t.Errorf("%s: TracesExported %v, want %v", tc.what, got, tc.spans)
		}
	}
}
