package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"callconnect/adapters/cvio"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/memory"
	"callconnect/adapters/telemetry"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// fakePartner is a ports.PartnerClient that records every request and
// answers with the status the test sets, without any network.
type fakePartner struct {
	mu       sync.Mutex
	status   int
	requests []ports.PartnerRequest
}

// partnerLatency is how long every fake attempt takes.
const partnerLatency = 120 * time.Millisecond

func (p *fakePartner) Deliver(_ context.Context, req ports.PartnerRequest) ports.PartnerResponse {
	p.mu.Lock()
	defer p.mu.Unlock()
	req.Body = bytes.Clone(req.Body)
	req.Secrets = slices.Clone(req.Secrets)
	p.requests = append(p.requests, req)
	return ports.PartnerResponse{
		StatusCode: p.status,
		Duration:   partnerLatency,
		RequestHeaders: map[string][]string{"Content-Type": {"application/json"}, "Webhook-Id": {req.WebhookID},
			"Webhook-Signature": {"v1,not-a-real-signature"}},
		Body: []byte(`{"ok":true}`),
	}
}

// answer makes the partner answer status from now on.
func (p *fakePartner) answer(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = status
}

// received returns the requests so far.
func (p *fakePartner) received() []ports.PartnerRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.requests)
}

// dispatchDeadline is the deployment's CALLCONNECT_DISPATCH_DEADLINE in these tests.
const dispatchDeadline = 2 * time.Minute

// callsRig is the API on the in-memory store with app.Calls behind it, a
// clock that stands still at t0 until moved, deterministic ids (the first
// call is id-0000000000000001) and a fake partner answering 200.
type callsRig struct {
	*client
	store   *memory.Store
	clock   *memory.Clock
	partner *fakePartner
	calls   *app.Calls
}

func newCallsRig(t testing.TB, middleware ...func(http.Handler) http.Handler) *callsRig {
	t.Helper()
	store := memory.NewStore()
	clock := memory.NewClock(t0)
	partner := &fakePartner{status: http.StatusOK}
	calls := app.NewCalls(store, clock, memory.NewRandom(1), partner, cvio.Payloads{},
		app.CallsConfig{DispatchDeadline: dispatchDeadline, RetryMinBackoff: time.Second})
	svc := servicesOn(store)
	svc.Calls = calls
	h := httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{Middleware: middleware})
	return &callsRig{client: &client{t: t, handler: h, token: adminToken}, store: store, clock: clock, partner: partner, calls: calls}
}

// drain runs every delivery the store has committed through
// app.Calls.Deliver, once, as the delivery worker would, and returns the
// outcomes. Retries an outcome asks for are not scheduled: tests look at them.
func (r *callsRig) drain() []app.DeliveryOutcome {
	r.t.Helper()
	var outcomes []app.DeliveryOutcome
	for _, d := range r.store.TakeDeliveries() {
		out, err := r.calls.Deliver(context.Background(), d.EnvID, d.CallID)
		if err != nil {
			r.t.Fatalf("Deliver %s/%s: %v", d.EnvID, d.CallID, err)
		}
		outcomes = append(outcomes, out)
	}
	return outcomes
}

// noDeliveries fails unless nothing was scheduled since the last take.
func (r *callsRig) noDeliveries() {
	r.t.Helper()
	if d := r.store.TakeDeliveries(); len(d) != 0 {
		r.t.Fatalf("a delivery was scheduled: %+v", d)
	}
}

// seedCalls makes the environment at path with users for every row of rule
// 5, a lead (id 1) owned by gestor, corretor and the agency imob, and an
// active Call Connect integration dialing by phone.
func seedCalls(t testing.TB, c *client, path string) {
	t.Helper()
	c.ok(c.put(path, map[string]any{"name": "Acme Imóveis", "public_base_url": "https://acme.crm.example.com", "call_connect_enabled": true}))
	users := map[string]map[string]any{
		"admin":    {"name": "Admin", "role": "manager", "can_manage_integrations": true},
		"gestor":   {"name": "Gestor de teste", "role": "manager", "phone": "48999476359", "extension": "1234"},
		"gestor2":  {"name": "Outro gestor", "role": "manager", "phone": "48999476350"},
		"corretor": {"name": "Corretor de teste", "role": "broker", "phone": "48999476351", "extension": "1235"},
		"stranger": {"name": "Corretor de fora", "role": "broker", "phone": "48999476352"},
		"imob":     {"name": "Imobiliária Bem Viver", "role": "agency", "phone": "4830303030", "extension": "10"},
		"ramal":    {"name": "Só ramal", "role": "agency_user", "agency_id": "imob", "extension": "1236"},
		"fone":     {"name": "Só telefone", "role": "agency_user", "agency_id": "imob", "phone": "48999476353"},
	}
	for id, u := range users {
		c.ok(c.put(path+"/users/"+id, u))
	}
	c.ok(c.put(path+"/leads/1", map[string]any{"name": "Lead do Teste", "phone": "48999476359",
		"manager_id": "gestor", "broker_id": "corretor", "agency_id": "imob"}))
	c.ok(c.put(path+"/telephony/call-connect", map[string]any{"actor_id": "admin",
		"partner_url": "https://partner.example.com/calls", "dial_mode": "phone"}))
	c.ok(c.post(path+"/telephony/call-connect/activate", map[string]any{"actor_id": "admin"}))
}

