package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"callconnect/adapters/httpapi"
	"callconnect/ports"
)

// seeded is a client on an environment with an admin, a broker and a lead,
// and a second environment whose Call Connect support switch is off.
func seeded(t *testing.T) *client {
	t.Helper()
	c := newMemoryClient(t)
	c.ok(c.put(env, map[string]any{"name": "Acme", "public_base_url": "https://acme.example.com", "time_zone": "America/Recife", "call_connect_enabled": true}))
	c.ok(c.put("/v1/environments/off", map[string]any{"name": "Off", "public_base_url": "https://off.example.com"}))
	c.ok(c.put(env+"/users/admin", map[string]any{"name": "Admin", "role": "manager", "can_manage_integrations": true}))
	c.ok(c.put("/v1/environments/off/users/admin", map[string]any{"name": "Admin", "role": "manager", "can_manage_integrations": true}))
	c.ok(c.put(env+"/users/corretor", map[string]any{"name": "Corretor", "role": "broker", "phone": "48999476359"}))
	c.ok(c.put(env+"/leads/1", map[string]any{"name": "Lead", "broker_id": "corretor"}))
	return c
}

// same fails unless the two answers carry the same body: a refused request
// must leave the resource as it was.
func same(t *testing.T, before, after *response) {
	t.Helper()
	if before.Status != after.Status || !bytes.Equal(before.Body, after.Body) {
		t.Fatalf("a refused request changed the stored state:\nbefore %s\nafter  %s", before, after)
	}
}

