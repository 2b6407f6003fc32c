package console_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"callconnect/adapters/console"
	"callconnect/adapters/cvio"
	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// token is the deployment's admin token: 32 random bytes, as it must be.
const token = "Zk3v9QpL2xR7mT1wY8nB4cF6hJ0sD5gA3eU9iO2kXq8"

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t       *testing.T
	clock   *memory.Clock
	svc     console.Services
	tokens  *app.PartnerTokens
	handler http.Handler
	cookies map[string]*http.Cookie
}

// newFixture serves a console over in-memory services with one environment.
func newFixture(t *testing.T, cfg console.Config) *fixture {
	return newFixtureOn(t, cfg, memory.NewStore())
}

// newFixtureOn is newFixture over store.
func newFixtureOn(t *testing.T, cfg console.Config, store ports.Store) *fixture {
	clock := memory.NewClock(t0)
	random := memory.NewRandom(1)
	svc := console.Services{
		Configuration: app.NewConfiguration(store),
		Telephony:     app.NewTelephony(store, clock, random, domain.URLPolicy{}),
		CallButtons:   app.NewCallButtons(store),
		Calls:         app.NewCalls(store, clock, random, nil, cvio.Payloads{}, app.CallsConfig{}),
		PartnerTokens: app.NewPartnerTokens(store, clock, random),
		Callbacks:     app.NewCallbacks(store, clock, random, nil, cvio.Receipts{}, app.CallbacksConfig{}, nil),
		Monitor:       app.NewMonitor(store, random, nil),
	}
	if _, err := svc.Configuration.PutEnvironment(context.Background(), domain.EnvironmentInput{ID: "acme", Name: "Acme",
		PublicBaseURL: "https://acme.example.com", CallConnectEnabled: true}); err != nil {
		t.Fatal(err)
	}
	if cfg.AdminToken == "" {
		cfg.AdminToken = token
	}
	cfg.Now = clock.Now
	cfg.Logger = slog.New(slog.DiscardHandler)
	if cfg.Sessions == nil {
		cfg.Sessions = memory.NewConsoleSessions()
	}
	return &fixture{t: t, clock: clock, svc: svc, tokens: svc.PartnerTokens, handler: console.New(cfg, svc), cookies: map[string]*http.Cookie{}}
}

// do sends a request as a browser on the console's origin would, with the
// cookies it has kept; form is sent as a POST body when not nil.
func (f *fixture) do(method, path string, form url.Values, header ...string) *http.Response {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, "http://console.test"+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	for _, c := range f.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	res := rec.Result()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(f.cookies, c.Name)
		} else {
			f.cookies[c.Name] = c
		}
	}
	return res
}

func text(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn fills the sign-in form and returns the session's CSRF token.
func (f *fixture) signIn(tok string) (*http.Response, string) {
	f.t.Helper()
	page := text(f.t, f.do("GET", "/console/sign-in", nil))
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		f.t.Fatalf("no CSRF field on the sign-in form:\n%s", page)
	}
	res := f.do("POST", "/console/sign-in", url.Values{"csrf": {m[1]}, "token": {tok}, "next": {"/console/env/acme/calls"}})
	if res.StatusCode != http.StatusSeeOther {
		return res, ""
	}
	overview := text(f.t, f.do("GET", "/console/env/acme/", nil))
	m = csrfField.FindStringSubmatch(overview)
	if m == nil {
		f.t.Fatalf("no CSRF field on the overview:\n%s", overview)
	}
	return res, m[1]
}

func wantRedirect(t *testing.T, res *http.Response, prefix string) {
	t.Helper()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), prefix) {
		t.Fatalf("want 303 to %s…, got %d to %q", prefix, res.StatusCode, res.Header.Get("Location"))
	}
}

func TestAnonymousVisitorsAreSentToSignIn(t *testing.T) {
	f := newFixture(t, console.Config{})
	wantRedirect(t, f.do("GET", "/console/env/acme/calls?status=queued", nil), "/console/sign-in?next="+url.QueryEscape("/console/env/acme/calls?status=queued"))
	res := f.do("POST", "/console/env/acme/partner-tokens", url.Values{"email": {"p@example.com"}})
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("an anonymous POST: %d", res.StatusCode)
	}
	if toks, _ := f.tokens.List(context.Background(), "acme"); len(toks) != 0 {
		t.Fatalf("an anonymous POST created %d tokens", len(toks))
	}
}

