package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// decodeLines parses JSON log output, one object per line.
func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, line)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestLoggerAddsTraceIDsOnlyWithASpan(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	sc := span.SpanContext()

	var buf bytes.Buffer
	logger := NewLogger(&buf, slog.LevelInfo)

	logger.InfoContext(ctx, "with span", "k", "v")
	logger.InfoContext(context.Background(), "without span")
	logger.Info("no context")
	logger.WithGroup("req").With("a", 1).InfoContext(ctx, "grouped", "b", 2)
	logger.With("pre", "x").WithGroup("g").InfoContext(ctx, "pre-group attrs")
	logger.DebugContext(ctx, "below level")

	lines := decodeLines(t, buf.String())
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5:\n%s", len(lines), buf.String())
	}
	for _, i := range []int{0, 3, 4} {
		if lines[i][TraceIDKey] != sc.TraceID().String() || lines[i][SpanIDKey] != sc.SpanID().String() {
			t.Errorf("line %d (%v): trace ids = %v/%v, want %s/%s at the top level",
				i, lines[i]["msg"], lines[i][TraceIDKey], lines[i][SpanIDKey], sc.TraceID(), sc.SpanID())
		}
	}
	for _, i := range []int{1, 2} {
		if _, ok := lines[i][TraceIDKey]; ok {
			t.Errorf("line %d (%v) has a trace_id without a span", i, lines[i]["msg"])
		}
		if _, ok := lines[i][SpanIDKey]; ok {
			t.Errorf("line %d (%v) has a span_id without a span", i, lines[i]["msg"])
		}
	}
	if lines[0]["k"] != "v" || lines[0]["level"] != "INFO" || lines[0]["msg"] != "with span" {
		t.Errorf("line 0 lost its content: %v", lines[0])
	}
	group, ok := lines[3]["req"].(map[string]any)
	if !ok || group["a"] != float64(1) || group["b"] != float64(2) {
		t.Errorf("grouped attributes misplaced: %v", lines[3])
	}
	if _, nested := group[TraceIDKey]; nested {
		t.Errorf("trace_id nested inside the group: %v", lines[3])
	}
	if lines[4]["pre"] != "x" {
		t.Errorf("attributes before the group lost: %v", lines[4])
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"debug", slog.LevelDebug, false},
		{"DEBUG", slog.LevelDebug, false},
		{"info", slog.LevelInfo, false},
		{"", slog.LevelInfo, false},
		{" warn ", slog.LevelWarn, false},
		{"warning", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"verbose", 0, true},
		{"info+2", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), "LOG_LEVEL") || !strings.Contains(err.Error(), tt.in) {
				t.Errorf("ParseLevel(%q) error = %v, want one naming LOG_LEVEL and the value", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}