const firstCallID = "id-0000000000000001"

// accepted fails unless r is a 202 with a call, and returns the call.
func accepted(t testing.TB, r *response) map[string]any {
	t.Helper()
	if r.Status != http.StatusAccepted {
		t.Fatalf("want 202, got %s", r)
	}
	return r.object(t)
}

// wantCall checks the members every call answer has, and its status and reason.
func wantCall(t testing.TB, got map[string]any, id, status string, reason any, attempts int) []any {
	t.Helper()
	for _, k := range []string{"id", "lead_id", "user_id", "status", "reason", "clicked_at", "deadline", "webhook_id", "attempts", "recording_url"} {
		if _, ok := got[k]; !ok {
			t.Fatalf("call without %q: %v", k, got)
		}
	}
	if got["id"] != id || got["status"] != status || got["reason"] != reason || got["webhook_id"] != "msg_"+id || got["recording_url"] != nil {
		t.Fatalf("want call %s %s (reason %v), got %v", id, status, reason, got)
	}
	list, ok := got["attempts"].([]any)
	if !ok || len(list) != attempts {
		t.Fatalf("want %d attempts, got %v", attempts, got["attempts"])
	}
	return list
}

func TestPlaceCall(t *testing.T) {
	rig := newCallsRig(t)
	seedCalls(t, rig.client, env)

	r := rig.post(env+"/leads/1/calls", map[string]any{"user_id": "corretor"})
	call := accepted(t, r)
	wantCall(t, call, firstCallID, "queued", nil, 0)
	if call["lead_id"] != "1" || call["user_id"] != "corretor" ||
		call["clicked_at"] != t0.Format(time.RFC3339) || call["deadline"] != t0.Add(dispatchDeadline).Format(time.RFC3339) {
		t.Fatalf("call: %v", call)
	}
	loc := r.Header.Get("Location")
	if loc != env+"/calls/"+firstCallID {
		t.Fatalf("Location %q", loc)
	}
	if again := rig.ok(rig.get(loc)); again["id"] != firstCallID || again["status"] != "queued" {
		t.Fatalf("GET Location: %v", again)
	}

	// The call row and its delivery were committed together.
	d := rig.store.TakeDeliveries()
	if len(d) != 1 || d[0].EnvID != "acme" || d[0].CallID != firstCallID || d[0].TraceParent != "" {
		t.Fatalf("scheduled deliveries: %+v", d)
	}
	if n := len(rig.partner.received()); n != 0 {
		t.Fatalf("the partner was called %d times before any worker ran", n)
	}
}