func TestSignInSetsAStrictHttpOnlyCookie(t *testing.T) {
	f := newFixture(t, console.Config{})
	res, _ := f.signIn("wrong-token")
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(text(t, res), "não é o token de administração") {
		t.Fatalf("a wrong token: %d", res.StatusCode)
	}
	if _, ok := f.cookies["callconnect_console"]; ok {
		t.Fatal("a wrong token opened a session")
	}
	res, csrf := f.signIn(token)
	wantRedirect(t, res, "/console/env/acme/calls")
	c := f.cookies["callconnect_console"]
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console/" || c.Secure {
		t.Fatalf("session cookie: %+v", c)
	}
	if csrf == "" || strings.Contains(c.Value, token) {
		t.Fatalf("the session must carry a CSRF token and never the admin token: %q", c.Value)
	}
	if res := f.do("GET", "/console/env/acme/calls", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("signed in, the calls page: %d", res.StatusCode)
	}
}

func TestCookiesAreSecureOverHTTPS(t *testing.T) {
	f := newFixture(t, console.Config{PublicURL: "https://callconnect.example.com"})
	f.signIn(token)
	if c := f.cookies["callconnect_console"]; c == nil || !c.Secure {
		t.Fatalf("session cookie over https: %+v", c)
	}
}

func TestSignInNeedsItsFormToken(t *testing.T) {
	f := newFixture(t, console.Config{})
	res := f.do("POST", "/console/sign-in", url.Values{"csrf": {"guessed"}, "token": {token}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("a sign-in without the form's token: %d", res.StatusCode)
	}
	if _, ok := f.cookies["callconnect_console"]; ok {
		t.Fatal("a forged sign-in opened a session")
	}
}

func TestFormsNeedTheSessionCSRFTokenAndOrigin(t *testing.T) {
	f := newFixture(t, console.Config{})
	_, csrf := f.signIn(token)
	form := url.Values{"email": {"p@example.com"}, "description": {"x"}}
	for _, tc := range []struct {
		name   string
		csrf   string
		header []string
	}{
		{"no token", "", nil},
		{"a wrong token", csrf + "x", nil},
		{"another origin", csrf, []string{"Origin", "https://evil.example.com"}},
	} {
		form.Set("csrf", tc.csrf)
		if res := f.do("POST", "/console/env/acme/partner-tokens", form, tc.header...); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, res.StatusCode)
		}
	}
	if toks, _ := f.tokens.List(context.Background(), "acme"); len(toks) != 0 {
		t.Fatalf("refused forms created %d tokens", len(toks))
	}
	form.Set("csrf", csrf)
	res := f.do("POST", "/console/env/acme/partner-tokens", form, "Origin", "http://console.test")
	if res.StatusCode != http.StatusOK || !strings.Contains(text(t, res), "Token de parceiro criado") {
		t.Fatalf("the right token and origin: %d", res.StatusCode)
	}
	if toks, _ := f.tokens.List(context.Background(), "acme"); len(toks) != 1 {
		t.Fatalf("%d tokens after one creation", len(toks))
	}
}

func TestSessionsEnd(t *testing.T) {
	f := newFixture(t, console.Config{SessionTTL: time.Hour})
	_, csrf := f.signIn(token)
	f.clock.Advance(59 * time.Minute)
	if res := f.do("GET", "/console/env/acme/", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("within the session: %d", res.StatusCode)
	}
	f.clock.Advance(2 * time.Minute)
	wantRedirect(t, f.do("GET", "/console/env/acme/", nil), "/console/sign-in")

	// Signing out deletes the cookie.
	f.clock.Set(t0)
	f.cookies = map[string]*http.Cookie{}
	_, csrf = f.signIn(token)
	wantRedirect(t, f.do("POST", "/console/sign-out", url.Values{"csrf": {csrf}}), "/console/sign-in")
	wantRedirect(t, f.do("GET", "/console/env/acme/", nil), "/console/sign-in")
}

func TestTamperedOrForeignSessionsAreRefused(t *testing.T) {
	f := newFixture(t, console.Config{SecretsKey: make([]byte, 32)})
	f.signIn(token)
	c := f.cookies["callconnect_console"]
	body, sig, _ := strings.Cut(c.Value, ".")
	c.Value = body + "x." + sig
	wantRedirect(t, f.do("GET", "/console/env/acme/", nil), "/console/sign-in")

	// A cookie signed under the same key but for another admin token (the
	// token was changed) is refused too.
	other := newFixture(t, console.Config{SecretsKey: make([]byte, 32), AdminToken: "b1e0c5d9a7f3e2d4c6b8a0f1e3d5c7b9a2f4e6d8c0b1a3f5e7d9c2b4a6f8e0d1"})
	other.signIn("b1e0c5d9a7f3e2d4c6b8a0f1e3d5c7b9a2f4e6d8c0b1a3f5e7d9c2b4a6f8e0d1")
	f.cookies = other.cookies
	wantRedirect(t, f.do("GET", "/console/env/acme/", nil), "/console/sign-in")
}

