package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"callconnect/domain"
)

// widgetGate lets widget tokens through to the few operations they are for,
// and answers the CORS of those operations; every other request goes to
// the admin-token check as before. A widget token is never an admin token:
// on any other /v1 route it is refused with 401 here, and never reaches
// the admin check (where it would only count as a failed guess).
//
// CORS is answered for the environment's widget_origins alone, with the
// origin named (never *) and without credentials (the token travels in a
// header, not a cookie): a page of another origin cannot read an answer,
// and one that sends a widget token anyway is refused with 403.
type widgetGate struct {
	tokens *WidgetTokens
	svc    Services
	logger *slog.Logger
}

// widgetRoute is a request matched to one of widgetOperations.
type widgetRoute struct {
	method string // the operation's method
	kind   string // callButton, placeCall, getCall, events
	env    string
	id     string // the lead's or the call's id
}

// The request headers a widget page may send, and the answer headers it may read.
const (
	widgetAllowHeaders  = "Authorization, Content-Type, Idempotency-Key, Last-Event-ID"
	widgetExposeHeaders = "Location, Retry-After"
	widgetPreflightAge  = "600"
)

// matchWidgetRoute reads path as one of the widget operations' paths,
// whatever the method; nil when it is none of them. Ids are URL-safe
// characters, so a path segment is an id as it stands.
func matchWidgetRoute(path string) *widgetRoute {
	rest, ok := strings.CutPrefix(path, "/v1/environments/")
	if !ok {
		return nil
	}
	parts := strings.Split(rest, "/")
	for _, p := range parts {
		if p == "" {
			return nil
		}
	}
	switch {
	case len(parts) == 4 && parts[1] == "leads" && parts[3] == "call-button":
		return &widgetRoute{method: http.MethodGet, kind: "callButton", env: parts[0], id: parts[2]}
	case len(parts) == 4 && parts[1] == "leads" && parts[3] == "calls":
		return &widgetRoute{method: http.MethodPost, kind: "placeCall", env: parts[0], id: parts[2]}
	case len(parts) == 3 && parts[1] == "calls":
		return &widgetRoute{method: http.MethodGet, kind: "getCall", env: parts[0], id: parts[2]}
	case len(parts) == 2 && parts[1] == "events":
		return &widgetRoute{method: http.MethodGet, kind: "events", env: parts[0]}
	}
	return nil
}

// widgetCredential is the widget token a request presents: its bearer
// token when that is one, or on the events stream the token query
// parameter (EventSource cannot send headers).
func widgetCredential(r *http.Request) (string, bool) {
	if bearer, ok := bearerToken(r.Header.Get("Authorization")); ok {
		return bearer, LooksLikeWidgetToken(bearer)
	}
	if q := r.URL.Query().Get("token"); LooksLikeWidgetToken(q) && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/events") {
		return q, true
	}
	return "", false
}

// wrap puts the gate in front of admin (the API behind the admin-token
// check); next is the API itself, which the gate calls for a widget token
// it accepts.
func (g *widgetGate) wrap(next, admin http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			admin.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			if route := matchWidgetRoute(r.URL.Path); route != nil {
				g.preflight(w, r, route)
				return
			}
		}
		token, ok := widgetCredential(r)
		if !ok {
			admin.ServeHTTP(w, r)
			return
		}
		route := matchWidgetRoute(r.URL.Path)
		// CORS first, so that a page of an allowed origin can read every
		// answer, a refused token's included (it then knows to get another).
		if !g.allowOrigin(w, r, route) {
			return
		}
		claims, ok := g.authorize(w, r, token, route)
		if !ok {
			return
		}
		g.serveUser(next, w, r, route, claims)
	})
}

// allowOrigin answers a page's Origin with the CORS headers when the
// environment's widget_origins list it; false means w has the refusal.
func (g *widgetGate) allowOrigin(w http.ResponseWriter, r *http.Request, route *widgetRoute) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || route == nil {
		return true
	}
	allowed, err := g.originAllowed(r, route.env, origin)
	if err != nil {
		g.fail(w, r, err)
		return false
	}
	if !allowed {
		writeProblem(w, r, newProblem(http.StatusForbidden, domain.CodePermissionDenied,
			fmt.Sprintf("the page's origin %s is not among the environment's widget_origins", origin),
			ProblemField{Location: "header.Origin", Message: "not among the environment's widget_origins", Value: shortScalar(origin)}))
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", widgetExposeHeaders)
	return true
}

