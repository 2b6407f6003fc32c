package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"callconnect/adapters/cvio"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/memory"
	"callconnect/app"
)

// widgetRig is the calls rig with widget tokens signed under a known key
// and a clock the tokens read, so that a test can let them expire.
type widgetRig struct {
	*callsRig
	tokens *httpapi.WidgetTokens
}

func newWidgetRig(t *testing.T) *widgetRig {
	t.Helper()
	store := memory.NewStore()
	clock := memory.NewClock(t0)
	partner := &fakePartner{status: http.StatusOK}
	calls := app.NewCalls(store, clock, memory.NewRandom(1), partner, cvio.Payloads{},
		app.CallsConfig{DispatchDeadline: dispatchDeadline, RetryMinBackoff: time.Second})
	svc := servicesOn(store)
	svc.Calls = calls
	tokens := httpapi.NewWidgetTokens(bytes.Repeat([]byte{3}, 32), clock.Now)
	h := httpapi.New(httpapi.Config{AdminToken: adminToken, Now: clock.Now, WidgetTokens: tokens}, svc, httpapi.Ops{})
	rig := &widgetRig{callsRig: &callsRig{client: &client{t: t, handler: h, token: adminToken}, store: store, clock: clock,
		partner: partner, calls: calls}, tokens: tokens}
	seedCalls(t, rig.client, env)
	return rig
}

// mint asks the API for a widget token for user, as the CRM's backend does.
func (r *widgetRig) mint(user string, ttl int) string {
	r.t.Helper()
	body := map[string]any{"user_id": user}
	if ttl != 0 {
		body["ttl_seconds"] = ttl
	}
	res := r.post(env+"/widget-tokens", body)
	if res.Status != http.StatusCreated {
		r.t.Fatalf("mint a widget token for %s: %s", user, res)
	}
	out := res.object(r.t)
	return out["token"].(string)
}

func TestWidgetTokenMint(t *testing.T) {
	rig := newWidgetRig(t)
	res := rig.post(env+"/widget-tokens", map[string]any{"user_id": "corretor"})
	if res.Status != http.StatusCreated {
		t.Fatalf("mint: %s", res)
	}
	var got struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	res.decode(t, &got)
	if !strings.HasPrefix(got.Token, "ccw1.") || !got.ExpiresAt.Equal(t0.Add(httpapi.DefaultWidgetTokenTTL)) {
		t.Fatalf("minted %+v, want a ccw1. token expiring in 5 minutes (%s)", got, t0.Add(5*time.Minute))
	}
	// The element reads its environment and user from the token's middle part.
	claims := tokenPayload(t, got.Token)
	if claims["env"] != "acme" || claims["sub"] != "corretor" || claims["exp"] != float64(t0.Add(5*time.Minute).Unix()) {
		t.Fatalf("the token's payload: %v", claims)
	}

	res = rig.post(env+"/widget-tokens", map[string]any{"user_id": "corretor", "ttl_seconds": 900})
	res.decode(t, &got)
	if res.Status != http.StatusCreated || !got.ExpiresAt.Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("a 900 s token: %s", res)
	}

	for _, tt := range []struct {
		name     string
		body     any
		status   int
		code     string
		location string
	}{
		{"longer than 15 minutes", map[string]any{"user_id": "corretor", "ttl_seconds": 901}, 422, "validation_failed", "body.ttl_seconds"},
		{"negative ttl", map[string]any{"user_id": "corretor", "ttl_seconds": -1}, 422, "validation_failed", "body.ttl_seconds"},
		{"no user", map[string]any{"ttl_seconds": 60}, 422, "validation_failed", "body.user_id"},
		{"bad user id", map[string]any{"user_id": "a b"}, 422, "validation_failed", "body.user_id"},
		{"unknown user", map[string]any{"user_id": "ninguem"}, 404, "user_not_found", "body.user_id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, rig.post(env+"/widget-tokens", tt.body), tt.status, tt.code, tt.location)
		})
	}
	wantProblem(t, rig.post("/v1/environments/nowhere/widget-tokens", map[string]any{"user_id": "corretor"}), 404, "environment_not_found", "")
	wantProblem(t, rig.withToken("").post(env+"/widget-tokens", map[string]any{"user_id": "corretor"}), 401, "unauthorized", "")
	// A widget token cannot mint another one.
	wantProblem(t, rig.withToken(got.Token).post(env+"/widget-tokens", map[string]any{"user_id": "corretor"}), 401, "unauthorized", "")
}

