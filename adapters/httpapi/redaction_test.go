package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/cvio"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/memory"
	"callconnect/adapters/webhook"
	"callconnect/app"
	"callconnect/domain"
)

// redactionRig is the callback rig with the real delivery client posting to
// a partner on loopback, which records the request URIs it is sent.
type redactionRig struct {
	*callbackRig
	calls    *app.Calls
	server   *httptest.Server // the partner
	mu       sync.Mutex
	received []string // request URIs the partner got
}

func newRedactionRig(t *testing.T) *redactionRig {
	t.Helper()
	rr := &redactionRig{}
	rr.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rr.mu.Lock()
		rr.received = append(rr.received, r.URL.RequestURI())
		rr.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(rr.server.Close)
	store := memory.NewStore()
	audio, err := audiostore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clock, random := memory.NewClock(t0), memory.NewRandom(7)
	dev := domain.URLPolicy{AllowHTTP: true, AllowPrivate: true}
	delivery := webhook.New(webhook.Config{AllowPrivate: true, Timeout: 5 * time.Second})
	t.Cleanup(delivery.CloseIdleConnections)
	svc := httpapi.Services{
		Configuration: app.NewConfiguration(store),
		Telephony:     app.NewTelephony(store, clock, random, dev),
		CallButtons:   app.NewCallButtons(store),
		Calls: app.NewCalls(store, clock, random, delivery, cvio.Payloads{},
			app.CallsConfig{DispatchDeadline: dispatchDeadline, RetryMinBackoff: time.Second}),
		PartnerTokens: app.NewPartnerTokens(store, clock, random),
		Callbacks:     app.NewCallbacks(store, clock, random, audio, cvio.Receipts{}, app.CallbacksConfig{}, nil),
		Monitor:       app.NewMonitor(store, random, nil),
	}
	h := httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{})
	rr.callbackRig = &callbackRig{client: &client{t: t, handler: h, token: adminToken}, store: store, audio: audio}
	rr.setUp()
	rr.calls = svc.Calls
	return rr
}

// deliver delivers every call waiting, as the job queue would.
func (rr *redactionRig) deliver() {
	rr.t.Helper()
	for _, d := range rr.store.TakeDeliveries() {
		if _, err := rr.calls.Deliver(context.Background(), d.EnvID, d.CallID); err != nil {
			rr.t.Fatal(err)
		}
	}
}

// exchangeBody is the raw body of GET …/monitor/exchanges/{id}.
func (rr *redactionRig) exchangeBody(id string) string {
	rr.t.Helper()
	res := rr.get(env + "/monitor/exchanges/" + id)
	if res.Status != http.StatusOK {
		rr.t.Fatalf("exchange %s: %s", id, res)
	}
	return string(res.Body)
}

// wantNone fails when text shows any of secrets.
func wantNone(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s shows the secret %q: %s", what, s, text)
		}
	}
}

// A secret in the partner URL's query reaches the partner, and only the
// partner: the integration's view and the monitor show it redacted, and
// the view's URL sent back keeps it.
func TestPartnerURLSecretIsDeliveredButNotShown(t *testing.T) {
	rr := newRedactionRig(t)
	const secret = "s3cr3t-in-the-partner-url"
	real := rr.server.URL + "/calls?cliente=7&secret=" + secret
	shownURL := rr.server.URL + "/calls?cliente=7&secret=" + domain.Redacted

	put := rr.put(env+"/telephony/call-connect", map[string]any{"actor_id": "admin", "partner_url": real, "dial_mode": "phone"})
	wantNone(t, "the PUT's answer", string(put.Body), secret)
	if got := rr.ok(put)["partner_url"]; got != shownURL {
		t.Errorf("the PUT answers partner_url %v, want %s", got, shownURL)
	}
	list := rr.get(env + "/telephony")
	wantNone(t, "the integrations' list", string(list.Body), secret)
	// The view's URL sent back, as a client that read it would: unchanged.
	rr.ok(rr.put(env+"/telephony/call-connect", map[string]any{"actor_id": "admin", "partner_url": shownURL, "dial_mode": "phone"}))

	callID := rr.placeCall("1")
	rr.deliver()
	rr.mu.Lock()
	received := append([]string(nil), rr.received...)
	rr.mu.Unlock()
	if len(received) != 1 || received[0] != "/calls?cliente=7&secret="+secret {
		t.Fatalf("the partner received %q, want the real URL's /calls?cliente=7&secret=%s", received, secret)
	}

	items, _ := rr.exchanges("direction=out&call_id=" + callID)
	if len(items) != 1 {
		t.Fatalf("deliveries in the monitor: %v", items)
	}
	if items[0]["url"] != shownURL || items[0]["status_code"] != float64(200) {
		t.Errorf("the delivery in the monitor: %v", items[0])
	}
	wantNone(t, "the monitor's list", string(rr.get(env+"/monitor/exchanges").Body), secret)
	wantNone(t, "the delivery's exchange", rr.exchangeBody(items[0]["id"].(string)), secret)
}