// Every refused press answers with the button's reason, names body.user_id,
// and creates nothing: no call, no scheduled delivery, nothing sent.
func TestRefusedPressesCreateNothing(t *testing.T) {
	rig := newCallsRig(t)
	seedCalls(t, rig.client, env)
	press := func(user string) *response { return rig.post(env+"/leads/1/calls", map[string]any{"user_id": user}) }
	refused := func(name, user string, status int, code string) {
		t.Run(name, func(t *testing.T) {
			p := wantProblem(t, press(user), status, code, "body.user_id")
			if p.Instance != env+"/leads/1/calls" {
				t.Fatalf("instance %q", p.Instance)
			}
			rig.noDeliveries()
		})
	}

	// Phone mode.
	refused("not an owner", "stranger", http.StatusForbidden, "not_owner")
	refused("manager not linked to the lead", "gestor2", http.StatusForbidden, "not_owner")
	refused("no phone in phone mode", "ramal", http.StatusConflict, "missing_phone")

	// Extension mode.
	rig.ok(rig.put(env+"/telephony/call-connect", map[string]any{"actor_id": "admin",
		"partner_url": "https://partner.example.com/calls", "dial_mode": "extension"}))
	refused("no extension in extension mode", "fone", http.StatusConflict, "missing_extension")

	// Deactivated, then switched off by support.
	rig.ok(rig.post(env+"/telephony/call-connect/deactivate", map[string]any{"actor_id": "admin"}))
	refused("integration inactive", "corretor", http.StatusConflict, "integration_inactive")

	// Unknown or malformed inputs.
	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		code, loc  string
	}{
		{"unknown user", env + "/leads/1/calls", map[string]any{"user_id": "ghost"}, 404, "user_not_found", "body.user_id"},
		{"unknown lead", env + "/leads/404/calls", map[string]any{"user_id": "corretor"}, 404, "lead_not_found", "path.lead_id"},
		{"unknown environment", "/v1/environments/nowhere/leads/1/calls", map[string]any{"user_id": "corretor"}, 404, "environment_not_found", "path.env"},
		{"user_id missing", env + "/leads/1/calls", map[string]any{}, 422, "validation_failed", "body.user_id"},
		{"user_id not URL-safe", env + "/leads/1/calls", map[string]any{"user_id": "a b"}, 422, "validation_failed", "body.user_id"},
		{"unknown property", env + "/leads/1/calls", map[string]any{"user_id": "corretor", "lead_id": "2"}, 422, "validation_failed", "body.lead_id"},
		{"no body", env + "/leads/1/calls", nil, 400, "bad_request", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, rig.post(tc.path, tc.body), tc.status, tc.code, tc.loc)
			rig.noDeliveries()
		})
	}

	// The id the first call would have had was never stored, and nothing reached the partner.
	wantProblem(t, rig.get(env+"/calls/"+firstCallID), http.StatusNotFound, "call_not_found", "path.call_id")
	if n := len(rig.partner.received()); n != 0 {
		t.Fatalf("refused presses reached the partner %d times", n)
	}

	// Reactivated, the same press is accepted: the refusals were the rules, not the rig.
	rig.ok(rig.post(env+"/telephony/call-connect/activate", map[string]any{"actor_id": "admin"}))
	wantCall(t, accepted(t, press("ramal")), firstCallID, "queued", nil, 0)
}

func TestDeliveredCallShowsItsAttempt(t *testing.T) {
	rig := newCallsRig(t)
	seedCalls(t, rig.client, env)
	accepted(t, rig.post(env+"/leads/1/calls", map[string]any{"user_id": "corretor"}))

	out := rig.drain()
	if len(out) != 1 || !out[0].Attempted || out[0].Verdict != domain.VerdictDelivered || out[0].RetryIn != 0 {
		t.Fatalf("outcomes: %+v", out)
	}
	attempts := wantCall(t, rig.ok(rig.get(env+"/calls/"+firstCallID)), firstCallID, "delivered", nil, 1)
	a := attempts[0].(map[string]any)
	if a["at"] != t0.Format(time.RFC3339) || a["status_code"] != float64(200) || a["error"] != nil ||
		a["duration_ms"] != float64(partnerLatency.Milliseconds()) {
		t.Fatalf("attempt: %v", a)
	}
	for _, k := range []string{"error", "status_code"} {
		if _, ok := a[k]; !ok {
			t.Fatalf("attempt without %q (null when empty): %v", k, a)
		}
	}

	reqs := rig.partner.received()
	if len(reqs) != 1 || reqs[0].URL != "https://partner.example.com/calls" || reqs[0].WebhookID != "msg_"+firstCallID ||
		len(reqs[0].Secrets) != 1 || !reqs[0].Timestamp.Equal(t0) {
		t.Fatalf("partner requests: %+v", reqs)
	}

	// Delivered is not undeliverable: nothing to redeliver.
	wantProblem(t, rig.post(env+"/calls/"+firstCallID+"/redeliver", nil), http.StatusConflict, "invalid_call_transition", "path.call_id")
	rig.noDeliveries()
	rig.drain()
	if n := len(rig.partner.received()); n != 1 {
		t.Fatalf("a refused redeliver reached the partner: %d requests", n)
	}
}