// tokenPayload decodes the readable middle part of a widget token.
func tokenPayload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts, want 3", token, len(parts))
	}
	raw, err := base64URL(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// A widget token does what the call button needs for its own user, and
// nothing else.
func TestWidgetTokenScope(t *testing.T) {
	rig := newWidgetRig(t)
	token := rig.mint("corretor", 0)
	w := rig.withToken(token)

	// The button of a lead, for its own user only.
	got := w.ok(w.get(env + "/leads/1/call-button?user_id=corretor"))
	if got["visible"] != true || got["enabled"] != true {
		t.Fatalf("the owner's button: %v", got)
	}
	wantProblem(t, w.get(env+"/leads/1/call-button?user_id=gestor"), 403, "permission_denied", "query.user_id")

	// Placing a call: as its user; another user in the body is refused and
	// places nothing.
	wantProblem(t, w.post(env+"/leads/1/calls", map[string]any{"user_id": "gestor"}), 403, "permission_denied", "body.user_id")
	rig.noDeliveries()
	call := accepted(t, w.post(env+"/leads/1/calls", map[string]any{"user_id": "corretor"}))
	if call["user_id"] != "corretor" {
		t.Fatalf("the call: %v", call)
	}
	rig.drain()

	// Reading the call it placed, and not another user's.
	read := w.ok(w.get(env + "/calls/" + call["id"].(string)))
	if read["status"] != "delivered" {
		t.Fatalf("the call as the widget reads it: %v", read)
	}
	other := accepted(t, rig.post(env+"/leads/1/calls", map[string]any{"user_id": "gestor"}))
	wantProblem(t, w.get(env+"/calls/"+other["id"].(string)), 404, "call_not_found", "path.call_id")
	wantProblem(t, w.get(env+"/calls/nope"), 404, "call_not_found", "")

	// Another environment's operations refuse it, even those of the widget.
	rig.ok(rig.put("/v1/environments/other", map[string]any{"name": "Outra", "public_base_url": "https://other.example.com"}))
	wantProblem(t, w.get("/v1/environments/other/leads/1/call-button?user_id=corretor"), 401, "unauthorized", "")
	wantProblem(t, w.get("/v1/environments/other/calls/"+call["id"].(string)), 401, "unauthorized", "")
}

// Every /v1 operation but the widget's refuses a widget token with 401, as
// do routes that do not exist; the admin token still works everywhere.
func TestWidgetTokenRefusedByAdminOperations(t *testing.T) {
	rig := newWidgetRig(t)
	w := rig.withToken(rig.mint("corretor", 0))
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	rig.withToken("").get("/openapi.json").decode(t, &doc)
	checked := 0
	for path, item := range doc.Paths {
		if !strings.HasPrefix(path, "/v1/") {
			continue
		}
		concrete := strings.NewReplacer("{env}", "acme", "{provider}", "call-connect", "{lead_id}", "1", "{user_id}", "corretor",
			"{call_id}", "c1", "{token_id}", "t1", "{recording_id}", "r1", "{exchange_id}", "x1", "{id}", "s1").Replace(path)
		for method := range item {
			if widgetOperation[method+" "+path] {
				continue
			}
			var body any
			if method == "post" || method == "put" || method == "patch" {
				body = map[string]any{"user_id": "corretor"}
			}
			res := w.do(strings.ToUpper(method), concrete, body)
			wantProblem(t, res, http.StatusUnauthorized, "unauthorized", "")
			if res.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("%s %s answers CORS to a widget token", method, concrete)
			}
			checked++
		}
	}
	if checked < 15 {
		t.Fatalf("only %d admin operations tried", checked)
	}
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1"}, {"GET", "/v1/"}, {"GET", "/v1/environments"}, {"GET", "/v1/environments/acme/leads/1/call-button/x"},
		{"DELETE", "/v1/environments/acme/leads/1/call-button"}, {"PUT", "/v1/environments/acme/leads/1/calls"},
		{"POST", "/v1/environments/acme/calls/c1"}, {"GET", "/v1/environments/acme/leads/1/calls"},
	} {
		wantProblem(t, w.do(r.method, r.path, nil), http.StatusUnauthorized, "unauthorized", "")
	}
	// ?token= is read on the events stream alone.
	wantProblem(t, rig.withToken("").get(env+"/leads/1/call-button?user_id=corretor&token="+w.token), 401, "unauthorized", "")
}

