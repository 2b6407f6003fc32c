package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"callconnect/adapters/cvio"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/memory"
	"callconnect/adapters/postgres"
	"callconnect/adapters/system"
	"callconnect/adapters/webhook"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// signedPartner is a partner endpoint on 127.0.0.1 that checks each
// request's Standard Webhooks signature with the secret it was given, as a
// partner's code does, and keeps what it received.
type signedPartner struct {
	t        *testing.T
	srv      *httptest.Server
	requests chan partnerHit
	hits     atomic.Int32

	mu     sync.Mutex
	secret string
	status int
	body   string
}

// partnerHit is one request the partner received.
type partnerHit struct {
	header http.Header
	body   []byte
	// verified is the reference library's verdict on the signature.
	verified error
}

func newSignedPartner(t *testing.T) *signedPartner {
	p := &signedPartner{t: t, requests: make(chan partnerHit, 16), status: http.StatusOK, body: `{"ok":true}`}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		secret, status, answer := p.secret, p.status, p.body
		p.mu.Unlock()
		hit := partnerHit{header: r.Header.Clone(), body: body}
		if wh, err := standardwebhooks.NewWebhook(secret); err != nil {
			hit.verified = err
		} else {
			hit.verified = wh.Verify(body, r.Header)
		}
		p.hits.Add(1)
		p.requests <- hit
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// answer makes the partner answer status with body from now on.
func (p *signedPartner) answer(status int, body string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status, p.body = status, body
}

func (p *signedPartner) verifyWith(secret string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.secret = secret
}

// next waits, for a bounded time, for the partner's next request.
func (p *signedPartner) next() partnerHit {
	p.t.Helper()
	select {
	case h := <-p.requests:
		return h
	case <-time.After(10 * time.Second):
		p.t.Fatal("the partner received no request")
		return partnerHit{}
	}
}

// testCallRig is the API over real HTTP with the real delivery client (its
// address guard allowing loopback, as the other delivery tests do) and a
// signed partner behind the environment's Call Connect integration.
type testCallRig struct {
	*client
	partner *signedPartner
	calls   *app.Calls
	secret  string
}

// discardEnqueuer schedules nothing: the tests deliver calls themselves.
type discardEnqueuer struct{}

func (discardEnqueuer) EnqueueDelivery(context.Context, pgx.Tx, ports.Delivery) error { return nil }

const testCallEnv = "/v1/environments/acme"

func newTestCallRig(t *testing.T, store ports.Store, delivery webhook.Config) *testCallRig {
	t.Helper()
	random := system.NewRandom()
	client := webhook.New(delivery)
	t.Cleanup(client.CloseIdleConnections)
	calls := app.NewCalls(store, system.Clock{}, random, client, cvio.Payloads{},
		app.CallsConfig{DispatchDeadline: time.Minute, RetryMinBackoff: time.Second})
	svc := httpapi.Services{
		Configuration: app.NewConfiguration(store),
		Telephony:     app.NewTelephony(store, system.Clock{}, random, domain.URLPolicy{AllowHTTP: true, AllowPrivate: true}),
		CallButtons:   app.NewCallButtons(store),
		Calls:         calls,
		Monitor:       app.NewMonitor(store, random, nil),
	}
	r := &testCallRig{client: overHTTP(t, httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{})),
		partner: newSignedPartner(t), calls: calls}
	r.ok(r.put(testCallEnv, map[string]any{"name": "Acme Imóveis", "public_base_url": "https://acme.crm.example.com",
		"time_zone": "America/Sao_Paulo", "call_connect_enabled": true}))
	for id, u := range map[string]map[string]any{
		"admin":    {"name": "Admin", "role": "manager", "phone": "48999476350", "can_manage_integrations": true},
		"corretor": {"name": "Corretor de teste", "role": "broker", "phone": "48999476351", "extension": "1235"},
	} {
		r.ok(r.put(testCallEnv+"/users/"+id, u))
	}
	r.ok(r.put(testCallEnv+"/leads/1", map[string]any{"name": "Lead do Teste", "phone": "48999476359", "email": "lead@example.com",
		"manager_id": "admin", "broker_id": "corretor", "agency_id": "imob", "score": 27, "origin": "Painel Gestor",
		"stage": map[string]any{"id": "16", "name": "Em Atendimento"}, "developments": []any{map[string]any{"id": "3", "name": "Torre"}}}))
	integ := r.ok(r.put(testCallEnv+"/telephony/call-connect", map[string]any{"actor_id": "admin",
		"partner_url": r.partner.srv.URL + "/ligar", "dial_mode": "phone"}))
	r.secret = integ["signing_secret"].(string)
	r.partner.verifyWith(r.secret)
	return r
}