func TestPermanentRefusalThenRedeliver(t *testing.T) {
	rig := newCallsRig(t)
	seedCalls(t, rig.client, env)
	accepted(t, rig.post(env+"/leads/1/calls", map[string]any{"user_id": "corretor"}))

	// A queued call is not undeliverable either.
	wantProblem(t, rig.post(env+"/calls/"+firstCallID+"/redeliver", nil), http.StatusConflict, "invalid_call_transition", "path.call_id")

	rig.partner.answer(http.StatusUnprocessableEntity)
	if out := rig.drain(); len(out) != 1 || out[0].Verdict != domain.VerdictPermanent || out[0].RetryIn != 0 {
		t.Fatalf("outcomes: %+v", out)
	}
	attempts := wantCall(t, rig.ok(rig.get(env+"/calls/"+firstCallID)), firstCallID, "undeliverable", "partner_refused", 1)
	if a := attempts[0].(map[string]any); a["status_code"] != float64(422) || a["error"] != "partner answered 422" {
		t.Fatalf("attempt: %v", a)
	}

	// Later, the partner fixed: redeliver queues it again with a fresh deadline.
	later := rig.clock.Advance(10 * time.Minute)
	call := accepted(t, rig.post(env+"/calls/"+firstCallID+"/redeliver", nil))
	wantCall(t, call, firstCallID, "queued", nil, 1)
	if call["deadline"] != later.Add(dispatchDeadline).Format(time.RFC3339) || call["clicked_at"] != t0.Format(time.RFC3339) {
		t.Fatalf("redelivered call: %v", call)
	}
	rig.partner.answer(http.StatusOK)
	if out := rig.drain(); len(out) != 1 || out[0].Verdict != domain.VerdictDelivered {
		t.Fatalf("outcomes: %+v", out)
	}
	attempts = wantCall(t, rig.ok(rig.get(env+"/calls/"+firstCallID)), firstCallID, "delivered", nil, 2)
	if a := attempts[1].(map[string]any); a["status_code"] != float64(200) || a["at"] != later.Format(time.RFC3339) {
		t.Fatalf("second attempt: %v", a)
	}

	// Both attempts sent the same bytes under the same webhook-id.
	reqs := rig.partner.received()
	if len(reqs) != 2 || reqs[0].WebhookID != reqs[1].WebhookID || !bytes.Equal(reqs[0].Body, reqs[1].Body) {
		t.Fatalf("the redelivery must send the same call: %+v", reqs)
	}
	wantProblem(t, rig.post(env+"/calls/"+firstCallID+"/redeliver", nil), http.StatusConflict, "invalid_call_transition", "path.call_id")
}

func TestUnknownCallsAndTenantIsolation(t *testing.T) {
	rig := newCallsRig(t)
	seedCalls(t, rig.client, env)
	const other = "/v1/environments/other"
	seedCalls(t, rig.client, other)
	accepted(t, rig.post(env+"/leads/1/calls", map[string]any{"user_id": "corretor"}))
	rig.store.TakeDeliveries()
	before := rig.get(env + "/calls/" + firstCallID)

	for _, tc := range []struct {
		name, method, path string
		status             int
		code, loc          string
	}{
		{"unknown call", "GET", env + "/calls/nope", 404, "call_not_found", "path.call_id"},
		{"redeliver unknown call", "POST", env + "/calls/nope/redeliver", 404, "call_not_found", "path.call_id"},
		{"call of another environment", "GET", other + "/calls/" + firstCallID, 404, "call_not_found", "path.call_id"},
		{"redeliver a call of another environment", "POST", other + "/calls/" + firstCallID + "/redeliver", 404, "call_not_found", "path.call_id"},
		{"unknown environment", "GET", "/v1/environments/nowhere/calls/" + firstCallID, 404, "environment_not_found", "path.env"},
		{"redeliver in an unknown environment", "POST", "/v1/environments/nowhere/calls/" + firstCallID + "/redeliver", 404, "environment_not_found", "path.env"},
		{"call id not URL-safe", "GET", env + "/calls/a%20b", 422, "validation_failed", "path.call_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, rig.do(tc.method, tc.path, nil), tc.status, tc.code, tc.loc)
			rig.noDeliveries()
			same(t, before, rig.get(env+"/calls/"+firstCallID))
		})
	}
}