func TestWidgetTokenExpiresAndIsSigned(t *testing.T) {
	rig := newWidgetRig(t)
	token := rig.mint("corretor", 60)
	w := rig.withToken(token)
	w.ok(w.get(env + "/leads/1/call-button?user_id=corretor"))
	rig.clock.Advance(59 * time.Second)
	w.ok(w.get(env + "/leads/1/call-button?user_id=corretor"))
	rig.clock.Advance(time.Second)
	res := w.get(env + "/leads/1/call-button?user_id=corretor")
	wantProblem(t, res, 401, "unauthorized", "")
	if !strings.Contains(res.Header.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("an expired token's WWW-Authenticate: %q", res.Header.Get("WWW-Authenticate"))
	}

	// A token is good only as minted, and only where its key is.
	fresh := rig.mint("corretor", 0)
	parts := strings.Split(fresh, ".")
	forged := parts[0] + "." + base64URLEncode([]byte(`{"env":"acme","sub":"gestor","exp":9999999999,"n":"x"}`)) + "." + parts[2]
	elsewhere, _ := httpapi.NewWidgetTokens(bytes.Repeat([]byte{4}, 32), rig.clock.Now).Mint("acme", "corretor", time.Minute)
	for name, bad := range map[string]string{"forged payload": forged, "another deployment's": elsewhere,
		"no signature": parts[0] + "." + parts[1], "truncated": fresh[:len(fresh)-2]} {
		t.Run(name, func(t *testing.T) {
			wantProblem(t, rig.withToken(bad).get(env+"/leads/1/call-button?user_id=corretor"), 401, "unauthorized", "")
		})
	}
}

// Whatever it is minted for, a token verifies as exactly that, within its
// life; any one byte changed, it does not verify.
func TestWidgetTokenProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		clock := memory.NewClock(t0)
		tokens := httpapi.NewWidgetTokens(rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(rt, "key"), clock.Now)
		id := rapid.StringMatching(`[A-Za-z0-9._~-]{1,64}`)
		envID, user := id.Draw(rt, "env"), id.Draw(rt, "user")
		ttl := time.Duration(rapid.IntRange(1, 900).Draw(rt, "ttl")) * time.Second
		token, expires := tokens.Mint(envID, user, ttl)
		if !expires.Equal(t0.Add(ttl)) {
			rt.Fatalf("expires %s, want %s", expires, t0.Add(ttl))
		}
		c, ok := tokens.Verify(token)
		if !ok || c.Env != envID || c.User != user || !c.Expires.Equal(expires) {
			rt.Fatalf("Verify(Mint(%q, %q)) = %+v, %v", envID, user, c, ok)
		}
		i := rapid.IntRange(0, len(token)-1).Draw(rt, "byte")
		b := []byte(token)
		b[i] ^= byte(rapid.IntRange(1, 255).Draw(rt, "flip"))
		if c, ok := tokens.Verify(string(b)); ok {
			rt.Fatalf("a token changed at byte %d verifies: %+v", i, c)
		}
		clock.Advance(ttl)
		if _, ok := tokens.Verify(token); ok {
			rt.Fatalf("a token verifies at its expiry")
		}
	})
}