func TestBadInputIsAProblemNamingTheFieldAndStoresNothing(t *testing.T) {
	c := seeded(t)
	cases := []struct {
		name     string
		method   string
		path     string
		body     any
		status   int
		code     string
		location string
		readBack string // GET that must answer the same before and after
	}{
		{"wrong role enum", "PUT", env + "/users/corretor", map[string]any{"name": "C", "role": "boss"},
			422, "validation_failed", "body.role", env + "/users/corretor"},
		{"malformed phone", "PUT", env + "/users/corretor", map[string]any{"name": "C", "role": "broker", "phone": "48-9999-abc"},
			422, "invalid_field", "body.phone", env + "/users/corretor"},
		{"phone too short", "PUT", env + "/users/corretor", map[string]any{"name": "C", "role": "broker", "phone": "123"},
			422, "invalid_field", "body.phone", env + "/users/corretor"},
		{"extension not digits", "PUT", env + "/users/corretor", map[string]any{"name": "C", "role": "broker", "extension": "12a"},
			422, "invalid_field", "body.extension", env + "/users/corretor"},
		{"agency_user without agency", "PUT", env + "/users/corretor", map[string]any{"name": "C", "role": "agency_user"},
			422, "invalid_field", "body.agency_id", env + "/users/corretor"},
		{"missing required name", "PUT", env + "/users/corretor", map[string]any{"role": "broker"},
			422, "validation_failed", "body.name", env + "/users/corretor"},
		{"unknown property", "PUT", env + "/users/corretor", map[string]any{"name": "C", "role": "broker", "telefone": "1"},
			422, "validation_failed", "body.telefone", env + "/users/corretor"},
		{"malformed JSON", "PUT", env + "/users/corretor", `{"name": "C",`,
			400, "bad_request", "body", env + "/users/corretor"},
		{"non-IANA time zone", "PUT", env, map[string]any{"name": "Acme", "public_base_url": "https://acme.example.com", "time_zone": "Mars/Olympus_Mons"},
			422, "invalid_field", "body.time_zone", env},
		{"abbreviated time zone", "PUT", env, map[string]any{"name": "Acme", "public_base_url": "https://acme.example.com", "time_zone": "Local"},
			422, "invalid_field", "body.time_zone", env},
		{"public base URL with query", "PUT", env, map[string]any{"name": "Acme", "public_base_url": "https://acme.example.com/?x=1"},
			422, "invalid_field", "body.public_base_url", env},
		{"score not an integer", "PUT", env + "/leads/1", map[string]any{"name": "Lead", "score": 2.5},
			422, "validation_failed", "body.score", env + "/leads/1"},
		{"registered_at not RFC 3339", "PUT", env + "/leads/1", map[string]any{"name": "Lead", "registered_at": "04/02/2020"},
			422, "validation_failed", "body.registered_at", env + "/leads/1"},
		{"malformed lead email", "PUT", env + "/leads/1", map[string]any{"name": "Lead", "email": "not an email"},
			422, "invalid_field", "body.email", env + "/leads/1"},
		{"malformed lead phone", "PUT", env + "/leads/1", map[string]any{"name": "Lead", "phone": "call me"},
			422, "invalid_field", "body.phone", env + "/leads/1"},
		{"development id not URL-safe", "PUT", env + "/leads/1", map[string]any{"name": "Lead", "developments": []any{map[string]any{"id": "a b"}}},
			422, "validation_failed", "body.developments[0].id", env + "/leads/1"},
		{"owner id not URL-safe", "PUT", env + "/leads/1", map[string]any{"name": "Lead", "broker_id": "a/b"},
			422, "validation_failed", "body.broker_id", env + "/leads/1"},
		{"path id not URL-safe", "PUT", env + "/leads/a%20b", map[string]any{"name": "Lead"},
			422, "validation_failed", "path.lead_id", env + "/leads/1"},
		{"path id too long", "GET", "/v1/environments/" + strings.Repeat("x", 65), nil,
			422, "validation_failed", "path.env", env},
		{"wrong dial mode enum", "PUT", env + "/telephony/call-connect", map[string]any{"actor_id": "admin", "partner_url": "https://partner.example.com", "dial_mode": "both"},
			422, "validation_failed", "body.dial_mode", env + "/telephony"},
		{"dial mode missing", "PUT", env + "/telephony/call-connect", map[string]any{"actor_id": "admin", "partner_url": "https://partner.example.com"},
			422, "invalid_field", "body.dial_mode", env + "/telephony"},
		{"plain http partner URL", "PUT", env + "/telephony/call-connect", map[string]any{"actor_id": "admin", "partner_url": "http://partner.example.com/calls", "dial_mode": "phone"},
			422, "invalid_field", "body.partner_url", env + "/telephony"},
		{"ftp partner URL", "PUT", env + "/telephony/call-connect", map[string]any{"actor_id": "admin", "partner_url": "ftp://partner.example.com/calls", "dial_mode": "phone"},
			422, "invalid_field", "body.partner_url", env + "/telephony"},
		{"private partner URL", "PUT", env + "/telephony/call-connect", map[string]any{"actor_id": "admin", "partner_url": "https://10.1.2.3/calls", "dial_mode": "phone"},
			422, "invalid_field", "body.partner_url", env + "/telephony"},
		{"loopback partner URL", "PUT", env + "/telephony/call-connect", map[string]any{"actor_id": "admin", "partner_url": "https://localhost:8443/calls", "dial_mode": "phone"},
			422, "invalid_field", "body.partner_url", env + "/telephony"},
		{"metadata partner URL", "PUT", env + "/telephony/call-connect", map[string]any{"actor_id": "admin", "partner_url": "https://169.254.169.254/latest", "dial_mode": "phone"},
			422, "invalid_field", "body.partner_url", env + "/telephony"},
		{"actor without permission", "PUT", env + "/telephony/call-connect", map[string]any{"actor_id": "corretor", "partner_url": "https://partner.example.com/calls", "dial_mode": "phone"},
			403, "permission_denied", "body.actor_id", env + "/telephony"},
		{"unknown actor", "PUT", env + "/telephony/call-connect", map[string]any{"actor_id": "ghost", "partner_url": "https://partner.example.com/calls", "dial_mode": "phone"},
			422, "actor_not_found", "body.actor_id", env + "/telephony"},
		{"support switch off", "PUT", "/v1/environments/off/telephony/call-connect", map[string]any{"actor_id": "admin", "partner_url": "https://partner.example.com/calls", "dial_mode": "phone"},
			403, "feature_not_enabled", "path.env", "/v1/environments/off/telephony"},
		{"settings for another provider", "PUT", env + "/telephony/other-pbx", map[string]any{"actor_id": "admin", "dial_mode": "phone"},
			422, "invalid_field", "body.partner_url", env + "/telephony"},
		{"provider slug not lowercase", "PUT", env + "/telephony/Call-Connect", map[string]any{"actor_id": "admin"},
			422, "validation_failed", "path.provider", env + "/telephony"},
		{"activate what was never configured", "POST", env + "/telephony/call-connect/activate", map[string]any{"actor_id": "admin"},
			404, "integration_not_found", "path.provider", env + "/telephony"},
		{"rotate what was never configured", "POST", env + "/telephony/call-connect/rotate-secret", map[string]any{"actor_id": "admin"},
			404, "integration_not_found", "", env + "/telephony"},
		{"user in an unknown environment", "PUT", "/v1/environments/nowhere/users/u", map[string]any{"name": "U", "role": "broker"},
			404, "environment_not_found", "path.env", "/v1/environments/nowhere/users/u"},
		{"lead in an unknown environment", "PUT", "/v1/environments/nowhere/leads/1", map[string]any{"name": "L"},
			404, "environment_not_found", "path.env", "/v1/environments/nowhere/leads/1"},
		{"integration in an unknown environment", "PUT", "/v1/environments/nowhere/telephony/call-connect", map[string]any{"actor_id": "admin", "partner_url": "https://partner.example.com/calls", "dial_mode": "phone"},
			404, "environment_not_found", "path.env", "/v1/environments/nowhere/telephony"},
		{"unknown environment", "GET", "/v1/environments/nowhere", nil, 404, "environment_not_found", "path.env", ""},
		{"unknown user", "GET", env + "/users/ghost", nil, 404, "user_not_found", "path.user_id", ""},
		{"unknown lead", "GET", env + "/leads/404", nil, 404, "lead_not_found", "path.lead_id", ""},
		{"button: unknown lead", "GET", env + "/leads/404/call-button?user_id=corretor", nil, 404, "lead_not_found", "path.lead_id", ""},
		{"button: unknown user", "GET", env + "/leads/1/call-button?user_id=ghost", nil, 404, "user_not_found", "query.user_id", ""},
		{"button: user_id missing", "GET", env + "/leads/1/call-button", nil, 422, "validation_failed", "query.user_id", ""},
		{"button: unknown environment", "GET", "/v1/environments/nowhere/leads/1/call-button?user_id=corretor", nil, 404, "environment_not_found", "path.env", ""},
		{"batch: unknown user", "POST", env + "/call-buttons", map[string]any{"user_id": "ghost", "lead_ids": []string{"1"}}, 404, "user_not_found", "body.user_id", ""},
		{"batch: lead id not URL-safe", "POST", env + "/call-buttons", map[string]any{"user_id": "corretor", "lead_ids": []string{"1", "a b"}}, 422, "invalid_field", "body.lead_ids[1]", ""},
		{"batch: lead_ids missing", "POST", env + "/call-buttons", map[string]any{"user_id": "corretor"}, 422, "validation_failed", "body.lead_ids", ""},
		{"batch: over 500 leads", "POST", env + "/call-buttons", map[string]any{"user_id": "corretor", "lead_ids": leadIDs(501)}, 422, "too_many_leads", "body.lead_ids", ""},
		{"batch: over 500 leads of an unknown user", "POST", env + "/call-buttons", map[string]any{"user_id": "ghost", "lead_ids": leadIDs(1000)}, 422, "too_many_leads", "body.lead_ids", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before *response
			if tc.readBack != "" {
				before = c.get(tc.readBack)
			}
			p := wantProblem(t, c.do(tc.method, tc.path, tc.body), tc.status, tc.code, tc.location)
			if p.Instance == "" {
				t.Fatalf("instance must name the request path: %+v", p)
			}
			if tc.readBack != "" {
				same(t, before, c.get(tc.readBack))
			}
		})
	}
}

func leadIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "lead-" + strings.Repeat("x", i%3) + string(rune('a'+i%26))
	}
	return ids
}

func TestBatchOf500IsAccepted(t *testing.T) {
	c := seeded(t)
	ids := leadIDs(500)
	ids[499] = "1"
	r := c.post(env+"/call-buttons", map[string]any{"user_id": "corretor", "lead_ids": ids})
	var out struct {
		Buttons []map[string]any `json:"buttons"`
	}
	c.ok(r)
	r.decode(t, &out)
	if len(out.Buttons) != 500 || out.Buttons[499]["lead_id"] != "1" || out.Buttons[499]["reason"] != "integration_inactive" {
		t.Fatalf("500 leads: %d buttons, last %v", len(out.Buttons), out.Buttons[len(out.Buttons)-1])
	}
	r = c.post(env+"/call-buttons", map[string]any{"user_id": "corretor", "lead_ids": []string{}})
	if got := c.ok(r); len(got["buttons"].([]any)) != 0 {
		t.Fatalf("no leads, no buttons: %s", r)
	}
}

func TestPutReplacesTheWholeResource(t *testing.T) {
	c := seeded(t)
	c.ok(c.put(env+"/users/corretor", map[string]any{"name": "Corretor", "role": "broker", "phone": "48999476359", "extension": "12"}))
	u := c.ok(c.put(env+"/users/corretor", map[string]any{"name": "Corretor", "role": "broker"}))
	if u["phone"] != "" || u["extension"] != "" {
		t.Fatalf("a PUT without phone must leave no phone: %v", u)
	}
	if got := c.ok(c.get(env + "/users/corretor")); got["phone"] != "" {
		t.Fatalf("stored: %v", got)
	}
	c.ok(c.put(env+"/leads/1", newcomerLead))
	l := c.ok(c.put(env+"/leads/1", map[string]any{"name": "Só o nome"}))
	if l["email"] != "" || l["manager_id"] != "" || l["stage"] != nil || l["score"] != nil || len(l["developments"].([]any)) != 0 {
		t.Fatalf("a PUT with only a name must clear the rest: %v", l)
	}
	e := c.ok(c.put(env, map[string]any{"name": "Acme", "public_base_url": "https://acme.example.com"}))
	if e["time_zone"] != "America/Sao_Paulo" || e["call_connect_enabled"] != false {
		t.Fatalf("absent time zone is the default, absent switch is off: %v", e)
	}
	// Idempotent: the same PUT twice answers the same.
	a := c.put(env+"/leads/1", newcomerLead)
	b := c.put(env+"/leads/1", newcomerLead)
	same(t, a, b)
}