// testCall asks for a test call on behalf of actor.
func (r *testCallRig) testCall(actor string) *response {
	r.t.Helper()
	return r.post(testCallEnv+"/telephony/call-connect/test", map[string]any{"actor_id": actor})
}

// realCallKeys places a real call and delivers it to the partner, and
// returns the keys of the body the partner received.
func (r *testCallRig) realCallKeys() []string {
	r.t.Helper()
	r.ok(r.post(testCallEnv+"/telephony/call-connect/activate", map[string]any{"actor_id": "admin"}))
	call := accepted(r.t, r.post(testCallEnv+"/leads/1/calls", map[string]any{"user_id": "corretor"}))
	if _, err := r.calls.Deliver(context.Background(), "acme", call["id"].(string)); err != nil {
		r.t.Fatal(err)
	}
	hit := r.partner.next()
	if hit.verified != nil {
		r.t.Fatalf("the real call's signature: %v", hit.verified)
	}
	var body map[string]any
	if err := json.Unmarshal(hit.body, &body); err != nil {
		r.t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(body))
}

// TestTestCall sends test calls over real HTTP, with the memory and the
// PostgreSQL stores, to a partner that checks their signatures.
func TestTestCall(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) ports.Store
	}{
		{"memory", func(*testing.T) ports.Store { return memory.NewStore() }},
		{"postgres", func(t *testing.T) ports.Store {
			store, _, _ := pgStore(t, 0, postgres.WithEnqueuer(discardEnqueuer{}))
			return store
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestCallRig(t, tc.store(t), webhook.Config{AllowPrivate: true})
			testCallArrivesSigned(t, r)
			testCallReportsAnswers(t, r)
			testCallIsRefusedWithoutPermission(t, r)
		})
	}
}