func TestSignInStaysInTheConsole(t *testing.T) {
	f := newFixture(t, console.Config{})
	for _, next := range []string{"//evil.example.com/console/", "https://evil.example.com/", "/v1/environments", "/console/\\evil"} {
		page := text(t, f.do("GET", "/console/sign-in?next="+url.QueryEscape(next), nil))
		if strings.Contains(page, "evil") || strings.Contains(page, "/v1/") {
			t.Errorf("the sign-in form keeps next=%q", next)
		}
		m := csrfField.FindStringSubmatch(page)
		res := f.do("POST", "/console/sign-in", url.Values{"csrf": {m[1]}, "token": {token}, "next": {next}})
		if loc := res.Header.Get("Location"); loc != "/console/" {
			t.Errorf("next=%q sent the operator to %q", next, loc)
		}
		delete(f.cookies, "callconnect_console")
	}
}

func TestUnknownPagesAndEnvironmentsAre404(t *testing.T) {
	f := newFixture(t, console.Config{})
	f.signIn(token)
	for _, path := range []string{"/console/nothing", "/console/env/nowhere/", "/console/env/acme/calls/nope", "/console/static/nope.js"} {
		res := f.do("GET", path, nil)
		if res.StatusCode != http.StatusNotFound || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
}

func TestMonitorFiltersAndRows(t *testing.T) {
	f := newFixture(t, console.Config{})
	f.signIn(token)
	res := f.do("GET", "/console/env/acme/monitor?since=yesterday", nil)
	if body := text(t, res); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "De deve ser uma data e hora") {
		t.Fatalf("a bad time: %d\n%s", res.StatusCode, body)
	}
	res = f.do("GET", "/console/env/acme/monitor?status=7xx", nil)
	if body := text(t, res); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "status") {
		t.Fatalf("a bad status: %d\n%s", res.StatusCode, body)
	}
	res = f.do("GET", "/console/env/acme/monitor/rows?direction=in", nil)
	if body := text(t, res); res.StatusCode != http.StatusOK || strings.Contains(body, "<html") || !strings.Contains(body, "Nenhuma troca corresponde") {
		t.Fatalf("the rows alone: %d\n%s", res.StatusCode, body)
	}
	if res := f.do("GET", "/console/env/acme/monitor/nope", nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("an unknown exchange: %d", res.StatusCode)
	}
}

// The calls list's page links carry the same keyset cursor as the monitor's:
// one the service made opens its page, a damaged or forged one (a time no
// timestamp holds) is a 400 that says so, never a server error.
func TestCallsPageLinks(t *testing.T) {
	f := newFixture(t, console.Config{})
	f.signIn(token)
	good := domain.EncodeKeyset(t0, "c1")
	if res := f.do("GET", "/console/env/acme/calls?before="+good, nil); res.StatusCode != http.StatusOK {
		t.Fatalf("a page link the service made: %d", res.StatusCode)
	}
	forged := good[:strings.LastIndex(good, ".")+1] + base64.RawURLEncoding.EncodeToString([]byte("-9000000000000000000.c1"))
	for _, before := range []string{"garbage", forged} {
		res := f.do("GET", "/console/env/acme/calls?before="+url.QueryEscape(before), nil)
		if body := text(t, res); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "O link da página está danificado") {
			t.Errorf("before=%s: %d\n%s", before, res.StatusCode, body)
		}
	}
}

// userReads counts the store's reads of users, whichever method reads them.
type userReads struct {
	ports.Store
	n *atomic.Int32
}

func (s userReads) Read(ctx context.Context, fn func(context.Context, ports.Repositories) error) error {
	return s.Store.Read(ctx, func(ctx context.Context, r ports.Repositories) error { return fn(ctx, s.count(r)) })
}

func (s userReads) Tx(ctx context.Context, fn func(context.Context, ports.Repositories) error) error {
	return s.Store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error { return fn(ctx, s.count(r)) })
}

