package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"

	"callconnect/adapters/cvio"
	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// partnerFunc is a partner client that answers with a function.
type partnerFunc func(ports.PartnerRequest) ports.PartnerResponse

func (f partnerFunc) Deliver(_ context.Context, req ports.PartnerRequest) ports.PartnerResponse {
	return f(req)
}

// testCallFixture is an environment with a configured, inactive Call
// Connect integration, and the calls service over partner.
func testCallFixture(t *testing.T, partner ports.PartnerClient) (*fixture, *app.Calls) {
	t.Helper()
	f := newFixture(t)
	must(t)(f.tel.PutIntegration(context.Background(), "acme", domain.ProviderCallConnect, "admin",
		domain.IntegrationSettings{PartnerURL: "https://partner.example.com/calls", DialMode: "extension"}))
	return f, app.NewCalls(f.store, f.clock, memory.NewRandom(9), partner, cvio.Payloads{}, app.CallsConfig{})
}

// Whoever sends it, the test call is a sample lead with its three owners,
// the actor in the slot of its role and named as the acionador, as on a
// real click; nothing is stored but the monitor's exchange.
func TestTestCallActorTakesItsSlot(t *testing.T) {
	var sent []ports.PartnerRequest
	f, calls := testCallFixture(t, partnerFunc(func(req ports.PartnerRequest) ports.PartnerResponse {
		sent = append(sent, req)
		return ports.PartnerResponse{StatusCode: 204}
	}))
	ctx := context.Background()
	for _, tc := range []struct {
		user       domain.UserInput
		slot, tipo string
	}{
		{domain.UserInput{ID: "g", Name: "Gestora", Role: "manager", Extension: "11"}, "gestor", "gestor"},
		{domain.UserInput{ID: "c", Name: "Corretor", Role: "broker", Extension: "12"}, "corretor", "corretor"},
		{domain.UserInput{ID: "i", Name: "Imobiliária", Role: "agency"}, "imobiliaria", "imobiliaria"},
		{domain.UserInput{ID: "u", Name: "Atendente", Role: "agency_user", AgencyID: "i"}, "imobiliaria", "imobiliaria"},
	} {
		tc.user.EnvID, tc.user.CanManageIntegrations = "acme", true
		must(t)(f.config.PutUser(ctx, tc.user))
		res, err := calls.SendTestCall(ctx, "acme", tc.user.ID)
		if err != nil {
			t.Fatalf("%s: %v", tc.user.Role, err)
		}
		req := sent[len(sent)-1]
		var body map[string]any
		if err := json.Unmarshal(req.Body, &body); err != nil {
			t.Fatal(err)
		}
		acionador, _ := body["acionador"].(map[string]any)
		slot, _ := body[tc.slot].(map[string]any)
		if acionador["tipo"] != tc.tipo || acionador["id"] != tc.user.ID || slot["id"] != tc.user.ID || slot["nome"] != tc.user.Name {
			t.Errorf("%s: acionador %v, %s %v", tc.user.Role, acionador, tc.slot, slot)
		}
		for _, other := range []string{"gestor", "corretor", "imobiliaria"} {
			if o, _ := body[other].(map[string]any); other != tc.slot && (o["nome"] == nil || o["ramal"] == nil) {
				t.Errorf("%s: the sample owner %s is %v", tc.user.Role, other, o)
			}
		}
		if body["teste"] != true || body["idligacao"] != res.CallID || body["modo_discagem"] != "ramal" || body["nome"] != "Lead de teste" ||
			req.WebhookID != res.WebhookID || req.URL != "https://partner.example.com/calls" || len(req.Secrets) != 1 {
			t.Errorf("%s: request %+v, body %v", tc.user.Role, req, body)
		}
		if res.StatusCode != 204 || res.Error != "" {
			t.Errorf("%s: %+v", tc.user.Role, res)
		}
	}
	err := f.store.Read(ctx, func(ctx context.Context, r ports.Repositories) error {
		calls, err := r.ListCalls(ctx, "acme", ports.CallFilter{Limit: 10})
		if err != nil || len(calls) != 0 {
			t.Errorf("test calls stored calls: %d (%v)", len(calls), err)
		}
		ex, err := r.ListExchanges(ctx, "acme", domain.ExchangeFilter{Direction: domain.Outbound}, domain.ExchangeCursor{}, 10)
		if err != nil || len(ex) != 4 {
			t.Errorf("want 4 exchanges, got %d (%v)", len(ex), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The excerpt of any answer is its start, cut on a character, as text:
// at most MaxTestCallExcerpt bytes of a UTF-8 answer, and all of a short one.
func TestTestCallExcerptIsTheAnswersStart(t *testing.T) {
	var answer []byte
	_, calls := testCallFixture(t, partnerFunc(func(ports.PartnerRequest) ports.PartnerResponse {
		return ports.PartnerResponse{StatusCode: 200, Body: answer}
	}))
	rapid.Check(t, func(t *rapid.T) {
		if rapid.Bool().Draw(t, "text") {
			answer = []byte(rapid.StringN(0, 400, -1).Draw(t, "answer"))
		} else {
			answer = rapid.SliceOfN(rapid.Byte(), 0, 1200).Draw(t, "answer")
		}
		res, err := calls.SendTestCall(context.Background(), "acme", "admin")
		if err != nil {
			t.Fatal(err)
		}
		e := res.BodyExcerpt
		if !utf8.ValidString(e) {
			t.Fatalf("excerpt %q is not UTF-8", e)
		}
		if !utf8.Valid(answer) {
			return
		}
		switch {
		case !strings.HasPrefix(string(answer), e):
			t.Fatalf("excerpt %q is not the start of %q", e, answer)
		case len(answer) <= app.MaxTestCallExcerpt && e != string(answer):
			t.Fatalf("a short answer was cut: %q of %q", e, answer)
		case len(e) > app.MaxTestCallExcerpt || len(answer) > app.MaxTestCallExcerpt && len(e) < app.MaxTestCallExcerpt-utf8.UTFMax+1:
			t.Fatalf("excerpt of %d bytes of an answer of %d", len(e), len(answer))
		}
	})
}

// Refused, a test call sends nothing: the permission and the support
// switch that configuring takes, a configured integration, a known actor.
func TestTestCallRefusals(t *testing.T) {
	sent := 0
	f, calls := testCallFixture(t, partnerFunc(func(ports.PartnerRequest) ports.PartnerResponse {
		sent++
		return ports.PartnerResponse{StatusCode: 200}
	}))
	ctx := context.Background()
	must(t)(f.config.PutUser(ctx, domain.UserInput{EnvID: "acme", ID: "c", Name: "Corretor", Role: "broker"}))
	must(t)(f.config.PutEnvironment(ctx, domain.EnvironmentInput{ID: "bare", Name: "Bare", PublicBaseURL: "https://bare.example.com", CallConnectEnabled: true}))
	must(t)(f.config.PutUser(ctx, domain.UserInput{EnvID: "bare", ID: "admin", Name: "Admin", Role: "manager", CanManageIntegrations: true}))

	_, err := calls.SendTestCall(ctx, "acme", "c")
	wantCode(t, err, domain.KindForbidden, domain.CodePermissionDenied)
	_, err = calls.SendTestCall(ctx, "acme", "nobody")
	wantCode(t, err, domain.KindInvalid, domain.CodeActorNotFound)
	_, err = calls.SendTestCall(ctx, "nowhere", "admin")
	wantCode(t, err, domain.KindNotFound, domain.CodeEnvironmentNotFound)
	_, err = calls.SendTestCall(ctx, "bare", "admin")
	wantCode(t, err, domain.KindNotFound, domain.CodeIntegrationNotFound)
	must(t)(f.config.PutEnvironment(ctx, domain.EnvironmentInput{ID: "acme", Name: "Acme", PublicBaseURL: "https://acme.example.com"}))
	_, err = calls.SendTestCall(ctx, "acme", "admin")
	wantCode(t, err, domain.KindForbidden, domain.CodeFeatureNotEnabled)
	if sent != 0 {
		t.Fatalf("refused test calls sent %d requests", sent)
	}
}
