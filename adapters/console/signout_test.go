package console_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"callconnect/adapters/console"
	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
)

// replica is one console process on the shared database: its own pool and
// store, the deployment's secrets key, and adminToken.
func replica(t *testing.T, connString, adminToken string) *fixture {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), connString)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store, err := postgres.NewStore(pool, bytes.Repeat([]byte{7}, postgres.SecretsKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureOn(t, console.Config{AdminToken: adminToken, SecretsKey: bytes.Repeat([]byte{9}, 32), Sessions: store}, store)
}

// as sends a request with the cookies another browser (the one that signed
// in, or whoever copied its cookie) has.
func (f *fixture) as(cookies map[string]*http.Cookie, method, path string, form url.Values) *http.Response {
	f.t.Helper()
	saved := f.cookies
	f.cookies = map[string]*http.Cookie{}
	for k, c := range cookies {
		f.cookies[k] = c
	}
	defer func() { f.cookies = saved }()
	return f.do(method, path, form)
}

// A signed-out cookie is refused by every replica: the one the operator
// signed out on, and another on the same database; so is a copy of it.
func TestSignOutEndsTheSessionOnEveryReplica(t *testing.T) {
	t.Parallel()
	url0 := pgtest.NewPool(t).Config().ConnString()
	a, b := replica(t, url0, token), replica(t, url0, token)

	_, csrf := a.signIn(token)
	copied := map[string]*http.Cookie{"callconnect_console": a.cookies["callconnect_console"]}
	for name, f := range map[string]*fixture{"the replica signed in on": a, "another replica": b} {
		if res := f.as(copied, "GET", "/console/env/acme/", nil); res.StatusCode != http.StatusOK {
			t.Fatalf("before the sign-out, %s answers the session's cookie with %d", name, res.StatusCode)
		}
	}

	res := a.do("POST", "/console/sign-out", url.Values{"csrf": {csrf}})
	wantRedirect(t, res, "/console/sign-in?signed_out=1")
	if _, kept := a.cookies["callconnect_console"]; kept {
		t.Fatal("the sign-out left the cookie in the browser")
	}
	for name, f := range map[string]*fixture{"the replica signed out on": a, "another replica": b} {
		wantRedirect(t, f.as(copied, "GET", "/console/env/acme/", nil), "/console/sign-in")
		if res := f.as(copied, "POST", "/console/env/acme/partner-tokens",
			url.Values{"csrf": {csrf}, "email": {"p@example.com"}}); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("a form sent with the signed-out cookie to %s: %d, want 401", name, res.StatusCode)
		}
	}
	if toks, _ := b.tokens.List(context.Background(), "acme"); len(toks) != 0 {
		t.Fatalf("a signed-out cookie created %d partner tokens", len(toks))
	}

	// Signing in again opens a new session; the old cookie stays refused.
	_, _ = b.signIn(token)
	if res := b.do("GET", "/console/env/acme/", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("a new sign-in: %d", res.StatusCode)
	}
	wantRedirect(t, b.as(copied, "GET", "/console/env/acme/", nil), "/console/sign-in")
}

// Restarting with another admin token ends every session: the new
// process, on the same database and secrets key, refuses the cookies of
// the old token's sessions.
func TestChangingTheAdminTokenEndsEverySession(t *testing.T) {
	t.Parallel()
	url0 := pgtest.NewPool(t).Config().ConnString()
	before := replica(t, url0, token)
	before.signIn(token)
	cookies := before.cookies
	if res := replica(t, url0, token).as(cookies, "GET", "/console/env/acme/", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("a restart with the same token: %d, want the session kept", res.StatusCode)
	}
	after := replica(t, url0, "e7b2a9d4c1f8e3b6a0d5c2f9e4b7a1d8c3f6e0b5a2d9c4f7e1b8a3d6c0f5e2b9")
	wantRedirect(t, after.as(cookies, "GET", "/console/env/acme/", nil), "/console/sign-in")
}

// In one process (no shared store), a signed-out cookie is refused too.
func TestSignedOutCookieRefusedInOneProcess(t *testing.T) {
	f := newFixture(t, console.Config{})
	_, csrf := f.signIn(token)
	copied := map[string]*http.Cookie{"callconnect_console": f.cookies["callconnect_console"]}
	wantRedirect(t, f.do("POST", "/console/sign-out", url.Values{"csrf": {csrf}}), "/console/sign-in")
	wantRedirect(t, f.as(copied, "GET", "/console/env/acme/", nil), "/console/sign-in")
}
