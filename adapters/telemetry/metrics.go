package telemetry

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/felixge/httpsnoop"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// unmatchedRoute labels requests no route matched (404s, 405s, redirects
// made by the mux), so unknown paths share one series.
const unmatchedRoute = "unmatched"

// NewRegistry returns a Prometheus registry holding the Go runtime and
// process collectors. The service registers its own metrics on it rather than
// on the global default registry.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// MetricsHandler serves the metrics gathered by g in the Prometheus text
// format, for /metrics.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// HTTPMetrics returns middleware recording, for every request,
//
//	http_server_requests_total{method,route,status}
//	http_server_request_duration_seconds{method,route}
//
// route is the ServeMux pattern without its method ("/v1/leads/{id}"), the
// route a router reported with SetRoute, or "unmatched"; method is folded to
// "_OTHER" when it is not a standard one. Both stay bounded whatever clients
// send. The pattern is seen when this middleware wraps the mux directly or
// through HTTPTracing; with other layers in between that replace the
// request, wrap the mux in ReportRoute.
//
// Calling HTTPMetrics twice with one registerer shares the metrics.
func HTTPMetrics(reg prometheus.Registerer) func(http.Handler) http.Handler {
	requests := registerOnce(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_server_requests_total",
		Help: "HTTP requests served, by method, route template and status code.",
	}, []string{"method", "route", "status"}))
	duration := registerOnce(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_server_request_duration_seconds",
		Help:    "Time to serve an HTTP request, by method and route template.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route"}))

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			r, _ = withRouteSlot(r)
			rec := &statusRecorder{}
			finished := false
			defer func() {
				status := rec.status
				if !finished && status == 0 {
					// The handler panicked before answering; net/http
					// will close the connection or answer 500.
					status = http.StatusInternalServerError
				}
				if status == 0 {
					status = http.StatusOK
				}
				publishPattern(r)
				route := routeOf(r)
				if route == "" {
					route = unmatchedRoute
				}
				method := normalizeMethod(r.Method, "_OTHER")
				requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
				duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
			}()
			next.ServeHTTP(rec.wrap(w), r)
			finished = true
		})
	}
}

// statusRecorder notes the status code a handler answered with, while the
// wrapped writer keeps every optional interface (Flusher, Hijacker,
// ReaderFrom…) of the original.
type statusRecorder struct {
	status int
}

func (s *statusRecorder) wrap(w http.ResponseWriter) http.ResponseWriter {
	wrote := func() {
		if s.status == 0 {
			s.status = http.StatusOK
		}
	}
	return httpsnoop.Wrap(w, httpsnoop.Hooks{
		WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			return func(code int) {
				// 1xx responses are informational; the final status follows.
				if s.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
					s.status = code
				}
				next(code)
			}
		},
		Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			return func(b []byte) (int, error) {
				wrote()
				return next(b)
			}
		},
		ReadFrom: func(next httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
			return func(src io.Reader) (int64, error) {
				wrote()
				return next(src)
			}
		},
		Flush: func(next httpsnoop.FlushFunc) httpsnoop.FlushFunc {
			return func() {
				wrote()
				next()
			}
		},
	})
}

// registerOnce registers c, or returns the collector already registered
// under the same description so that building the middleware twice is
// harmless.
func registerOnce[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			if existing, ok := already.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
