package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"callconnect/adapters/console"
	"callconnect/domain"
)

// The overview shows the partner URL with its secret query values
// redacted, and its form, sent back as shown, keeps the real URL.
func TestOverviewShowsThePartnerURLRedacted(t *testing.T) {
	f := newFixture(t, console.Config{})
	ctx := context.Background()
	if _, err := f.svc.Configuration.PutUser(ctx, domain.UserInput{EnvID: "acme", ID: "admin", Name: "Admin", Role: "manager",
		CanManageIntegrations: true}); err != nil {
		t.Fatal(err)
	}
	const secret = "s3cr3t-of-the-partner"
	real := "https://partner.example.com/calls?cliente=7&api_key=" + secret
	if _, err := f.svc.Telephony.PutIntegration(ctx, "acme", domain.ProviderCallConnect, "admin",
		domain.IntegrationSettings{PartnerURL: real, DialMode: "phone"}); err != nil {
		t.Fatal(err)
	}
	_, csrf := f.signIn(token)
	page := html.UnescapeString(text(t, f.do("GET", "/console/env/acme/", nil)))
	if strings.Contains(page, secret) {
		t.Fatalf("the overview shows the partner URL's secret:\n%s", page)
	}
	shown := "https://partner.example.com/calls?cliente=7&api_key=" + domain.Redacted
	if !strings.Contains(page, shown) {
		t.Fatalf("the overview does not show %s:\n%s", shown, page)
	}

	// The form as the overview filled it, sent back with another dial mode.
	res := f.do("POST", "/console/env/acme/call-connect", url.Values{"csrf": {csrf}, "actor_id": {"admin"},
		"partner_url": {shown}, "dial_mode": {"extension"}}, "Origin", "http://console.test")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("configure: %d\n%s", res.StatusCode, text(t, res))
	}
	list, err := f.svc.Telephony.ListIntegrations(ctx, "acme")
	if err != nil || len(list) != 1 {
		t.Fatalf("integrations: %v, %v", list, err)
	}
	if list[0].PartnerURL() != real || list[0].DialMode() != domain.DialByExtension {
		t.Errorf("after the form came back: %q %q, want %q extension", list[0].PartnerURL(), list[0].DialMode(), real)
	}
}
