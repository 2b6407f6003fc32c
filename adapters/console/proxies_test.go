package console_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"callconnect/adapters/console"
	"callconnect/adapters/httpguard"
	"callconnect/adapters/memory"
)

// Strong admin tokens (32 random bytes each), as a deployment's must be.
const (
	tokenA = "wISLHmVAYrdDhi0r_NqG8rk2vcCAsetXtf-p6OU3WRo"
	tokenB = "9f2c4e6a8b0d1f3e5c7a9b1d3f5e7c9a1b3d5f7e9c1a3b5d7f9e1c3a5b7d9f1e"
	tokenC = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="
)

// fixtureRemote is the address the fixture's requests come from
// (httptest.NewRequest's).
const fixtureRemote = "192.0.2.1/32"

func proxies(t *testing.T, list string) httpguard.TrustedProxies {
	t.Helper()
	p, err := httpguard.ParseTrustedProxies(list)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// signInCookies gets the sign-in form and signs in with headers (name,
// value pairs) on both requests, and returns the cookies each answer set.
func (f *fixture) signInCookies(tok string, headers ...string) (form, session *http.Cookie) {
	f.t.Helper()
	res := f.do("GET", "/console/sign-in", nil, headers...)
	page := text(f.t, res)
	for _, c := range res.Cookies() {
		form = c
	}
	m := csrfField.FindStringSubmatch(page)
	if m == nil || form == nil {
		f.t.Fatalf("no sign-in form (%d):\n%s", res.StatusCode, page)
	}
	res = f.do("POST", "/console/sign-in", url.Values{"csrf": {m[1]}, "token": {tok}}, headers...)
	if res.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("signing in: %d", res.StatusCode)
	}
	for _, c := range res.Cookies() {
		if c.MaxAge > 0 {
			session = c
		}
	}
	if session == nil {
		f.t.Fatal("no session cookie")
	}
	return form, session
}

// The console's cookies are Secure whenever the browser reached the
// service over TLS: the public URL is https, or a trusted proxy that
// terminated TLS says so. A proxy that is not trusted is not believed.
func TestCookiesSecureBehindATLSProxy(t *testing.T) {
	for _, tc := range []struct {
		name      string
		publicURL string
		proxies   string
		headers   []string
		secure    bool
	}{
		{"plain http", "http://console.test", "", nil, false},
		{"an https public URL", "https://console.example.com", "", nil, true},
		{"a trusted proxy over TLS", "http://console.test", fixtureRemote, []string{"X-Forwarded-Proto", "https"}, true},
		{"a trusted proxy, in Forwarded", "http://console.test", fixtureRemote, []string{"Forwarded", "for=198.51.100.1;proto=https"}, true},
		{"a trusted proxy over plain http", "http://console.test", fixtureRemote, []string{"X-Forwarded-Proto", "http"}, false},
		{"a proxy not trusted", "http://console.test", "10.0.0.0/8", []string{"X-Forwarded-Proto", "https"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, console.Config{AdminToken: tokenA, PublicURL: tc.publicURL, TrustedProxies: proxies(t, tc.proxies)})
			form, session := f.signInCookies(tokenA, tc.headers...)
			if form.Secure != tc.secure || session.Secure != tc.secure {
				t.Fatalf("Secure: sign-in form cookie %v, session cookie %v; want %v", form.Secure, session.Secure, tc.secure)
			}
			if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
				t.Fatalf("session cookie: %+v", session)
			}
		})
	}
}

// Wrong tokens at the sign-in are limited per client address (429 with
// Retry-After), the client read through the trusted proxy; the right token
// signs in from that very address, and other clients are not limited.
func TestSignInGuessesLimited(t *testing.T) {
	f := newFixture(t, console.Config{AdminToken: tokenA, TrustedProxies: proxies(t, fixtureRemote)})
	guesser := []string{"X-Forwarded-For", "203.0.113.9"}
	page := text(t, f.do("GET", "/console/sign-in", nil, guesser...))
	csrf := csrfField.FindStringSubmatch(page)[1]
	// Each answer is the form again, with a fresh anti-forgery token.
	try := func(tok string, headers ...string) *http.Response {
		res := f.do("POST", "/console/sign-in", url.Values{"csrf": {csrf}, "token": {tok}}, headers...)
		if m := csrfField.FindStringSubmatch(text(t, res)); m != nil {
			csrf = m[1]
		}
		return res
	}
	refused, limited := 0, 0
	for i := range 300 {
		res := try("wrong-"+strconv.Itoa(i), guesser...)
		switch res.StatusCode {
		case http.StatusUnauthorized:
			refused++
		case http.StatusTooManyRequests:
			limited++
			if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 {
				t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
			}
		default:
			t.Fatalf("wrong token %d: %d", i, res.StatusCode)
		}
	}
	if refused != httpguard.DefaultAdminFailureLimit || limited != 300-httpguard.DefaultAdminFailureLimit {
		t.Fatalf("%d refused, %d limited; want the first %d refused, then 429", refused, limited, httpguard.DefaultAdminFailureLimit)
	}
	if res := try("wrong", "X-Forwarded-For", "198.51.100.7"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("another client's wrong token: %d", res.StatusCode)
	}
	wantRedirect(t, try(tokenA, guesser...), "/console/")
	// A minute later the guesser's address may fail again.
	f.clock.Advance(time.Minute)
	f.cookies = map[string]*http.Cookie{}
	csrf = csrfField.FindStringSubmatch(text(t, f.do("GET", "/console/sign-in", nil, guesser...)))[1]
	if res := try("wrong", guesser...); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a minute later: %d", res.StatusCode)
	}
}

// With several admin tokens each signs in; dropping one from the
// deployment ends its sessions and only them.
func TestSeveralAdminTokensSignIn(t *testing.T) {
	store := memory.NewConsoleSessions()
	key := make([]byte, 32)
	f := newFixture(t, console.Config{AdminToken: tokenA + "," + tokenB, SecretsKey: key, Sessions: store})
	_, sessionA := f.signInCookies(tokenA)
	f.cookies = map[string]*http.Cookie{}
	_, sessionB := f.signInCookies(tokenB)
	// The same deployment restarted with tokenA replaced by tokenC.
	rotated := newFixture(t, console.Config{AdminToken: tokenB + "," + tokenC, SecretsKey: key, Sessions: store})
	for _, tc := range []struct {
		name    string
		session *http.Cookie
		ok      bool
	}{{"tokenA's session", sessionA, false}, {"tokenB's session", sessionB, true}} {
		rotated.cookies = map[string]*http.Cookie{tc.session.Name: tc.session}
		res := rotated.do("GET", "/console/env/acme/", nil)
		if got := res.StatusCode == http.StatusOK; got != tc.ok {
			t.Fatalf("%s after the rotation: %d", tc.name, res.StatusCode)
		}
	}
	rotated.cookies = map[string]*http.Cookie{}
	rotated.signInCookies(tokenC)
	rotated.cookies = map[string]*http.Cookie{}
	page := text(t, rotated.do("GET", "/console/sign-in", nil))
	res := rotated.do("POST", "/console/sign-in", url.Values{"csrf": {csrfField.FindStringSubmatch(page)[1]}, "token": {tokenA}})
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the dropped token signs in: %d", res.StatusCode)
	}
}
