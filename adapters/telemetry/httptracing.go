package telemetry

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// HTTPTracing wraps handler so each request gets a server span, a child of
// the caller's span when the request carries a W3C traceparent. The span is
// named "METHOD route" ("GET /v1/leads/{id}") once the router has matched,
// and just "METHOD" for unmatched requests, with http.route set; see
// HTTPMetrics for how the route is found. A nil tp makes no spans.
//
// HTTP metrics come from HTTPMetrics, in Prometheus; otelhttp's own metrics
// are switched off.
func HTTPTracing(handler http.Handler, tp trace.TracerProvider) http.Handler {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	named := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Deferred so a panicking handler's span and metrics still carry
		// the route.
		defer func() {
			publishPattern(r)
			if route := routeOf(r); route != "" {
				span := trace.SpanFromContext(r.Context())
				span.SetName(serverSpanName(r))
				span.SetAttributes(semconv.HTTPRoute(route))
			}
		}()
		handler.ServeHTTP(w, r)
	})
	traced := otelhttp.NewHandler(named, "http.server",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(Propagator()),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return serverSpanName(r) }),
	)
	// The route slot must exist before otelhttp copies the request, so the
	// copy it hands on shares it.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, _ = withRouteSlot(r)
		traced.ServeHTTP(w, r)
	})
}

// serverSpanName follows the HTTP semantic conventions: "{method} {route}",
// or "{method}" alone while no route is known, with "HTTP" for methods
// outside the standard set.
func serverSpanName(r *http.Request) string {
	method := normalizeMethod(r.Method, "HTTP")
	if route := routeOf(r); route != "" {
		return method + " " + route
	}
	return method
}