func (s userReads) count(r ports.Repositories) ports.Repositories {
	r.Users, r.CallContexts = userReadsRepos{r.Users, s.n}, userContextReads{r.CallContexts, s.n}
	return r
}

type userReadsRepos struct {
	ports.Users
	n *atomic.Int32
}

func (r userReadsRepos) GetUser(ctx context.Context, envID, id string) (domain.User, error) {
	r.n.Add(1)
	return r.Users.GetUser(ctx, envID, id)
}

func (r userReadsRepos) GetUsers(ctx context.Context, envID string, ids []string) ([]domain.User, error) {
	r.n.Add(1)
	return r.Users.GetUsers(ctx, envID, ids)
}

// userContextReads counts the click contexts read: each reads users.
type userContextReads struct {
	ports.CallContexts
	n *atomic.Int32
}

func (r userContextReads) GetClickContext(ctx context.Context, envID, userID, leadID string) (ports.ClickContext, error) {
	r.n.Add(1)
	return r.CallContexts.GetClickContext(ctx, envID, userID, leadID)
}

// The lead page names each owner and says whether the call button is shown
// to them, reading the owners once: one read of users, however many owners.
func TestLeadPageOwners(t *testing.T) {
	var reads atomic.Int32
	f := newFixtureOn(t, console.Config{}, userReads{memory.NewStore(), &reads})
	ctx := context.Background()
	for _, u := range []domain.UserInput{
		{ID: "admin", Name: "Admin", Role: "manager", CanManageIntegrations: true},
		{ID: "g1", Name: "Gestora", Role: "manager", Phone: "48999476359"},
		{ID: "c2", Name: "Corretor sem telefone", Role: "broker"},
	} {
		u.EnvID = "acme"
		if _, err := f.svc.Configuration.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.Configuration.PutLead(ctx, domain.LeadInput{EnvID: "acme", ID: "l1", Name: "Maria Lead",
		ManagerID: "g1", BrokerID: "c2", AgencyID: "ag-gone"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Configuration.PutLead(ctx, domain.LeadInput{EnvID: "acme", ID: "l2", Name: "Pedro Lead", BrokerID: "g1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Telephony.PutIntegration(ctx, "acme", domain.ProviderCallConnect, "admin",
		domain.IntegrationSettings{PartnerURL: "https://partner.example.com", DialMode: "phone"}); err != nil {
		t.Fatal(err)
	}
	f.signIn(token)
	owners := regexp.MustCompile(`(?s)<dt>(Gestor|Corretor|Imobiliária)</dt><dd>(.*?)</dd>`)
	page := func(lead string) []string {
		t.Helper()
		reads.Store(0)
		res := f.do("GET", "/console/env/acme/leads/"+lead, nil)
		body := text(t, res)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("lead %s: %d\n%s", lead, res.StatusCode, body)
		}
		if n := reads.Load(); n != 1 {
			t.Errorf("lead %s: users were read %d times, want once", lead, n)
		}
		var got []string
		for _, m := range owners.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1]+": "+m[2])
		}
		return got
	}
	want := func(what string, got []string, want ...string) {
		t.Helper()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s, owners:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	want("inactive", page("l1"),
		`Gestor: Gestora <code>g1</code> — <span class="warn">Botão de ligar desabilitado: Call Connect inativo (integration_inactive)</span>`,
		`Corretor: Corretor sem telefone <code>c2</code> — <span class="warn">Botão de ligar desabilitado: Call Connect inativo (integration_inactive)</span>`,
		`Imobiliária: <code>ag-gone</code> — <span class="warn">usuário desconhecido</span>`)
	if _, err := f.svc.Telephony.Activate(ctx, "acme", domain.ProviderCallConnect, "admin"); err != nil {
		t.Fatal(err)
	}
	want("active", page("l1"),
		`Gestor: Gestora <code>g1</code> — <span class="ok">Botão de ligar habilitado</span>`,
		`Corretor: Corretor sem telefone <code>c2</code> — <span class="warn">Botão de ligar desabilitado: o usuário não tem telefone (missing_phone)</span>`,
		`Imobiliária: <code>ag-gone</code> — <span class="warn">usuário desconhecido</span>`)
	// Ownership goes by role (rule 5): a manager named as the broker is not linked.
	want("one owner", page("l2"),
		`Corretor: Gestora <code>g1</code> — <span class="warn">Botão de ligar desabilitado: não é responsável por este lead (not_owner)</span>`)
	if res := f.do("GET", "/console/env/acme/leads/nope", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("a missing lead: %d", res.StatusCode)
	}
}