// The test call arrives signed with the integration's secret, in the shape
// of a real call with "teste": true, while the integration is still
// inactive; the answer says what the partner answered, and the exchange is
// in the monitor under the test call's id.
func testCallArrivesSigned(t *testing.T, r *testCallRig) {
	t.Helper()
	// A long answer with multibyte characters: the excerpt is its start, cut
	// on a character.
	answer := `{"recebido": true, "nota": "` + strings.Repeat("ligação ", 100) + `"}`
	r.partner.answer(http.StatusAccepted, answer)
	res := r.ok(r.testCall("admin"))
	hit := r.partner.next()

	if hit.verified != nil {
		t.Fatalf("the partner could not verify the test call's signature: %v (headers %v)", hit.verified, hit.header)
	}
	callID, _ := res["call_id"].(string)
	if !strings.HasPrefix(callID, "teste_") || !domain.ValidID(callID) {
		t.Fatalf("call_id %q", callID)
	}
	if res["webhook_id"] != hit.header.Get("webhook-id") || res["webhook_id"] != "msg_"+callID {
		t.Errorf("webhook_id %v, sent %q", res["webhook_id"], hit.header.Get("webhook-id"))
	}
	if res["status_code"] != float64(http.StatusAccepted) || res["error"] != "" {
		t.Errorf("status_code %v, error %q", res["status_code"], res["error"])
	}
	if d, ok := res["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("duration_ms %v", res["duration_ms"])
	}
	excerpt, _ := res["body_excerpt"].(string)
	if !strings.HasPrefix(answer, excerpt) || len(excerpt) > app.MaxTestCallExcerpt || len(excerpt) < app.MaxTestCallExcerpt-3 || !utf8.ValidString(excerpt) {
		t.Errorf("body_excerpt (%d bytes) is not the answer's start, cut on a character: %q", len(excerpt), excerpt)
	}

	var body map[string]any
	if err := json.Unmarshal(hit.body, &body); err != nil {
		t.Fatalf("the test call is not JSON: %v\n%s", err, hit.body)
	}
	if body["teste"] != true || body["idligacao"] != callID {
		t.Errorf("teste %v, idligacao %v (want %s)", body["teste"], body["idligacao"], callID)
	}
	if body["nome"] != "Lead de teste" || body["modo_discagem"] != "telefone" {
		t.Errorf("nome %v, modo_discagem %v", body["nome"], body["modo_discagem"])
	}
	if a, _ := body["acionador"].(map[string]any); a["tipo"] != "gestor" || a["id"] != "admin" {
		t.Errorf("acionador %v, want the actor", body["acionador"])
	}
	for _, owner := range []string{"gestor", "corretor", "imobiliaria"} {
		if o, _ := body[owner].(map[string]any); o["id"] == nil || o["nome"] == nil {
			t.Errorf("%s: %v, want a sample owner", owner, body[owner])
		}
	}
	if cb, _ := body["call-back do lead"].(string); !strings.HasSuffix(cb, "?idligacao="+callID) {
		t.Errorf("call-back do lead %q", cb)
	}
	testKeys := slices.Sorted(maps.Keys(body))

	// In the monitor: outbound, under the call id, the body as sent, the
	// signature redacted.
	list := r.ok(r.get(testCallEnv + "/monitor/exchanges?call_id=" + callID))
	items, _ := list["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("monitor items for %s: %v", callID, list)
	}
	ex := items[0].(map[string]any)
	if ex["direction"] != "out" || ex["call_id"] != callID || ex["status_code"] != float64(http.StatusAccepted) ||
		ex["url"] != r.partner.srv.URL+"/ligar" || ex["lead_id"] != nil || ex["error"] != nil || ex["id"] != res["exchange_id"] {
		t.Errorf("exchange %v", ex)
	}
	detail := r.ok(r.get(testCallEnv + "/monitor/exchanges/" + ex["id"].(string)))
	if detail["request_body"] != string(hit.body) || detail["response_body"] != answer {
		t.Errorf("exchange bodies: %v / %v", detail["request_body"], detail["response_body"])
	}
	if h, _ := detail["request_headers"].(map[string]any); h == nil || !slices.Equal(toStrings(h["Webhook-Signature"]), []string{domain.Redacted}) ||
		!slices.Equal(toStrings(h["Webhook-Id"]), []string{"msg_" + callID}) {
		t.Errorf("exchange headers %v", detail["request_headers"])
	}

	// Every key of a real call, and teste besides.
	real := r.realCallKeys()
	if want := slices.Sorted(slices.Values(append(slices.Clone(real), "teste"))); !slices.Equal(testKeys, want) {
		t.Errorf("test call keys %v\nreal call keys %v (and teste)", testKeys, real)
	}
	if slices.Contains(real, "teste") {
		t.Error("a real call carries teste")
	}
}

func toStrings(v any) []string {
	var out []string
	vs, _ := v.([]any)
	for _, s := range vs {
		out = append(out, s.(string))
	}
	return out
}

// A partner's refusal is its status with no error; a partner that does not
// answer is status 0 with the connection error. Both are answers of the
// test call, not failures of the request, and both land in the monitor.
func testCallReportsAnswers(t *testing.T, r *testCallRig) {
	t.Helper()
	r.partner.answer(http.StatusUnauthorized, `{"erro": "assinatura inválida"}`)
	res := r.ok(r.testCall("admin"))
	r.partner.next()
	if res["status_code"] != float64(http.StatusUnauthorized) || res["error"] != "" || res["body_excerpt"] != `{"erro": "assinatura inválida"}` {
		t.Errorf("a refusing partner: %v", res)
	}
	ex := r.ok(r.get(testCallEnv + "/monitor/exchanges/" + res["exchange_id"].(string)))
	if ex["error"] != "partner answered 401" || ex["call_id"] != res["call_id"] {
		t.Errorf("a refusal in the monitor: %v", ex)
	}

	// The partner goes down: its URL now refuses connections.
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL + "/ligar"
	down.Close()
	r.ok(r.put(testCallEnv+"/telephony/call-connect", map[string]any{"actor_id": "admin", "partner_url": downURL, "dial_mode": "phone"}))
	res = r.ok(r.testCall("admin"))
	if res["status_code"] != float64(0) || res["error"] == "" || res["body_excerpt"] != "" || !strings.HasPrefix(res["call_id"].(string), "teste_") {
		t.Errorf("a partner that is down: %v", res)
	}
	ex = r.ok(r.get(testCallEnv + "/monitor/exchanges/" + res["exchange_id"].(string)))
	if ex["status_code"] != nil || ex["error"] != res["error"] || ex["url"] != downURL {
		t.Errorf("a partner that is down, in the monitor: %v", ex)
	}
	r.ok(r.put(testCallEnv+"/telephony/call-connect", map[string]any{"actor_id": "admin", "partner_url": r.partner.srv.URL + "/ligar", "dial_mode": "phone"}))
}

