package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// One line per request, with what an operator looks for: method, route
// template (never the path or the query), status, body bytes, duration and
// the trace id the request's span has (the caller's, from traceparent).
func TestAccessLogLine(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	var buf bytes.Buffer
	logger := NewLogger(&buf, slog.LevelInfo)
	big := bytes.Repeat([]byte("x"), 70_000)
	mux := newTestMux()
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(big) })
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open("accesslog.go")
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "accesslog.go", time.Time{}, f)
	})
	h := HTTPTracing(AccessLog(logger)(mux), tp)
	info, err := os.Stat("accesslog.go")
	if err != nil {
		t.Fatal(err)
	}

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, tc := range []struct {
		method, target string
		header         []string
		want           map[string]any
	}{
		{"GET", "/v1/leads/lead-42?token=s3cr3t", []string{"traceparent", "00-" + traceID + "-00f067aa0ba902b7-01"},
			map[string]any{"method": "GET", "route": "/v1/leads/{id}", "status": 200.0, "bytes": 7.0, TraceIDKey: traceID}},
		{"PUT", "/v1/leads/lead-42", nil, map[string]any{"method": "PUT", "route": "/v1/leads/{id}", "status": 422.0, "bytes": 0.0}},
		{"GET", "/big", nil, map[string]any{"route": "/big", "status": 200.0, "bytes": float64(len(big))}},
		{"GET", "/file", nil, map[string]any{"route": "/file", "status": 200.0, "bytes": float64(info.Size())}},
		{"GET", "/nowhere/lead-42", nil, map[string]any{"route": "unmatched", "status": 404.0}},
		{"BREW", "/v1/leads/lead-42", nil, map[string]any{"method": "_OTHER"}},
		{"GET", "/panics", nil, map[string]any{"route": "/panics", "status": 500.0}},
	} {
		buf.Reset()
		req := httptest.NewRequest(tc.method, tc.target, nil)
		for i := 0; i+1 < len(tc.header); i += 2 {
			req.Header.Set(tc.header[i], tc.header[i+1])
		}
		func() {
			defer func() { _ = recover() }()
			h.ServeHTTP(httptest.NewRecorder(), req)
		}()
		lines := decodeLines(t, buf.String())
		if len(lines) != 1 {
			t.Errorf("%s %s: %d log lines, want 1:\n%s", tc.method, tc.target, len(lines), buf.String())
			continue
		}
		line := lines[0]
		if line["msg"] != AccessLogMessage || line["level"] != "INFO" {
			t.Errorf("%s %s: line %v", tc.method, tc.target, line)
		}
		for k, v := range tc.want {
			if line[k] != v {
				t.Errorf("%s %s: %s = %v, want %v (line %v)", tc.method, tc.target, k, line[k], v, line)
			}
		}
		if d, ok := line["duration_ms"].(float64); !ok || d < 0 {
			t.Errorf("%s %s: duration_ms %v", tc.method, tc.target, line["duration_ms"])
		}
		if id, _ := line[TraceIDKey].(string); len(id) != 32 {
			t.Errorf("%s %s: no trace id: %v", tc.method, tc.target, line)
		}
		if strings.Contains(buf.String(), "lead-42") || strings.Contains(buf.String(), "s3cr3t") {
			t.Errorf("%s %s: the line shows the path or the query: %s", tc.method, tc.target, buf.String())
		}
	}
}
