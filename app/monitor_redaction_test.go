package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
)

// An accepted callback keeps its headers, the secret ones redacted by the
// rule on their names, and its URL with its secret query values redacted.
func TestMonitorRedactsAcceptedCallbacksByRule(t *testing.T) {
	f := newFixture(t)
	m := app.NewMonitor(f.store, memory.NewRandom(1), nil)
	ctx := context.Background()
	secrets := []string{"s3cr3t-q-token", "s3cr3t-q-apikey", "s3cr3t-h-apikey", "s3cr3t-h-partner", "cct_abc_s3cr3t-token", "s3cr3t-sig"}
	m.RecordInbound(ctx, domain.Exchange{EnvID: "acme", Method: "POST", StatusCode: 200, OccurredAt: t0,
		URL: "/api/cvio/lead?idligacao=c1&token=s3cr3t-q-token&api_key=s3cr3t-q-apikey",
		RequestHeaders: map[string][]string{
			"x-api-key": {"s3cr3t-h-apikey"}, "X-Partner-Token": {"s3cr3t-h-partner"}, "Token": {"cct_abc_s3cr3t-token"},
			"Webhook-Signature": {"s3cr3t-sig"}, "Idempotency-Key": {"k-1"}, "User-Agent": {"curl/8"},
		}})
	page, err := m.ListExchanges(ctx, "acme", app.ExchangeFilter{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("ListExchanges: %v, %v", page, err)
	}
	got, err := m.GetExchange(ctx, "acme", page.Items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	shown := fmt.Sprintf("%+v", got)
	for _, s := range secrets {
		if strings.Contains(shown, s) {
			t.Errorf("the stored exchange shows %q: %s", s, shown)
		}
	}
	if want := "/api/cvio/lead?idligacao=c1&token=[redacted]&api_key=[redacted]"; got.URL != want {
		t.Errorf("url %q, want %q", got.URL, want)
	}
	for name, want := range map[string]string{"X-Api-Key": domain.Redacted, "X-Partner-Token": domain.Redacted, "Token": domain.Redacted,
		"Webhook-Signature": domain.Redacted, "Idempotency-Key": "k-1", "User-Agent": "curl/8"} {
		if v := got.RequestHeaders[name]; len(v) != 1 || v[0] != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
}

// Refused requests are kept at most MaxRefusedPerMinute a minute per token
// id, each with the safe headers only; another token id, an accepted
// request, and the next minute are not held back.
func TestMonitorLimitsRefusedRequestsPerToken(t *testing.T) {
	f := newFixture(t)
	m := app.NewMonitor(f.store, memory.NewRandom(1), nil)
	ctx := context.Background()
	refused := func(tokenID string, at time.Time) {
		m.RecordInbound(ctx, domain.Exchange{EnvID: "acme", Method: "POST", URL: "/api/cvio/lead", StatusCode: 401, OccurredAt: at,
			RequestHeaders: map[string][]string{"Token": {"cct_" + tokenID + "_wrongsecret"}, "Email": {"p@example.com"},
				"X-Junk": {strings.Repeat("j", 1000)}, "User-Agent": {strings.Repeat("u", 1000)}}})
	}
	count := func(status string) int {
		t.Helper()
		page, err := m.ListExchanges(ctx, "acme", app.ExchangeFilter{Status: status, Limit: domain.MaxExchangePage})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Items)
	}
	for i := range 3 * app.MaxRefusedPerMinute {
		refused("tok-a", t0.Add(time.Duration(i)*time.Millisecond))
	}
	if n := count("401"); n != app.MaxRefusedPerMinute {
		t.Fatalf("%d refused requests of one token kept within a minute, want %d", n, app.MaxRefusedPerMinute)
	}
	refused("tok-b", t0.Add(time.Second))
	m.RecordInbound(ctx, domain.Exchange{EnvID: "acme", Method: "POST", URL: "/api/cvio/lead", StatusCode: 200, OccurredAt: t0.Add(time.Second),
		RequestHeaders: map[string][]string{"Token": {"cct_tok-a_rightsecret"}}})
	if n, ok := count("401"), count("200"); n != app.MaxRefusedPerMinute+1 || ok != 1 {
		t.Fatalf("another token's refusal and an accepted request: %d refused, %d accepted kept", n, ok)
	}
	refused("tok-a", t0.Add(time.Minute))
	if n := count("401"); n != app.MaxRefusedPerMinute+2 {
		t.Fatalf("the next minute: %d refused kept, want %d", n, app.MaxRefusedPerMinute+2)
	}

	page, err := m.ListExchanges(ctx, "acme", app.ExchangeFilter{Status: "401", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.GetExchange(ctx, "acme", page.Items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.RequestHeaders) != 1 || len(got.RequestHeaders["User-Agent"]) != 1 ||
		got.RequestHeaders["User-Agent"][0] != strings.Repeat("u", domain.MaxRefusedHeaderValue)+domain.TruncatedMarker {
		t.Errorf("a refused request keeps %v", got.RequestHeaders)
	}
}
