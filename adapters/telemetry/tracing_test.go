package telemetry

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// clearOTELEnv removes every OTEL_* variable from the process environment for
// the test, since the SDK parts read it directly.
func clearOTELEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "OTEL_") {
			t.Setenv(k, "")
			_ = os.Unsetenv(k)
		}
	}
}

// setOTELEnv sets the variables in the process environment (for the SDK
// parts) and returns a getenv reading the same, as main passes os.Getenv.
func setOTELEnv(t *testing.T, vars map[string]string) func(string) string {
	t.Helper()
	clearOTELEnv(t)
	for k, v := range vars {
		t.Setenv(k, v)
	}
	return os.Getenv
}

// captureOutput runs fn with standard output, standard error and the
// standard logger redirected, and returns what was written to them.
func captureOutput(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr, oldLog := os.Stdout, os.Stderr, log.Writer()
	os.Stdout, os.Stderr = w, w
	log.SetOutput(w)
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() {
		os.Stdout, os.Stderr = oldOut, oldErr
		log.SetOutput(oldLog)
	}()
	fn()
	_ = w.Close()
	return <-done
}

func TestNoExporterConfiguredIsSilentButStillTraces(t *testing.T) {
	getenv := setOTELEnv(t, nil)

	// If an exporter existed, it would talk to the default OTLP endpoint.
	// Listen there (when the port is free) to see that nothing connects.
	var connections atomic.Int32
	if ln, err := net.Listen("tcp", "127.0.0.1:4318"); err == nil {
		t.Cleanup(func() { _ = ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				connections.Add(1)
				_ = c.Close()
			}
		}()
	}

	out := captureOutput(t, func() {
		tp, shutdown, err := NewTracerProvider(context.Background(), "callconnect", "test", getenv)
		if err != nil {
			t.Errorf("NewTracerProvider: %v", err)
			return
		}
		if _, ok := tp.(*sdktrace.TracerProvider); !ok {
			t.Errorf("provider is %T, want the SDK provider so spans get ids", tp)
		}
		for range 100 {
			_, span := tp.Tracer("test").Start(context.Background(), "op")
			if !span.IsRecording() || !span.SpanContext().IsValid() || !span.SpanContext().IsSampled() {
				t.Errorf("span is not a real sampled span: %+v", span.SpanContext())
			}
			span.End()
		}
		if err := shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	if out != "" {
		t.Errorf("tracing with no exporter printed:\n%s", out)
	}
	if n := connections.Load(); n != 0 {
		t.Errorf("%d connections to the default OTLP endpoint", n)
	}
}

func TestTraceExporterNames(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    []string
		wantErr string
	}{
		{"nothing set", nil, nil, ""},
		{"none", map[string]string{"OTEL_TRACES_EXPORTER": "none"}, nil, ""},
		{"none beats an endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, nil, ""},
		{"endpoint implies otlp", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []string{"otlp"}, ""},
		{"traces endpoint implies otlp", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, []string{"otlp"}, ""},
		{"explicit otlp", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, []string{"otlp"}, ""},
		{"list", map[string]string{"OTEL_TRACES_EXPORTER": " otlp , Console,otlp"}, []string{"otlp", "console"}, ""},
		{"unknown", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, nil, `OTEL_TRACES_EXPORTER: unknown exporter "zipkin"`},
		{"none with others", map[string]string{"OTEL_TRACES_EXPORTER": "none,console"}, nil, "none together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := traceExporterNames(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSDKDisabledGivesNonRecordingSpans(t *testing.T) {
	getenv := setOTELEnv(t, map[string]string{"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "console"})
	var console bytes.Buffer
	tp, shutdown, err := NewTracerProvider(context.Background(), "callconnect", "test", getenv, WithConsoleWriter(&console))
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "op")
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Errorf("span records (%v) or has ids (%v) with the SDK disabled", span.IsRecording(), span.SpanContext())
	}
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if console.Len() != 0 {
		t.Errorf("disabled SDK exported: %s", console.String())
	}
}

func TestConsoleExporterWritesSpansWithResource(t *testing.T) {
	getenv := setOTELEnv(t, map[string]string{
		"OTEL_TRACES_EXPORTER":     "console",
		"OTEL_SERVICE_NAME":        "renamed-by-env",
		"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test",
	})
	var console bytes.Buffer
	tp, shutdown, err := NewTracerProvider(context.Background(), "callconnect", "1.2.3", getenv, WithConsoleWriter(&console))
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "console-span")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := console.String()
	for _, want := range []string{`"Name":"console-span"`, "renamed-by-env", "1.2.3", "deployment.environment.name"} {
		if !strings.Contains(out, want) {
			t.Errorf("console output lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, `"Value":"callconnect"`) {
		t.Errorf("OTEL_SERVICE_NAME did not override the service name:\n%s", out)
	}
}

func TestOTLPHTTPExporterSendsToEndpoint(t *testing.T) {
	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()

	getenv := setOTELEnv(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL})
	tp, shutdown, err := NewTracerProvider(context.Background(), "callconnect", "test", getenv)
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "exported")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 {
		t.Error("no spans reached the OTLP endpoint")
	}
}

func TestOTLPGRPCExporterDoesNotDialUpFront(t *testing.T) {
	getenv := setOTELEnv(t, map[string]string{
		"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
		"OTEL_TRACES_EXPORTER":        "otlp",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1",
	})
	start := time.Now()
	_, shutdown, err := NewTracerProvider(context.Background(), "callconnect", "test", getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := shutdown(ctx); err != nil {
		t.Fatalf("shutdown with nothing to export: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("creating and shutting down took %v", d)
	}
}

func TestBadTracingConfigurationIsAClearError(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"OTEL_TRACES_EXPORTER": "jaeger"}, "OTEL_TRACES_EXPORTER"},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "udp"}, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
		{map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "novalue"}, "OTEL_RESOURCE_ATTRIBUTES"},
	}
	for _, tt := range tests {
		getenv := setOTELEnv(t, tt.env)
		_, _, err := NewTracerProvider(context.Background(), "callconnect", "test", getenv)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("env %v: error = %v, want one naming %s", tt.env, err, tt.want)
		}
	}
}

func TestSamplerComesFromEnvironment(t *testing.T) {
	getenv := setOTELEnv(t, map[string]string{"OTEL_TRACES_SAMPLER": "always_off"})
	tp, shutdown, err := NewTracerProvider(context.Background(), "callconnect", "test", getenv)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = shutdown(context.Background()) }()
	_, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	if span.SpanContext().IsSampled() {
		t.Error("OTEL_TRACES_SAMPLER=always_off ignored")
	}
}

func TestInstallSetsGlobals(t *testing.T) {
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	Install(tp)
	if otel.GetTracerProvider() != tp {
		t.Error("global tracer provider not set")
	}
	fields := strings.Join(otel.GetTextMapPropagator().Fields(), ",")
	if !strings.Contains(fields, "traceparent") || !strings.Contains(fields, "baggage") {
		t.Errorf("global propagator fields = %s, want traceparent and baggage", fields)
	}
}