// The delivery carries the click's W3C traceparent: the server span the
// telemetry middleware started for the POST, in the caller's trace.
func TestPlaceCallPassesTheClicksTraceParent(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	rig := newCallsRig(t, func(h http.Handler) http.Handler { return telemetry.HTTPTracing(h, tp) })
	seedCalls(t, rig.client, env)

	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	serverSpan := func(name string) trace.SpanContext {
		t.Helper()
		ended := spans.Ended()
		for i := len(ended) - 1; i >= 0; i-- {
			if ended[i].Name() == name {
				return ended[i].SpanContext()
			}
		}
		t.Fatalf("no span %q", name)
		return trace.SpanContext{}
	}
	traceParentOf := func(sc trace.SpanContext) string {
		return fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags())
	}

	accepted(t, rig.do(http.MethodPost, env+"/leads/1/calls", map[string]any{"user_id": "corretor"},
		"traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01"))
	sc := serverSpan("POST /v1/environments/{env}/leads/{lead_id}/calls")
	if sc.TraceID().String() != callerTrace {
		t.Fatalf("the server span is not in the caller's trace: %s", sc.TraceID())
	}
	d := rig.store.TakeDeliveries()
	if len(d) != 1 || d[0].TraceParent != traceParentOf(sc) {
		t.Fatalf("want traceparent %s, got %+v", traceParentOf(sc), d)
	}

	// A redeliver links to its own request.
	rig.partner.answer(http.StatusForbidden)
	for _, dd := range d {
		if _, err := rig.calls.Deliver(context.Background(), dd.EnvID, dd.CallID); err != nil {
			t.Fatal(err)
		}
	}
	accepted(t, rig.post(env+"/calls/"+firstCallID+"/redeliver", nil))
	sc = serverSpan("POST /v1/environments/{env}/calls/{call_id}/redeliver")
	if d := rig.store.TakeDeliveries(); len(d) != 1 || d[0].TraceParent != traceParentOf(sc) {
		t.Fatalf("redeliver: want traceparent %s, got %+v", traceParentOf(sc), d)
	}
}

// The call operations are documented as served: 202 with a Location for a
// placed call, the refusals, and a Call schema whose status enum is the
// domain's and whose empty values are nullable.
func TestOpenAPICalls(t *testing.T) {
	doc := document(t)
	paths := obj(doc["paths"])
	responses := func(path, method string) map[string]any {
		t.Helper()
		op := obj(obj(paths[path])[method])
		if op == nil {
			t.Fatalf("%s %s is not documented", method, path)
		}
		return obj(op["responses"])
	}
	wantCodes := func(rs map[string]any, codes ...string) {
		t.Helper()
		for _, code := range codes {
			if rs[code] == nil {
				t.Errorf("response %s not documented: %v", code, slices.Sorted(maps.Keys(rs)))
			}
		}
	}
	place := responses("/v1/environments/{env}/leads/{lead_id}/calls", "post")
	wantCodes(place, "202", "400", "401", "403", "404", "409", "422")
	if obj(obj(place["202"])["headers"])["Location"] == nil {
		t.Errorf("202 must document Location: %v", place["202"])
	}
	wantCodes(responses("/v1/environments/{env}/calls/{call_id}", "get"), "200", "401", "404", "422")
	wantCodes(responses("/v1/environments/{env}/calls/{call_id}/redeliver", "post"), "202", "401", "404", "409", "422")

	schemas := obj(obj(doc["components"])["schemas"])
	props := obj(obj(schemas["Call"])["properties"])
	var statuses []any
	for _, s := range domain.CallStatuses {
		statuses = append(statuses, string(s))
	}
	if got := obj(props["status"])["enum"]; !reflect.DeepEqual(got, statuses) {
		t.Errorf("status enum %v, domain %v", got, statuses)
	}
	nullable := func(p map[string]any) bool {
		types, _ := p["type"].([]any)
		return slices.Contains(types, any("null"))
	}
	for _, k := range []string{"reason", "recording_url"} {
		if !nullable(obj(props[k])) {
			t.Errorf("Call.%s must be nullable: %v", k, props[k])
		}
	}
	attempt := obj(obj(schemas["CallAttempt"])["properties"])
	for _, k := range []string{"status_code", "error"} {
		if !nullable(obj(attempt[k])) {
			t.Errorf("CallAttempt.%s must be nullable: %v", k, attempt[k])
		}
	}
	required, _ := obj(schemas["Call"])["required"].([]any)
	for _, k := range []string{"id", "lead_id", "user_id", "status", "reason", "attempts", "recording_url"} {
		if !slices.Contains(required, any(k)) {
			t.Errorf("Call.%s must be required (always present): %v", k, required)
		}
	}
}
