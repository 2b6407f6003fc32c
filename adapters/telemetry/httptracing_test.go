package telemetry

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestHTTPTracingContinuesIncomingTraceAndNamesByRoute(t *testing.T) {
	tp, rec := newRecordingProvider(t)
	var logs bytes.Buffer
	logger := NewLogger(&logs, slog.LevelInfo)

	mux := http.NewServeMux()
	var handlerSpan trace.SpanContext
	mux.HandleFunc("GET /v1/leads/{id}", func(w http.ResponseWriter, r *http.Request) {
		handlerSpan = trace.SpanContextFromContext(r.Context())
		logger.InfoContext(r.Context(), "handling")
	})
	h := HTTPTracing(mux, tp)

	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		spanID  = "00f067aa0ba902b7"
	)
	req := httptest.NewRequest("GET", "/v1/leads/42", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-"+spanID+"-01")
	req.Header.Set("baggage", "tenant=acme")
	h.ServeHTTP(httptest.NewRecorder(), req)

	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("ended spans = %d, want 1", len(spans))
	}
	s := spans[0]
	if s.SpanContext().TraceID().String() != traceID {
		t.Errorf("trace id = %s, want the incoming %s", s.SpanContext().TraceID(), traceID)
	}
	if s.Parent().SpanID().String() != spanID || !s.Parent().IsRemote() {
		t.Errorf("parent = %s (remote %v), want the incoming span %s", s.Parent().SpanID(), s.Parent().IsRemote(), spanID)
	}
	if s.SpanKind() != trace.SpanKindServer {
		t.Errorf("kind = %v, want server", s.SpanKind())
	}
	if s.Name() != "GET /v1/leads/{id}" {
		t.Errorf("name = %q, want %q", s.Name(), "GET /v1/leads/{id}")
	}
	if v, _ := attrOf(s, "http.route"); v.AsString() != "/v1/leads/{id}" {
		t.Errorf("http.route = %q", v.AsString())
	}
	if handlerSpan.SpanID() != s.SpanContext().SpanID() {
		t.Error("the handler's context does not hold the server span")
	}
	lines := decodeLines(t, logs.String())
	if len(lines) != 1 || lines[0][TraceIDKey] != traceID || lines[0][SpanIDKey] != s.SpanContext().SpanID().String() {
		t.Errorf("handler log does not carry the trace: %v", lines)
	}
}

func TestHTTPTracingNames(t *testing.T) {
	tp, rec := newRecordingProvider(t)
	h := HTTPTracing(replaceRequest(ReportRoute(newTestMux())), tp)
	tests := []struct{ method, target, want string }{
		{"GET", "/v1/leads/1", "GET /v1/leads/{id}"},
		{"POST", "/v1/call-buttons", "POST /v1/call-buttons"},
		{"GET", "/nowhere", "GET"},
		{"BREW", "/v1/leads/1", "HTTP"},
		{"GET", "/panics", "GET /panics"},
	}
	for _, tt := range tests {
		before := len(rec.Ended())
		serve(h, tt.method, tt.target)
		ended := rec.Ended()
		if len(ended) != before+1 {
			t.Fatalf("%s %s: no span ended", tt.method, tt.target)
		}
		if got := ended[len(ended)-1].Name(); got != tt.want {
			t.Errorf("%s %s: span name %q, want %q", tt.method, tt.target, got, tt.want)
		}
	}
}

func TestHTTPTracingWithoutIncomingTraceStartsARoot(t *testing.T) {
	tp, rec := newRecordingProvider(t)
	serve(HTTPTracing(newTestMux(), tp), "GET", "/v1/leads/1")
	s := rec.Ended()[0]
	if s.Parent().IsValid() {
		t.Errorf("span has parent %v without a traceparent", s.Parent())
	}
	if !s.SpanContext().IsValid() {
		t.Error("span has no ids")
	}
}