// A callback's secret query parameters and headers, named any way that says
// token, key, secret, signature or password, appear nowhere in the stored
// exchange, accepted or refused; a refused one keeps only the safe headers.
func TestCallbackSecretsNeverReachTheMonitor(t *testing.T) {
	rr := newRedactionRig(t)
	callID := rr.placeCall("1")
	rr.deliver()
	secrets := []string{"s3cr3t-query-token", "s3cr3t-query-apikey", "s3cr3t-x-api-key", "s3cr3t-x-partner-token",
		"s3cr3t-authorization", "s3cr3t-password", "s3cr3t-signature"}
	path := "/api/cvio/lead_tarefas/cadastrar?idligacao=" + callID + "&token=" + secrets[0] + "&api_key=" + secrets[1]
	headers := []string{"X-Api-Key", secrets[2], "X-Partner-Token", secrets[3], "Authorization", "Bearer " + secrets[4],
		"X-Password", secrets[5], "Webhook-Signature", "v1," + secrets[6], "Idempotency-Key", "retry-1"}
	rr.ok(rr.partner(path, contractTaskBody, headers...))

	wrongSecret := rr.token[:len(rr.token)-2] + "xx"
	wantProblem(t, rr.partner(path, contractTaskBody, append([]string{"token", wrongSecret}, headers...)...),
		http.StatusUnauthorized, "unauthorized", "header.token")

	items, _ := rr.exchanges("direction=in")
	if got := summaries(items); got != "in 401, in 200" {
		t.Fatalf("callbacks in the monitor: [%s]", got)
	}
	for _, it := range items {
		body := rr.exchangeBody(it["id"].(string))
		wantNone(t, fmt.Sprintf("the %v callback's exchange", it["status_code"]), body,
			append(secrets, rr.token, wrongSecret, partnerEmail)...)
		wantURL := "/api/cvio/lead_tarefas/cadastrar?idligacao=" + callID + "&token=" + domain.Redacted + "&api_key=" + domain.Redacted
		if it["url"] != wantURL {
			t.Errorf("the %v callback's url: %v, want %s", it["status_code"], it["url"], wantURL)
		}
	}

	accepted := rr.ok(rr.get(env + "/monitor/exchanges/" + items[1]["id"].(string)))["request_headers"].(map[string]any)
	for name, want := range map[string]string{"X-Api-Key": domain.Redacted, "X-Partner-Token": domain.Redacted, "Authorization": domain.Redacted,
		"X-Password": domain.Redacted, "Webhook-Signature": domain.Redacted, "Token": domain.Redacted, "Email": domain.Redacted,
		"Idempotency-Key": "retry-1"} {
		if v, _ := accepted[name].([]any); len(v) != 1 || v[0] != want {
			t.Errorf("the accepted callback's %s header: %v, want %q", name, accepted[name], want)
		}
	}
	refused := rr.ok(rr.get(env + "/monitor/exchanges/" + items[0]["id"].(string)))["request_headers"].(map[string]any)
	for name := range refused {
		switch name {
		case "Content-Type", "Content-Length", "User-Agent", "Idempotency-Key", "Accept", "Content-Encoding", "Traceparent":
		default:
			t.Errorf("the refused callback keeps the header %s: %v", name, refused)
		}
	}
	if v, _ := refused["Idempotency-Key"].([]any); len(v) != 1 || v[0] != "retry-1" {
		t.Errorf("the refused callback's Idempotency-Key: %v", refused)
	}
}

// Whoever knows a token's id (it is no secret) can have callbacks refused
// in its environment's name: the monitor keeps only the first
// MaxRefusedPerMinute of them a minute, and the partner's valid callbacks
// are kept all the same.
func TestRefusedCallbacksKeptAtMostPerTokenAMinute(t *testing.T) {
	rr := newRedactionRig(t)
	wrongSecret := rr.token[:len(rr.token)-2] + "xx"
	for range app.MaxRefusedPerMinute + 15 {
		wantProblem(t, rr.partner("/api/cvio/lead_tarefas/cadastrar", contractTaskBody, "token", wrongSecret),
			http.StatusUnauthorized, "unauthorized", "header.token")
	}
	rr.ok(rr.partner("/api/cvio/lead_tarefas/cadastrar", contractTaskBody))
	refused, _ := rr.exchanges(url.Values{"status": {"401"}, "limit": {"200"}}.Encode())
	if len(refused) != app.MaxRefusedPerMinute {
		t.Errorf("%d refused callbacks of one token in the monitor, want %d", len(refused), app.MaxRefusedPerMinute)
	}
	if ok, _ := rr.exchanges("status=200&direction=in"); len(ok) != 1 {
		t.Errorf("the valid callback after the flood: %d in the monitor", len(ok))
	}
}
