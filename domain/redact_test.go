package domain_test

import (
	"net/url"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"callconnect/domain"
)

func TestSecretName(t *testing.T) {
	for _, name := range []string{"token", "Token", "X-Api-Key", "x-api-key", "X-Partner-Token", "api_key", "apiKey", "access_token",
		"Authorization", "Proxy-Authorization", "webhook-signature", "X-Amz-Signature", "password", "db_passwd", "client_secret",
		"Cookie", "Set-Cookie", "session_id", "X-Amz-Credential", "sig", "Email", "X-Auth", "oauth_verifier", "KEY"} {
		if !domain.SecretName(name) {
			t.Errorf("SecretName(%q) = false", name)
		}
	}
	for _, name := range []string{"Idempotency-Key", "idempotency_key", "token_id", "Content-Type", "Content-Length", "User-Agent",
		"idligacao", "Webhook-Id", "Webhook-Timestamp", "Traceparent", "Accept", "design", "page", "cliente", "Keep-Alive"} {
		if domain.SecretName(name) {
			t.Errorf("SecretName(%q) = true", name)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://p.example.com/calls?secret=abc", "https://p.example.com/calls?secret=[redacted]"},
		{"/api/cvio/lead?idligacao=c1&token=t1&api_key=k1", "/api/cvio/lead?idligacao=c1&token=[redacted]&api_key=[redacted]"},
		{"https://p.example.com/calls?cliente=7", "https://p.example.com/calls?cliente=7"},
		{"https://p.example.com/calls", "https://p.example.com/calls"},
		{"https://p.example.com/x?Access_Token=a;sig=b&x=1", "https://p.example.com/x?Access_Token=[redacted];sig=[redacted]&x=1"},
		{"https://p.example.com/x?api%5Fkey=a&t%6Fken=b", "https://p.example.com/x?api%5Fkey=[redacted]&t%6Fken=[redacted]"},
		{"https://p.example.com/x?token=&token", "https://p.example.com/x?token=[redacted]&token"},
		{"https://p.example.com/x?a=1&&password=p%20q&", "https://p.example.com/x?a=1&&password=[redacted]&"},
		{"https://user:pw@p.example.com/x", "https://[redacted]@p.example.com/x"},
		{"https://p.example.com/x?next=https://u:p@q/", "https://p.example.com/x?next=https://u:p@q/"},
		{"https://p.example.com/cb#access_token=a&state=s", "https://p.example.com/cb#access_token=[redacted]&state=s"},
		{"", ""},
	} {
		if got := domain.RedactURL(c.in); got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRedactURLsIn(t *testing.T) {
	in := `Post "https://p.example.com/calls?secret=abc&x=1": dial tcp; see HTTP://q.example/?api_key=def then done`
	want := `Post "https://p.example.com/calls?secret=[redacted]&x=1": dial tcp; see HTTP://q.example/?api_key=[redacted] then done`
	if got := domain.RedactURLsIn(in); got != want {
		t.Errorf("RedactURLsIn:\n got %s\nwant %s", got, want)
	}
	if got := domain.RedactURLsIn("no url here, token=x"); got != "no url here, token=x" {
		t.Errorf("text without a URL changed: %q", got)
	}
}

func TestRedactHeaders(t *testing.T) {
	got := domain.RedactHeaders(map[string][]string{"x-partner-token": {"a"}, "X-Api-Key": {"b", "c"}, "Referer": {"https://r.example/?token=d"},
		"Content-Type": {"application/json"}, "Idempotency-Key": {"k"}})
	want := map[string]string{"X-Partner-Token": domain.Redacted, "X-Api-Key": domain.Redacted, "Referer": "https://r.example/?token=[redacted]",
		"Content-Type": "application/json", "Idempotency-Key": "k"}
	if len(got) != len(want) {
		t.Errorf("RedactHeaders = %v", got)
	}
	for k, v := range want {
		if len(got[k]) != 1 || got[k][0] != v {
			t.Errorf("header %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestRefusedRequestHeaders(t *testing.T) {
	got := domain.RefusedRequestHeaders(map[string][]string{"token": {"cct_a_b"}, "email": {"p@x"}, "authorization": {"Bearer x"},
		"X-Api-Key": {"k"}, "Cookie": {"c"}, "X-Forwarded-For": {"10.0.0.1"}, "content-type": {"application/json"},
		"Content-Length": {"12"}, "User-Agent": {"curl/8", "other"}, "Idempotency-Key": {"id-1"}})
	want := map[string]string{"Content-Type": "application/json", "Content-Length": "12", "User-Agent": "curl/8", "Idempotency-Key": "id-1"}
	if len(got) != len(want) {
		t.Errorf("RefusedRequestHeaders = %v, want %v", got, want)
	}
	for k, v := range want {
		if len(got[k]) != 1 || got[k][0] != v {
			t.Errorf("header %s = %q, want %q", k, got[k], v)
		}
	}
}

// TestPropertyRedactURL: whatever the parameters, their order and their
// separators, no value of a secret parameter survives, every other
// parameter is kept as it was, and redacting again changes nothing.
func TestPropertyRedactURL(t *testing.T) {
	names := []string{"token", "api_key", "X-Api-Key", "access_token", "secret", "signature", "password", "Authorization",
		"cliente", "idligacao", "page", "lang"}
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 8).Draw(t, "n")
		var pairs []string
		var hidden, kept []string
		for i := range n {
			name := rapid.SampledFrom(names).Draw(t, "name")
			value := "v" + rapid.StringMatching(`[A-Ya-z0-9_.~-]{0,12}`).Draw(t, "value") + "Z" + string(rune('a'+i))
			pair := url.QueryEscape(name) + "=" + value
			pairs = append(pairs, pair)
			if domain.SecretName(name) {
				hidden = append(hidden, "="+value)
			} else {
				kept = append(kept, pair)
			}
		}
		sep := rapid.SampledFrom([]string{"&", ";"}).Draw(t, "sep")
		raw := "https://p.example.com/calls?" + strings.Join(pairs, sep)
		got := domain.RedactURL(raw)
		for _, h := range hidden {
			if strings.Contains(got, h) {
				t.Fatalf("RedactURL(%q) = %q shows %q", raw, got, h)
			}
		}
		for _, k := range kept {
			if !strings.Contains(got, k) {
				t.Fatalf("RedactURL(%q) = %q lost %q", raw, got, k)
			}
		}
		if again := domain.RedactURL(got); again != got {
			t.Fatalf("redacting %q again gave %q", got, again)
		}
	})
}