// The test call takes the permission configuring the integration takes;
// refused, it sends nothing and records nothing.
func testCallIsRefusedWithoutPermission(t *testing.T, r *testCallRig) {
	t.Helper()
	before := r.partner.hits.Load()
	exchanges := len(r.ok(r.get(testCallEnv + "/monitor/exchanges?limit=200"))["items"].([]any))
	wantProblem(t, r.testCall("corretor"), http.StatusForbidden, "permission_denied", "body.actor_id")
	wantProblem(t, r.testCall("nobody"), http.StatusUnprocessableEntity, "actor_not_found", "body.actor_id")
	wantProblem(t, r.testCall("not an id"), http.StatusUnprocessableEntity, "validation_failed", "body.actor_id")
	wantProblem(t, r.post("/v1/environments/nowhere/telephony/call-connect/test", map[string]any{"actor_id": "admin"}),
		http.StatusNotFound, "environment_not_found", "path.env")
	if n := r.partner.hits.Load(); n != before {
		t.Errorf("refused test calls reached the partner: %d requests", n-before)
	}
	if n := len(r.ok(r.get(testCallEnv + "/monitor/exchanges?limit=200"))["items"].([]any)); n != exchanges {
		t.Errorf("refused test calls were recorded: %d exchanges, had %d", n, exchanges)
	}
}

// Without an integration the test call is the not-found every integration
// operation answers; with Call Connect withdrawn by support it is refused
// as configuring it is.
func TestTestCallNeedsTheIntegration(t *testing.T) {
	r := newTestCallRig(t, memory.NewStore(), webhook.Config{AllowPrivate: true})
	other := "/v1/environments/other"
	r.ok(r.put(other, map[string]any{"name": "Outra", "public_base_url": "https://other.crm.example.com", "call_connect_enabled": true}))
	r.ok(r.put(other+"/users/admin", map[string]any{"name": "Admin", "role": "manager", "can_manage_integrations": true}))
	wantProblem(t, r.post(other+"/telephony/call-connect/test", map[string]any{"actor_id": "admin"}),
		http.StatusNotFound, "integration_not_found", "")

	r.ok(r.put(testCallEnv, map[string]any{"name": "Acme Imóveis", "public_base_url": "https://acme.crm.example.com", "call_connect_enabled": false}))
	wantProblem(t, r.testCall("admin"), http.StatusForbidden, "feature_not_enabled", "")
	if n := r.partner.hits.Load(); n != 0 {
		t.Errorf("refused test calls reached the partner: %d requests", n)
	}
}

// A partner URL the delivery client's address guard refuses is reported
// in error, as a real delivery reports it, not as a server error; nothing
// reaches the partner.
func TestTestCallToARefusedAddress(t *testing.T) {
	r := newTestCallRig(t, memory.NewStore(), webhook.Config{AllowPrivate: false})
	res := r.ok(r.testCall("admin"))
	errText, _ := res["error"].(string)
	if res["status_code"] != float64(0) || !strings.Contains(errText, ports.ErrBlockedDestination.Error()) {
		t.Errorf("a refused address: %v", res)
	}
	if n := r.partner.hits.Load(); n != 0 {
		t.Errorf("the refused partner received %d requests", n)
	}
	ex := r.ok(r.get(testCallEnv + "/monitor/exchanges/" + res["exchange_id"].(string)))
	if ex["error"] != errText || ex["call_id"] != res["call_id"] {
		t.Errorf("a refused address, in the monitor: %v", ex)
	}
}
