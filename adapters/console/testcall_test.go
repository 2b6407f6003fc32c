package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"callconnect/adapters/console"
	"callconnect/adapters/cvio"
	"callconnect/adapters/memory"
	"callconnect/adapters/webhook"
	"callconnect/app"
	"callconnect/domain"
)

// newTestCallFixture is newFixture with the real delivery client (loopback
// allowed) behind the calls, an integration manager and a broker, and a
// Call Connect integration, inactive, aimed at partnerURL.
func newTestCallFixture(t *testing.T, partnerURL string) *fixture {
	t.Helper()
	store := memory.NewStore()
	clock := memory.NewClock(t0)
	random := memory.NewRandom(1)
	client := webhook.New(webhook.Config{AllowPrivate: true})
	t.Cleanup(client.CloseIdleConnections)
	svc := console.Services{
		Configuration: app.NewConfiguration(store),
		Telephony:     app.NewTelephony(store, clock, random, domain.URLPolicy{AllowHTTP: true, AllowPrivate: true}),
		CallButtons:   app.NewCallButtons(store),
		Calls:         app.NewCalls(store, clock, random, client, cvio.Payloads{}, app.CallsConfig{}),
		PartnerTokens: app.NewPartnerTokens(store, clock, random),
		Monitor:       app.NewMonitor(store, random, nil),
	}
	ctx := context.Background()
	if _, err := svc.Configuration.PutEnvironment(ctx, domain.EnvironmentInput{ID: "acme", Name: "Acme",
		PublicBaseURL: "https://acme.example.com", CallConnectEnabled: true}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []domain.UserInput{
		{EnvID: "acme", ID: "admin", Name: "Admin", Role: "manager", CanManageIntegrations: true},
		{EnvID: "acme", ID: "c1", Name: "Corretor", Role: "broker"},
	} {
		if _, err := svc.Configuration.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Telephony.PutIntegration(ctx, "acme", domain.ProviderCallConnect, "admin",
		domain.IntegrationSettings{PartnerURL: partnerURL, DialMode: "phone"}); err != nil {
		t.Fatal(err)
	}
	cfg := console.Config{AdminToken: token, Now: clock.Now, Logger: slog.New(slog.DiscardHandler), Sessions: memory.NewConsoleSessions()}
	return &fixture{t: t, clock: clock, svc: svc, tokens: svc.PartnerTokens, handler: console.New(cfg, svc), cookies: map[string]*http.Cookie{}}
}

// The overview's "Enviar ligação de teste" button posts, with the session's CSRF
// token and the manager picked, and the page shows the partner's answer.
func TestOverviewSendsATestCall(t *testing.T) {
	var (
		hits atomic.Int32
		got  = make(chan string, 4)
	)
	partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hits.Add(1)
		got <- string(body)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"erro": "assinatura <inválida>"}`)
	}))
	defer partner.Close()
	f := newTestCallFixture(t, partner.URL+"/ligar")
	_, csrf := f.signIn(token)

	page := text(t, f.do("GET", "/console/env/acme/", nil))
	form := regexp.MustCompile(`(?s)<form method="post" action="/console/env/acme/call-connect/test".*?</form>`).FindString(page)
	if !strings.Contains(form, `name="csrf"`) || !strings.Contains(form, `<option value="admin"`) || !strings.Contains(form, "Enviar ligação de teste") {
		t.Fatalf("no test call form with the CSRF token and the managers on the overview:\n%s", page)
	}

	// Refused: a user without the permission; nothing is sent.
	res := f.do("POST", "/console/env/acme/call-connect/test", url.Values{"csrf": {csrf}, "actor_id": {"c1"}})
	if body := text(t, res); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "não tem a permissão de gerenciar integrações (actor_id)") ||
		strings.Contains(body, `id="test-call-result"`) {
		t.Fatalf("a test call by a broker: %d\n%s", res.StatusCode, body)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("a refused test call reached the partner: %d requests", n)
	}

	res = f.do("POST", "/console/env/acme/call-connect/test", url.Values{"csrf": {csrf}, "actor_id": {"admin"}})
	body := text(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("a test call: %d\n%s", res.StatusCode, body)
	}
	var sent string
	select {
	case sent = <-got:
	case <-t.Context().Done():
		t.Fatal("the partner received no test call")
	}
	if !strings.Contains(sent, `"teste":true`) || !strings.Contains(sent, `"idligacao":"teste_`) {
		t.Errorf("the partner received: %s", sent)
	}
	result := regexp.MustCompile(`(?s)<div id="test-call-result".*?</div>`).FindString(body)
	for _, want := range []string{
		"O parceiro respondeu 401",
		`<dd id="test-call-status">401</dd>`,
		`<code id="test-call-webhook-id">msg_teste_`,
		`<pre class="body" id="test-call-excerpt">{&#34;erro&#34;: &#34;assinatura &lt;inválida&gt;&#34;}</pre>`,
		`<a href="/console/env/acme/monitor/`,
		" ms</dd>",
	} {
		if !strings.Contains(result, want) {
			t.Errorf("the answer does not show %q:\n%s", want, result)
		}
	}
	// The link opens the exchange in the monitor.
	link := regexp.MustCompile(`<a href="(/console/env/acme/monitor/[^"]+)"`).FindStringSubmatch(result)
	if link == nil {
		t.Fatal("no link to the exchange")
	}
	if res := f.do("GET", link[1], nil); res.StatusCode != http.StatusOK || !strings.Contains(text(t, res), "teste_") {
		t.Errorf("the exchange page: %d", res.StatusCode)
	}

	// A partner that is down: the error shows, with no status.
	partner.Close()
	res = f.do("POST", "/console/env/acme/call-connect/test", url.Values{"csrf": {csrf}, "actor_id": {"admin"}})
	body = text(t, res)
	result = regexp.MustCompile(`(?s)<div id="test-call-result".*?</div>`).FindString(body)
	if res.StatusCode != http.StatusOK || !strings.Contains(result, "Nenhuma resposta do parceiro") ||
		!strings.Contains(result, `<dd id="test-call-status">nenhum</dd>`) || !strings.Contains(result, `<dd id="test-call-error">`) {
		t.Errorf("a partner that is down: %d\n%s", res.StatusCode, result)
	}

	// Without the session's CSRF token the form is refused.
	if res := f.do("POST", "/console/env/acme/call-connect/test", url.Values{"actor_id": {"admin"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("a test call without the CSRF token: %d", res.StatusCode)
	}
}
