package telemetry

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
)

// The matched route of a request is known only after the router ran, deep
// inside the middleware stack, while metrics and span names are settled by
// middleware outside it. http.ServeMux writes the pattern into the
// *http.Request it was handed, which an outer middleware sees only if every
// layer in between passed the same request on; any layer that calls
// r.WithContext (otelhttp does) hides it. So the outermost telemetry
// middleware puts a routeSlot in the context, and whoever learns the route
// (our own middleware reading r.Pattern, ReportRoute, or a router calling
// SetRoute) writes it there.

type routeKey struct{}

// routeSlot holds the route template of one request.
type routeSlot struct {
	route atomic.Pointer[string]
}

func (s *routeSlot) get() string {
	if p := s.route.Load(); p != nil {
		return *p
	}
	return ""
}

// withRouteSlot returns r with a route slot in its context, reusing one that
// an outer middleware already put there.
func withRouteSlot(r *http.Request) (*http.Request, *routeSlot) {
	if s, ok := r.Context().Value(routeKey{}).(*routeSlot); ok {
		return r, s
	}
	s := &routeSlot{}
	return r.WithContext(context.WithValue(r.Context(), routeKey{}, s)), s
}

// SetRoute reports the route template that matched the request whose
// context is ctx, for routers other than http.ServeMux. It must be a
// template ("/v1/leads/{id}"), never the raw path, or metric labels grow
// without bound. A method prefix ("GET /v1/leads/{id}") is dropped. Without
// the telemetry middleware in front it does nothing.
func SetRoute(ctx context.Context, route string) {
	if s, ok := ctx.Value(routeKey{}).(*routeSlot); ok {
		if route = routeFromPattern(route); route != "" {
			s.route.Store(&route)
		}
	}
}

// ReportRoute wraps an http.ServeMux (or any handler that sets
// http.Request.Pattern) so that the pattern it matched reaches the telemetry
// middleware even when layers between them replace the request. Wrap the mux
// itself: ReportRoute(mux).
func ReportRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer publishPattern(r) // even when the handler panics
		next.ServeHTTP(w, r)
	})
}

// publishPattern copies the pattern a ServeMux wrote into r to the route
// slot, unless a route was reported already (SetRoute from a sub-router is
// more specific than the mux pattern that led to it).
func publishPattern(r *http.Request) {
	s, ok := r.Context().Value(routeKey{}).(*routeSlot)
	if !ok || r.Pattern == "" {
		return
	}
	if route := routeFromPattern(r.Pattern); route != "" {
		s.route.CompareAndSwap(nil, &route)
	}
}

// routeOf returns the route reported for r, or "" when none is known.
func routeOf(r *http.Request) string {
	if s, ok := r.Context().Value(routeKey{}).(*routeSlot); ok {
		if route := s.get(); route != "" {
			return route
		}
	}
	return routeFromPattern(r.Pattern)
}

// routeFromPattern drops the method and host of a ServeMux pattern,
// "GET example.com/v1/leads/{id}" → "/v1/leads/{id}", as http.route wants.
func routeFromPattern(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

// knownMethods are the methods kept as they are in span names and metric
// labels; anything else is folded so a client cannot mint new label values.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true,
	http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true,
	http.MethodConnect: true, http.MethodOptions: true, http.MethodTrace: true,
}

// normalizeMethod returns the upper-cased method when it is a known one and
// other otherwise.
func normalizeMethod(method, other string) string {
	m := strings.ToUpper(method)
	if knownMethods[m] {
		return m
	}
	return other
}