// CORS: preflights and answers for the environment's widget_origins only,
// naming the origin (never *), and never on the admin operations.
func TestWidgetCORS(t *testing.T) {
	rig := newWidgetRig(t)
	put := rig.put(env, map[string]any{"name": "Acme Imóveis", "public_base_url": "https://acme.crm.example.com",
		"call_connect_enabled": true, "widget_origins": []string{"https://crm.example.com", "HTTP://LOCALHOST:3000/"}})
	got := rig.ok(put)
	if o, _ := json.Marshal(got["widget_origins"]); string(o) != `["https://crm.example.com","http://localhost:3000"]` {
		t.Fatalf("the environment's widget_origins: %s", o)
	}
	if o, _ := json.Marshal(rig.ok(rig.get(env))["widget_origins"]); string(o) != `["https://crm.example.com","http://localhost:3000"]` {
		t.Fatalf("read back: %s", o)
	}
	wantProblem(t, rig.put(env, map[string]any{"name": "Acme", "public_base_url": "https://acme.crm.example.com",
		"widget_origins": []string{"*"}}), 422, "invalid_field", "body.widget_origins")
	token := rig.mint("corretor", 0)
	w := rig.withToken(token)

	preflight := func(origin, method, path string) *response {
		return rig.withToken("").do(http.MethodOptions, path, nil, "Origin", origin,
			"Access-Control-Request-Method", method, "Access-Control-Request-Headers", "authorization,content-type")
	}
	for _, op := range []struct{ method, path string }{
		{"GET", env + "/leads/1/call-button"}, {"POST", env + "/leads/1/calls"}, {"GET", env + "/calls/c1"}, {"GET", env + "/events"},
	} {
		for _, origin := range []string{"https://crm.example.com", "http://localhost:3000"} {
			res := preflight(origin, op.method, op.path)
			if res.Status != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != origin ||
				res.Header.Get("Access-Control-Allow-Methods") != op.method ||
				!strings.Contains(strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")), "authorization") ||
				res.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("preflight of %s %s from %s: %d %v", op.method, op.path, origin, res.Status, res.Header)
			}
		}
		for _, origin := range []string{"https://evil.example.com", "https://crm.example.com.evil.example", "http://crm.example.com", "null"} {
			res := preflight(origin, op.method, op.path)
			if res.Status != http.StatusForbidden || res.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("preflight of %s %s from %s: %d %v", op.method, op.path, origin, res.Status, res.Header)
			}
		}
	}
	// The wrong method, an unknown environment, an admin operation: no CORS.
	for _, p := range []struct{ method, path string }{
		{"DELETE", env + "/leads/1/call-button"}, {"GET", "/v1/environments/nowhere/leads/1/call-button"},
		{"PUT", env}, {"POST", env + "/widget-tokens"}, {"POST", env + "/call-buttons"}, {"GET", env + "/partner-tokens"},
	} {
		res := preflight("https://crm.example.com", p.method, p.path)
		if res.Status < 400 || res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight of %s %s: %d %v", p.method, p.path, res.Status, res.Header)
		}
	}

	// The answers themselves: the origin named when allowed; a page of
	// another origin sending the token is refused.
	res := w.do("GET", env+"/leads/1/call-button?user_id=corretor", nil, "Origin", "https://crm.example.com")
	if res.Status != 200 || res.Header.Get("Access-Control-Allow-Origin") != "https://crm.example.com" ||
		!strings.Contains(res.Header.Get("Vary"), "Origin") {
		t.Fatalf("from an allowed origin: %d %v", res.Status, res.Header)
	}
	res = w.do("POST", env+"/leads/1/calls", map[string]any{"user_id": "corretor"}, "Origin", "https://evil.example.com")
	wantProblem(t, res, 403, "permission_denied", "header.Origin")
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("a refused origin got CORS headers")
	}
	rig.noDeliveries()
	// Errors from an allowed origin are readable by the page too.
	res = w.do("GET", env+"/leads/1/call-button?user_id=gestor", nil, "Origin", "http://localhost:3000")
	wantProblem(t, res, 403, "permission_denied", "query.user_id")
	if res.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
		t.Fatalf("an error to an allowed origin without CORS: %v", res.Header)
	}
	// A token refused (expired) is still told to an allowed page, which can
	// read the 401 and get another.
	rig.clock.Advance(httpapi.DefaultWidgetTokenTTL)
	res = w.do("GET", env+"/leads/1/call-button?user_id=corretor", nil, "Origin", "https://crm.example.com")
	wantProblem(t, res, 401, "unauthorized", "")
	if res.Header.Get("Access-Control-Allow-Origin") != "https://crm.example.com" {
		t.Fatalf("an expired token's 401 to an allowed origin without CORS: %v", res.Header)
	}
	w = rig.withToken(rig.mint("corretor", 0))
	// The admin token never gets CORS, whatever the origin.
	res = rig.do("GET", env, nil, "Origin", "https://crm.example.com")
	if res.Status != 200 || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("an admin request from a browser origin: %d %v", res.Status, res.Header)
	}
	// Without widget_origins no page may use the tokens.
	rig.ok(rig.put(env, map[string]any{"name": "Acme Imóveis", "public_base_url": "https://acme.crm.example.com", "call_connect_enabled": true}))
	wantProblem(t, w.do("GET", env+"/leads/1/call-button?user_id=corretor", nil, "Origin", "https://crm.example.com"), 403, "permission_denied", "header.Origin")
	if res := preflight("https://crm.example.com", "GET", env+"/leads/1/call-button"); res.Status != 403 {
		t.Fatalf("a preflight once the origins are gone: %d", res.Status)
	}
}

func TestWidgetScript(t *testing.T) {
	c := newMemoryClient(t).withToken("")
	res := c.get("/widget/call-connect-button.js")
	if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/javascript") ||
		!bytes.Contains(res.Body, []byte(`customElements.define("call-connect-button"`)) {
		t.Fatalf("the script: %d %v", res.Status, res.Header)
	}
	etag := res.Header.Get("ETag")
	if etag == "" || !strings.Contains(res.Header.Get("Cache-Control"), "max-age") {
		t.Fatalf("the script is not cacheable: %v", res.Header)
	}
	again := c.do("GET", "/widget/call-connect-button.js", nil, "If-None-Match", etag)
	if again.Status != http.StatusNotModified || len(again.Body) != 0 {
		t.Fatalf("revalidating with its ETag: %d %d bytes", again.Status, len(again.Body))
	}
	if len(res.Body) > 32<<10 {
		t.Fatalf("the script is %d bytes: keep it small", len(res.Body))
	}
}

func base64URL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func base64URLEncode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
