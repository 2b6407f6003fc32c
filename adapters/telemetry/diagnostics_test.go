package telemetry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestErrorHandlerLogsEachMessageOncePerInterval(t *testing.T) {
	var buf bytes.Buffer
	h := NewErrorHandler(NewLogger(&buf, slog.LevelInfo), time.Minute)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	h.now = func() time.Time { return now }

	unreachable := errors.New("traces export: connection refused")
	for range 5 {
		h.Handle(unreachable)
	}
	h.Handle(errors.New("another problem"))
	h.Handle(nil)
	now = now.Add(59 * time.Second)
	h.Handle(unreachable)
	now = now.Add(2 * time.Second)
	h.Handle(unreachable)

	lines := decodeLines(t, buf.String())
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), buf.String())
	}
	if lines[0]["error"] != unreachable.Error() || lines[0]["level"] != "WARN" {
		t.Errorf("first line = %v", lines[0])
	}
	if _, ok := lines[0]["suppressed"]; ok {
		t.Errorf("first line reports suppressed repeats: %v", lines[0])
	}
	if lines[1]["error"] != "another problem" {
		t.Errorf("a distinct message was held back: %v", lines[1])
	}
	if lines[2]["error"] != unreachable.Error() || lines[2]["suppressed"] != float64(5) {
		t.Errorf("after the interval: %v, want the message with suppressed=5", lines[2])
	}
}

func TestErrorHandlerMemoryIsBounded(t *testing.T) {
	var buf bytes.Buffer
	h := NewErrorHandler(NewLogger(&buf, slog.LevelInfo), time.Minute)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	h.now = func() time.Time { return now }

	for i := range 10 * maxTrackedErrors {
		h.Handle(fmt.Errorf("dropped %d spans", i))
	}
	if n := len(h.seen); n > maxTrackedErrors+1 {
		t.Errorf("remembers %d messages, want at most %d", n, maxTrackedErrors+1)
	}
	if lines := decodeLines(t, buf.String()); len(lines) != maxTrackedErrors+1 {
		t.Errorf("logged %d lines for a flood of distinct messages, want %d", len(lines), maxTrackedErrors+1)
	}
}

func TestSetDiagnosticsRoutesOpenTelemetryThroughSlog(t *testing.T) {
	prevHandler := otel.GetErrorHandler()
	t.Cleanup(func() {
		otel.SetErrorHandler(prevHandler)
		otel.SetLogger(logr.Discard())
	})
	var buf bytes.Buffer
	SetDiagnostics(NewLogger(&buf, slog.LevelDebug))

	otel.Handle(errors.New("export failed"))
	otel.Handle(errors.New("export failed"))
	// A tracer provider logs "Tracer created" at info; it must not show.
	tp := sdktrace.NewTracerProvider()
	tp.Tracer("quiet")
	_ = tp.Shutdown(context.Background())

	lines := decodeLines(t, buf.String())
	if len(lines) != 1 || lines[0]["error"] != "export failed" {
		t.Errorf("diagnostics output:\n%s", buf.String())
	}
}
