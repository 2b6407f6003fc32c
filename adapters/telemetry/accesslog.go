package telemetry

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/felixge/httpsnoop"
)

// AccessLogMessage is the message of the access log's lines.
const AccessLogMessage = "http request"

// AccessLog returns middleware that logs one line per request at info level,
// when the request has been answered:
//
//	{"msg":"http request","method":"GET","route":"/v1/leads/{id}","status":200,
//	 "bytes":512,"duration_ms":3.2,"trace_id":"…","span_id":"…"}
//
// route is the matched route template, as HTTPMetrics labels it ("unmatched"
// when none), never the path: paths hold ids, and query strings may hold
// secrets. bytes counts the body written. The trace ids are the request's
// span's, so AccessLog goes inside HTTPTracing, and logger must be one of
// NewLogger's (its handler adds them).
func AccessLog(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			r, _ = withRouteSlot(r)
			rec := &bodyCounter{}
			finished := false
			defer func() {
				status := rec.status
				if status == 0 {
					status = http.StatusOK
					if !finished {
						// A panic before any answer: net/http closes the
						// connection, or the recovery inside answered 500.
						status = http.StatusInternalServerError
					}
				}
				publishPattern(r)
				route := routeOf(r)
				if route == "" {
					route = unmatchedRoute
				}
				logger.LogAttrs(r.Context(), slog.LevelInfo, AccessLogMessage,
					slog.String("method", normalizeMethod(r.Method, "_OTHER")),
					slog.String("route", route),
					slog.Int("status", status),
					slog.Int64("bytes", rec.bytes),
					slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				)
			}()
			next.ServeHTTP(rec.wrap(w), r)
			finished = true
		})
	}
}

// bodyCounter notes the status and counts the body bytes of an answer,
// keeping every optional interface of the writer it wraps.
type bodyCounter struct {
	status int
	bytes  int64
}

func (b *bodyCounter) wrap(w http.ResponseWriter) http.ResponseWriter {
	return httpsnoop.Wrap(w, httpsnoop.Hooks{
		WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			return func(code int) {
				if b.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
					b.status = code
				}
				next(code)
			}
		},
		Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			return func(p []byte) (int, error) {
				n, err := next(p)
				b.bytes += int64(n)
				return n, err
			}
		},
		ReadFrom: func(next httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
			return func(src io.Reader) (int64, error) {
				n, err := next(src)
				b.bytes += n
				return n, err
			}
		},
	})
}