func TestBearerToken(t *testing.T) {
	c := seeded(t)
	for name, r := range map[string]*response{
		"no header":     c.withToken("").get(env),
		"wrong token":   c.withToken("wrong").get(env),
		"token prefix":  c.withToken(adminToken[:5]).get(env),
		"longer token":  c.withToken(adminToken + "x").get(env),
		"basic scheme":  c.withToken("").do("GET", env, nil, "Authorization", "Basic "+adminToken),
		"unknown route": c.withToken("").get("/v1/nothing-here"),
		"bare /v1":      c.withToken("").get("/v1"),
	} {
		t.Run(name, func(t *testing.T) {
			wantProblem(t, r, http.StatusUnauthorized, "unauthorized", "")
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("want WWW-Authenticate: Bearer, got %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// A refused write stores nothing.
	before := c.get(env)
	wantProblem(t, c.withToken("wrong").put(env, map[string]any{"name": "Hacked", "public_base_url": "https://evil.example.com"}), 401, "unauthorized", "")
	same(t, before, c.get(env))
	// The scheme is case-insensitive.
	c.ok(c.withToken("").do("GET", env, nil, "Authorization", "bearer "+adminToken))
	// Operations endpoints are public.
	if r := c.withToken("").get("/healthz"); r.Status != 200 {
		t.Fatalf("healthz: %s", r)
	}
}

func TestEmptyAdminTokenRefusesEverything(t *testing.T) {
	svc, _ := newMemoryServices()
	h := httpapi.New(httpapi.Config{AdminToken: "", Logger: slog.New(slog.DiscardHandler)}, svc, httpapi.Ops{})
	c := &client{t: t, handler: h}
	for _, token := range []string{"", " ", "anything"} {
		r := c.withToken(token).do("PUT", env, map[string]any{"name": "Acme", "public_base_url": "https://acme.example.com"},
			"Authorization", "Bearer "+token)
		wantProblem(t, r, http.StatusUnauthorized, "unauthorized", "")
	}
	if r := c.get("/healthz"); r.Status != 200 {
		t.Fatalf("healthz: %s", r)
	}
}

func TestBodyTooLarge(t *testing.T) {
	svc, _ := newMemoryServices()
	h := httpapi.New(httpapi.Config{AdminToken: adminToken, MaxBodyBytes: 1024}, svc, httpapi.Ops{})
	c := &client{t: t, handler: h, token: adminToken}
	big := `{"name": "` + strings.Repeat("a", 2000) + `", "public_base_url": "https://acme.example.com"}`

	// Announced by Content-Length.
	wantProblem(t, c.put(env, big), http.StatusRequestEntityTooLarge, "body_too_large", "")
	// Not announced (chunked): found while reading.
	wantProblem(t, c.put(env, io.MultiReader(strings.NewReader(big))), http.StatusRequestEntityTooLarge, "body_too_large", "")
	wantProblem(t, c.get(env), http.StatusNotFound, "environment_not_found", "path.env")

	// Exactly at the limit is accepted.
	exact := `{"name": "A", "public_base_url": "https://acme.example.com"}`
	exact = exact[:len(exact)-1] + strings.Repeat(" ", 1024-len(exact)) + "}"
	if len(exact) != 1024 {
		t.Fatalf("test body is %d bytes", len(exact))
	}
	c.ok(c.put(env, exact))

	// Over real HTTP as well.
	wantProblem(t, overHTTP(t, h).put(env, big), http.StatusRequestEntityTooLarge, "body_too_large", "")
}

func TestRoutesWithoutOperationAreProblems(t *testing.T) {
	c := seeded(t)
	wantProblem(t, c.get("/nothing"), http.StatusNotFound, "not_found", "")
	wantProblem(t, c.get(env+"/nothing"), http.StatusNotFound, "not_found", "")
	r := c.do("DELETE", env, nil)
	wantProblem(t, r, http.StatusMethodNotAllowed, "method_not_allowed", "")
	if allow := r.Header.Get("Allow"); !strings.Contains(allow, "PUT") || !strings.Contains(allow, "GET") {
		t.Fatalf("405 must say what is allowed: %q", allow)
	}
	wantProblem(t, c.post("/healthz", "{}"), http.StatusMethodNotAllowed, "method_not_allowed", "")
	wantProblem(t, c.get("/docs/assets/nothing.js"), http.StatusNotFound, "not_found", "")
}

// failingStore is a ports.Store whose database is gone: every unit of work
// fails with an error carrying internal details.
type failingStore struct{}

var errDatabase = errors.New("dial tcp 10.9.8.7:5432: connect: connection refused (password=hunter2)")

func (failingStore) Tx(context.Context, func(context.Context, ports.Repositories) error) error {
	return errDatabase
}
func (failingStore) Read(context.Context, func(context.Context, ports.Repositories) error) error {
	return errDatabase
}

func TestInternalErrorsAreLoggedNotShown(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	h := httpapi.New(httpapi.Config{AdminToken: adminToken, Logger: logger}, servicesOn(failingStore{}), httpapi.Ops{})
	c := &client{t: t, handler: h, token: adminToken}
	for _, r := range []*response{
		c.get(env),
		c.put(env, map[string]any{"name": "Acme", "public_base_url": "https://acme.example.com"}),
		c.post(env+"/call-buttons", map[string]any{"user_id": "u", "lead_ids": []string{"1"}}),
	} {
		wantProblem(t, r, http.StatusInternalServerError, "internal", "")
		if strings.Contains(string(r.Body), "10.9.8.7") || strings.Contains(string(r.Body), "hunter2") {
			t.Fatalf("internal details leaked: %s", r)
		}
	}
	if !strings.Contains(logs.String(), "10.9.8.7") {
		t.Fatalf("the internal error must be logged, got %q", logs.String())
	}
}

func TestPanicsBecome500Problems(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	svc, _ := newMemoryServices()
	svc.CallButtons = nil // a nil service panics when called: a programming error, caught
	h := httpapi.New(httpapi.Config{AdminToken: adminToken, Logger: logger}, svc, httpapi.Ops{})
	c := &client{t: t, handler: h, token: adminToken}
	r := c.get(env + "/leads/1/call-button?user_id=u")
	wantProblem(t, r, http.StatusInternalServerError, "internal", "")
	if strings.Contains(string(r.Body), "nil pointer") {
		t.Fatalf("panic text leaked: %s", r)
	}
	if !strings.Contains(logs.String(), "panic") {
		t.Fatalf("the panic must be logged: %q", logs.String())
	}
}