// authorize verifies the widget token and that it may call route; false
// means w has the refusal.
func (g *widgetGate) authorize(w http.ResponseWriter, r *http.Request, token string, route *widgetRoute) (WidgetClaims, bool) {
	claims, valid := g.tokens.Verify(token)
	if !valid {
		w.Header().Set("WWW-Authenticate", `Bearer realm="callconnect", error="invalid_token"`)
		writeProblem(w, r, newProblem(http.StatusUnauthorized, codeUnauthorized, "the widget token is not valid or has expired; mint a new one"))
		return claims, false
	}
	if route == nil || route.method != r.Method || route.env != claims.Env {
		w.Header().Set("WWW-Authenticate", `Bearer realm="callconnect", error="insufficient_scope"`)
		writeProblem(w, r, newProblem(http.StatusUnauthorized, codeUnauthorized,
			"a widget token is accepted only by its environment's call button, calls and events, for its own user; this operation needs the admin token"))
		return claims, false
	}
	return claims, true
}

// serveUser calls next for the token's own user only: another user named
// in the query, the body or the call is refused, and the events are
// filtered to the user's.
func (g *widgetGate) serveUser(next http.Handler, w http.ResponseWriter, r *http.Request, route *widgetRoute, claims WidgetClaims) {
	switch route.kind {
	case "callButton":
		if got := r.URL.Query().Get("user_id"); got != "" && got != claims.User {
			writeProblem(w, r, g.otherUser("query.user_id", got))
			return
		}
	case "placeCall":
		if !g.checkBodyUser(w, r, claims.User) {
			return
		}
	case "getCall":
		if !g.checkCallUser(w, r, route, claims.User) {
			return
		}
	case "events":
		fw := &eventsFilter{ResponseWriter: w, user: claims.User}
		defer fw.finish()
		w = fw
	}
	next.ServeHTTP(w, r)
}

// preflight answers a CORS preflight of a widget operation: allowed for
// the environment's widget_origins and the operation's method alone.
func (g *widgetGate) preflight(w http.ResponseWriter, r *http.Request, route *widgetRoute) {
	origin := r.Header.Get("Origin")
	h := w.Header()
	h.Add("Vary", "Origin")
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	if m := r.Header.Get("Access-Control-Request-Method"); m != route.method {
		writeProblem(w, r, newProblem(http.StatusForbidden, domain.CodePermissionDenied,
			fmt.Sprintf("a widget token may only %s %s", route.method, r.URL.Path)))
		return
	}
	allowed, err := g.originAllowed(r, route.env, origin)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	if !allowed {
		writeProblem(w, r, newProblem(http.StatusForbidden, domain.CodePermissionDenied,
			fmt.Sprintf("the page's origin %s is not among the environment's widget_origins", origin),
			ProblemField{Location: "header.Origin", Message: "not among the environment's widget_origins", Value: shortScalar(origin)}))
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", route.method)
	h.Set("Access-Control-Allow-Headers", widgetAllowHeaders)
	h.Set("Access-Control-Max-Age", widgetPreflightAge)
	w.WriteHeader(http.StatusNoContent)
}

// originAllowed reads the environment's widget_origins; an unknown
// environment allows nothing.
func (g *widgetGate) originAllowed(r *http.Request, envID, origin string) (bool, error) {
	env, err := g.svc.Configuration.GetEnvironment(r.Context(), envID)
	if err != nil {
		if de, ok := domain.AsError(err); ok && de.Kind == domain.KindNotFound {
			return false, nil
		}
		return false, err
	}
	return env.AllowsWidgetOrigin(origin), nil
}

// otherUser is the answer to a widget token asking for another user than its own.
func (g *widgetGate) otherUser(location, got string) *Problem {
	return newProblem(http.StatusForbidden, domain.CodePermissionDenied, "a widget token acts for its own user only",
		ProblemField{Location: location, Message: "must be the widget token's own user", Value: shortScalar(got)})
}

// checkBodyUser refuses a call placed for another user than the token's:
// the body is read (the body limit is already on it) and put back for the
// operation. A body that is not JSON is left for the operation to refuse.
func (g *widgetGate) checkBodyUser(w http.ResponseWriter, r *http.Request, user string) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeProblem(w, r, newProblem(http.StatusRequestEntityTooLarge, codeBodyTooLarge,
				fmt.Sprintf("the request body is larger than the %d bytes the service accepts", tooLarge.Limit)))
		} else {
			writeProblem(w, r, newProblem(http.StatusBadRequest, codeBadRequest, "the request body could not be read"))
		}
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var in struct {
		UserID *string `json:"user_id"`
	}
	if json.Unmarshal(body, &in) == nil && in.UserID != nil && *in.UserID != user {
		writeProblem(w, r, g.otherUser("body.user_id", *in.UserID))
		return false
	}
	return true
}

