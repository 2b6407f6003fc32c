package httpapi

import (
	"callconnect/adapters/httpguard"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// recoverPanics turns a panic into a logged 500 problem (when nothing has
// been written yet) instead of a dropped connection.
//
// No layer of this package replaces the *http.Request it was handed, so the
// pattern http.ServeMux writes into it (r.Pattern) is visible to the outer
// Ops.Middleware once the request is served (telemetry labels routes with it).
func recoverPanics(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			ctx := r.Context()
			logger.ErrorContext(ctx, "panic serving request", "panic", fmt.Sprint(v),
				"method", r.Method, "path", r.URL.Path, "stack", string(debug.Stack()))
			if tw.wrote {
				// Too late for a problem: the status line is gone. Abort the
				// connection so the client sees a failure, not a short answer.
				panic(http.ErrAbortHandler)
			}
			writeProblem(w, r, newProblem(http.StatusInternalServerError, codeInternal, "an internal error occurred; it has been logged"))
		}()
		next.ServeHTTP(tw, r)
	})
}

// trackingWriter records whether the response has started.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	if code >= 200 {
		t.wrote = true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer (deadlines, flush).
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

func (t *trackingWriter) Flush() {
	t.wrote = true
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// limitBody refuses bodies over max bytes: at once when Content-Length says
// so, and while reading otherwise (http.MaxBytesReader; the read error
// becomes a 413 problem in problemFor). Paths under exempt (when not empty)
// bound their bodies themselves.
func limitBody(max int64, next http.Handler, exempt string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exempt != "" && strings.HasPrefix(r.URL.Path, exempt) {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > max {
			writeProblem(w, r, newProblem(http.StatusRequestEntityTooLarge, codeBodyTooLarge,
				fmt.Sprintf("the request body is larger than the %d bytes the service accepts", max)))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		next.ServeHTTP(w, r)
	})
}

// requireBearer guards every /v1 path, known or not, with the admin
// tokens (httpguard.AdminTokens.Match: constant time). No token refuses everything.
// A failed attempt counts against its client's address in failures; once
// the address is over its limit, failures are answered 429 with
// Retry-After. A valid token is checked first and always passes.
func requireBearer(tokens httpguard.AdminTokens, failures *httpguard.FailureLimit, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1" && !strings.HasPrefix(r.URL.Path, "/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		got, presented := bearerToken(r.Header.Get("Authorization"))
		if presented {
			if _, ok := tokens.Match(got); ok {
				next.ServeHTTP(w, r)
				return
			}
		}
		if ok, wait := failures.Failed(r); !ok {
			secs := retryAfterSeconds(wait)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeProblem(w, r, newProblem(http.StatusTooManyRequests, codeTooManyRequests,
				fmt.Sprintf("too many requests without a valid admin token from this address; retry in %d s", secs)))
			return
		}
		if !presented {
			w.Header().Set("WWW-Authenticate", `Bearer realm="callconnect"`)
			writeProblem(w, r, newProblem(http.StatusUnauthorized, codeUnauthorized,
				"this operation needs an Authorization: Bearer <admin token> header"))
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="callconnect", error="invalid_token"`)
		writeProblem(w, r, newProblem(http.StatusUnauthorized, codeUnauthorized, "the bearer token is not valid"))
	})
}

// bearerToken extracts the token of an "Authorization: Bearer <token>" value;
// the scheme is case-insensitive (RFC 9110).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// routeProblems answers the requests no route takes (404, and 405 with its
// Allow header) with problems instead of the ServeMux's plain text.
func routeProblems(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// Let the mux's own fallback decide (404, 405 or a redirect) and
		// keep its headers, but not its plain-text body.
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeProblem(w, r, newProblem(http.StatusMethodNotAllowed, codeMethodNotAllowed,
				fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, rec.header.Get("Allow"))))
		case http.StatusNotFound, 0:
			writeProblem(w, r, newProblem(http.StatusNotFound, codeNotFound, fmt.Sprintf("no operation at %s %s", r.Method, r.URL.Path)))
		default:
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
		}
	})
}

// statusRecorder keeps a fallback handler's status and headers, drops its body.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}

// retryAfterSeconds is a Retry-After value: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}
