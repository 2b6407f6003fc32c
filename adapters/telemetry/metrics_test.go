package telemetry

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// counts returns http_server_requests_total as "method route status" → value,
// and the observation count of the duration histogram as "method route" →
// count.
func counts(t *testing.T, g prometheus.Gatherer) (requests map[string]float64, durations map[string]uint64) {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	requests, durations = map[string]float64{}, map[string]uint64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetName() {
			case "http_server_requests_total":
				requests[labels["method"]+" "+labels["route"]+" "+labels["status"]] = m.GetCounter().GetValue()
			case "http_server_request_duration_seconds":
				durations[labels["method"]+" "+labels["route"]] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	return requests, durations
}

func newTestMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/leads/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.PathValue("id"))
	})
	mux.HandleFunc("PUT /v1/leads/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
	})
	mux.HandleFunc("POST /v1/call-buttons", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /panics", func(http.ResponseWriter, *http.Request) { panic("boom") })
	return mux
}

// serve sends one request through h, swallowing a handler panic as net/http
// would.
func serve(h http.Handler, method, target string) (code int) {
	req := httptest.NewRequest(method, target, nil)
	rec := httptest.NewRecorder()
	defer func() {
		if recover() != nil {
			code = -1
		}
	}()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// replaceRequest stands for any middleware that derives a new request, as
// auth middleware adding the caller to the context does.
func replaceRequest(next http.Handler) http.Handler {
	type key struct{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, "caller")))
	})
}

func TestHTTPMetricsLabelsByRoutePattern(t *testing.T) {
	tp, _ := newRecordingProvider(t)
	stacks := []struct {
		name  string
		build func(reg prometheus.Registerer) http.Handler
	}{
		{"metrics around mux", func(reg prometheus.Registerer) http.Handler {
			return HTTPMetrics(reg)(newTestMux())
		}},
		{"metrics around tracing around mux", func(reg prometheus.Registerer) http.Handler {
			return HTTPMetrics(reg)(HTTPTracing(newTestMux(), tp))
		}},
		{"tracing around metrics around mux", func(reg prometheus.Registerer) http.Handler {
			return HTTPTracing(HTTPMetrics(reg)(newTestMux()), tp)
		}},
		{"request replaced in between, mux wrapped in ReportRoute", func(reg prometheus.Registerer) http.Handler {
			return HTTPMetrics(reg)(HTTPTracing(replaceRequest(ReportRoute(newTestMux())), tp))
		}},
	}
	for _, st := range stacks {
		t.Run(st.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			h := st.build(reg)
			serve(h, "GET", "/v1/leads/1")
			serve(h, "GET", "/v1/leads/2")
			serve(h, "PUT", "/v1/leads/3")
			serve(h, "POST", "/v1/call-buttons")
			serve(h, "GET", "/no/such/path/42")
			serve(h, "DELETE", "/v1/leads/1") // 405: no pattern matched
			serve(h, "BREW", "/v1/leads/1")
			if code := serve(h, "GET", "/panics"); code != -1 {
				t.Fatalf("panic did not propagate, code %d", code)
			}

			requests, durations := counts(t, reg)
			want := map[string]float64{
				"GET /v1/leads/{id} 200":    2,
				"PUT /v1/leads/{id} 422":    1,
				"POST /v1/call-buttons 204": 1,
				"GET unmatched 404":         1,
				"DELETE unmatched 405":      1,
				"_OTHER unmatched 405":      1,
				"GET /panics 500":           1,
			}
			for k, v := range want {
				if requests[k] != v {
					t.Errorf("requests[%q] = %v, want %v", k, requests[k], v)
				}
			}
			if len(requests) != len(want) {
				t.Errorf("series = %v, want exactly %v", requests, want)
			}
			if durations["GET /v1/leads/{id}"] != 2 || durations["GET unmatched"] != 1 {
				t.Errorf("duration counts = %v", durations)
			}
		})
	}
}

func TestHTTPMetricsWithoutReportRouteLosesThePatternBehindAReplacedRequest(t *testing.T) {
	// Documents why ReportRoute exists: a layer that replaces the request
	// hides the pattern the mux wrote, and the request is counted as
	// unmatched rather than under a raw path.
	reg := prometheus.NewRegistry()
	h := HTTPMetrics(reg)(replaceRequest(newTestMux()))
	serve(h, "GET", "/v1/leads/1")
	requests, _ := counts(t, reg)
	if requests["GET unmatched 200"] != 1 {
		t.Errorf("requests = %v", requests)
	}
}

func TestSetRouteFromAnotherRouter(t *testing.T) {
	reg := prometheus.NewRegistry()
	mux := http.NewServeMux()
	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A sub-router knows a more specific template than the mux.
		SetRoute(r.Context(), "GET /api/cvio/{thing}")
	}))
	h := HTTPMetrics(reg)(mux)
	serve(h, "GET", "/api/cvio/x")
	requests, _ := counts(t, reg)
	if requests["GET /api/cvio/{thing} 200"] != 1 {
		t.Errorf("requests = %v", requests)
	}
	SetRoute(context.Background(), "/ignored") // no slot: no effect, no panic
}

func TestHTTPMetricsTwiceOnOneRegistryShares(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := HTTPMetrics(reg)(newTestMux())
	b := HTTPMetrics(reg)(newTestMux())
	serve(a, "GET", "/v1/leads/1")
	serve(b, "GET", "/v1/leads/1")
	requests, _ := counts(t, reg)
	if requests["GET /v1/leads/{id} 200"] != 2 {
		t.Errorf("requests = %v", requests)
	}
}

func TestHTTPMetricsKeepsOptionalWriterInterfaces(t *testing.T) {
	reg := prometheus.NewRegistry()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hijack", func(w http.ResponseWriter, r *http.Request) {
		c, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack through the middleware: %v", err)
			return
		}
		defer c.Close()
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
		_ = buf.Flush()
	})
	mux.HandleFunc("GET /flush", func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the middleware: %v", err)
		}
	})
	srv := httptest.NewServer(HTTPMetrics(reg)(mux))
	defer srv.Close()

	for _, path := range []string{"/hijack", "/flush"} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
		status, err := bufio.NewReader(conn).ReadString('\n')
		_ = conn.Close()
		if err != nil || !strings.Contains(status, "200") {
			t.Errorf("%s: status line %q, %v", path, status, err)
		}
	}
}

func TestNewRegistryHasRuntimeCollectors(t *testing.T) {
	reg := NewRegistry()
	rec := httptest.NewRecorder()
	MetricsHandler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{"go_goroutines", "process_"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