// checkCallUser lets a widget token read only the calls its user placed;
// another user's call is answered as if it did not exist.
func (g *widgetGate) checkCallUser(w http.ResponseWriter, r *http.Request, route *widgetRoute, user string) bool {
	c, err := g.svc.Calls.GetCall(r.Context(), route.env, route.id)
	if err != nil {
		return true // the operation answers the same error
	}
	if c.UserID() != user {
		writeProblem(w, r, newProblem(http.StatusNotFound, domain.CodeCallNotFound, fmt.Sprintf("call %q not found", route.id),
			ProblemField{Location: "path.call_id", Message: "no call of this id was placed by the widget token's user"}))
		return false
	}
	return true
}

// fail answers an internal error of the gate.
func (g *widgetGate) fail(w http.ResponseWriter, r *http.Request, err error) {
	g.logger.ErrorContext(r.Context(), "checking a widget request failed", "error", err, "path", r.URL.Path)
	writeProblem(w, r, newProblem(http.StatusInternalServerError, codeInternal, "an internal error occurred; it has been logged"))
}

// eventsFilter keeps, of the events feed's answer, the events of one
// user's calls: in a stream (text/event-stream) each event block is passed
// on or dropped as it completes, comments (heartbeats) and retry hints
// always pass; a JSON page is read whole and its items filtered. An event
// is the user's when its data (or the data member of it) names the user as
// user_id. Dropped events leave no gap for the user: on a reconnect the
// stream resumes after the last event the user was sent.
type eventsFilter struct {
	http.ResponseWriter
	user    string
	decided bool
	stream  bool
	status  int
	buf     bytes.Buffer
}

func (f *eventsFilter) decide() {
	if f.decided {
		return
	}
	f.decided = true
	f.stream = strings.HasPrefix(f.Header().Get("Content-Type"), "text/event-stream")
}

func (f *eventsFilter) WriteHeader(code int) {
	f.decide()
	if f.stream || code < 200 {
		f.ResponseWriter.WriteHeader(code)
		return
	}
	if f.status == 0 {
		f.status = code
	}
}

func (f *eventsFilter) Write(b []byte) (int, error) {
	f.decide()
	f.buf.Write(b)
	if f.stream {
		return len(b), f.passBlocks()
	}
	return len(b), nil
}

// Flush passes on the complete event blocks and flushes them.
func (f *eventsFilter) Flush() {
	f.decide()
	if f.stream {
		_ = f.passBlocks()
		http.NewResponseController(f.ResponseWriter).Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer (deadlines).
func (f *eventsFilter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// passBlocks writes the complete blocks of the buffer that are for the user.
func (f *eventsFilter) passBlocks() error {
	for {
		data := f.buf.Bytes()
		i := bytes.Index(data, []byte("\n\n"))
		if i < 0 {
			return nil
		}
		block := data[:i+2]
		if f.keepBlock(block) {
			if _, err := f.ResponseWriter.Write(block); err != nil {
				return err
			}
		}
		f.buf.Next(i + 2)
	}
}

// keepBlock decides one server-sent event block.
func (f *eventsFilter) keepBlock(block []byte) bool {
	var data []string
	for _, line := range strings.Split(strings.TrimRight(string(block), "\n"), "\n") {
		if v, ok := strings.CutPrefix(line, "data:"); ok {
			data = append(data, strings.TrimPrefix(v, " "))
		}
	}
	if len(data) == 0 {
		return true // a comment (heartbeat) or a retry hint
	}
	return f.isUsers([]byte(strings.Join(data, "\n")))
}

// isUsers reads an event's JSON (the event, or its data) for its user.
func (f *eventsFilter) isUsers(raw []byte) bool {
	var ev struct {
		UserID string `json:"user_id"`
		Data   struct {
			UserID string `json:"user_id"`
		} `json:"data"`
	}
	if json.Unmarshal(raw, &ev) != nil {
		return false
	}
	return ev.UserID == f.user || ev.Data.UserID == f.user
}

// finish writes a JSON page, its items filtered; a stream's last partial
// block (the connection ends mid-event) is dropped.
func (f *eventsFilter) finish() {
	if !f.decided || f.stream {
		return
	}
	status := f.status
	if status == 0 {
		status = http.StatusOK
	}
	body := f.buf.Bytes()
	if status == http.StatusOK && strings.HasPrefix(f.Header().Get("Content-Type"), "application/json") {
		var page map[string]json.RawMessage
		var items []json.RawMessage
		if json.Unmarshal(body, &page) == nil && json.Unmarshal(page["items"], &items) == nil {
			kept := make([]json.RawMessage, 0, len(items))
			for _, it := range items {
				if f.isUsers(it) {
					kept = append(kept, it)
				}
			}
			page["items"], _ = json.Marshal(kept)
			if b, err := json.Marshal(page); err == nil {
				body = b
			}
		}
	}
	f.Header().Del("Content-Length")
	f.ResponseWriter.WriteHeader(status)
	_, _ = f.ResponseWriter.Write(body)
}
