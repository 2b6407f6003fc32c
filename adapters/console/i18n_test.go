package console_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"callconnect/adapters/console"
	"callconnect/adapters/memory"
	"callconnect/domain"
	"callconnect/ports"
)

// nameReads counts the store's reads of users and leads, one by one or in
// batches.
type nameReads struct {
	ports.Store
	one, batch *atomic.Int32
}

func (s nameReads) Read(ctx context.Context, fn func(context.Context, ports.Repositories) error) error {
	return s.Store.Read(ctx, func(ctx context.Context, r ports.Repositories) error { return fn(ctx, s.count(r)) })
}

func (s nameReads) Tx(ctx context.Context, fn func(context.Context, ports.Repositories) error) error {
	return s.Store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error { return fn(ctx, s.count(r)) })
}

func (s nameReads) count(r ports.Repositories) ports.Repositories {
	r.Users, r.Leads = userNameReads{r.Users, s}, leadNameReads{r.Leads, s}
	return r
}

type userNameReads struct {
	ports.Users
	s nameReads
}

type leadNameReads struct {
	ports.Leads
	s nameReads
}

func (r userNameReads) GetUser(ctx context.Context, envID, id string) (domain.User, error) {
	r.s.one.Add(1)
	return r.Users.GetUser(ctx, envID, id)
}

func (r leadNameReads) GetLead(ctx context.Context, envID, id string) (domain.Lead, error) {
	r.s.one.Add(1)
	return r.Leads.GetLead(ctx, envID, id)
}

func (r userNameReads) GetUsers(ctx context.Context, envID string, ids []string) ([]domain.User, error) {
	r.s.batch.Add(1)
	return r.Users.GetUsers(ctx, envID, ids)
}

func (r leadNameReads) GetLeads(ctx context.Context, envID string, ids []string) ([]domain.Lead, error) {
	r.s.batch.Add(1)
	return r.Leads.GetLeads(ctx, envID, ids)
}

// fullFixture is a console whose environment has something on every page:
// named users and leads, an active integration, partner tokens (one
// revoked), calls in every state (one completed with its result, task and
// recording, one undeliverable after a refusal, one past its result
// deadline), and exchanges both ways. The counters count reads of names.
type fullFixture struct {
	*fixture
	one, batch *atomic.Int32
	tokenID    string
	exchangeID string
}

func newFullFixture(t *testing.T) *fullFixture {
	t.Helper()
	var one, batch atomic.Int32
	store := memory.NewStore()
	f := newFixtureOn(t, console.Config{}, nameReads{store, &one, &batch})
	ctx := context.Background()
	for _, u := range []domain.UserInput{
		{ID: "g1", Name: "Gestora Ana", Role: "manager", CanManageIntegrations: true, Phone: "48999476359"},
		{ID: "c1", Name: "Corretor João", Role: "broker", Phone: "48999476350"},
		{ID: "c2", Name: "Corretora Bia", Role: "broker"},
	} {
		u.EnvID = "acme"
		if _, err := f.svc.Configuration.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []domain.LeadInput{
		{ID: "1", Name: "Maria Souza", Phone: "48999476300", ManagerID: "g1", BrokerID: "c1"},
		{ID: "2", Name: "Pedro Lima", Phone: "48999476301", BrokerID: "c2"},
	} {
		l.EnvID = "acme"
		if _, err := f.svc.Configuration.PutLead(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.Telephony.PutIntegration(ctx, "acme", domain.ProviderCallConnect, "g1",
		domain.IntegrationSettings{PartnerURL: "https://parceiro.example.com/ligar", DialMode: "phone"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Telephony.Activate(ctx, "acme", domain.ProviderCallConnect, "g1"); err != nil {
		t.Fatal(err)
	}
	kept, _, err := f.tokens.Create(ctx, "acme", "parceiro@example.com", "telefonia")
	if err != nil {
		t.Fatal(err)
	}
	gone, _, err := f.tokens.Create(ctx, "acme", "antigo@example.com", "telefonia antiga")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.tokens.Revoke(ctx, "acme", gone.ID()); err != nil {
		t.Fatal(err)
	}

	deadline := f.svc.Calls.ResultDeadline()
	done := t0.Add(-time.Hour)
	due := t0.Add(24 * time.Hour)
	completed := acceptedCall("feita", domain.CallCompleted, "", done)
	refused := domain.RestoreCall("acme", "recusada", "2", "c2", domain.CallUndeliverable, domain.UndeliverablePartnerRefused,
		done, done.Add(time.Hour), []byte(`{"idligacao":"recusada"}`),
		[]domain.Attempt{{At: done, StatusCode: 400, Error: "partner answered 400", Duration: 80 * time.Millisecond}})
	result, err := domain.NewInteraction(domain.InteractionInput{ID: "r1", EnvID: "acme", LeadID: "1", Type: domain.InteractionTypeCall,
		Description: "Conversa de dois minutos com a cliente", CallID: "feita", OccurredAt: done.Add(time.Minute),
		RecordingID: "gravacao1", RecordingSHA256: strings.Repeat("a", 64),
		Task: &domain.Task{Name: "Retornar a ligação", DueAt: &due, Status: domain.TaskStatusPending, Priority: domain.TaskPriorityHigh,
			ResponsibleType: domain.ResponsibleBroker, ResponsibleID: "c1", Reminder: true}})
	if err != nil {
		t.Fatal(err)
	}
	putCalls(t, store, completed, refused, result,
		acceptedCall("calada", domain.CallDelivered, "", t0.Add(-deadline-time.Minute)),
		acceptedCall("ocupada", domain.CallNotCompleted, domain.CallReasonBusy, done.Add(-time.Hour)),
		domain.RestoreCall("acme", "nova", "2", "c1", domain.CallQueued, "", t0, t0.Add(time.Hour), []byte(`{}`), nil))
	ff := &fullFixture{fixture: f, one: &one, batch: &batch, tokenID: kept.ID(), exchangeID: "troca1"}
	err = store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		for _, e := range []domain.Exchange{
			{ID: "troca1", EnvID: "acme", Direction: domain.Outbound, Method: "POST", URL: "https://parceiro.example.com/ligar",
				StatusCode: 400, Duration: 80 * time.Millisecond, CallID: "recusada", LeadID: "2", OccurredAt: done,
				RequestHeaders: map[string][]string{"Webhook-Id": {"msg_recusada"}}, RequestBody: `{"idligacao":"recusada"}`,
				ResponseBody: `{"erro":"lead bloqueado"}`, Error: "partner answered 400"},
			{ID: "troca2", EnvID: "acme", Direction: domain.Inbound, Method: "POST", URL: "/api/cvio/ligacoes/feita/resultado",
				StatusCode: 200, CallID: "feita", LeadID: "1", OccurredAt: done.Add(time.Minute)},
		} {
			if err := r.RecordExchange(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ff
}

// english are words of the console's English that Portuguese never uses:
// a page in Portuguese shows none of them (product names aside).
var english = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`the and of to with without is are was not this that from yes call calls user users clicked
		attempt attempts delivery deadline timeline history task due owner owners manager broker agency enabled disabled hidden
		queued delivering delivered completed undeliverable answer answered partner environment environments settings save send
		activate deactivate rotate revoke create filter clear details back copy copied cancel error when direction request response
		header headers body empty open older phone found page secret signing update live every seconds sign signed none any both
		new test description state active inactive configured result recording download browser your you there has have been its
		or but only now again until out by at on it an in skip content reminder priority pending high busy refused time zone
		exchange exchanges switch integration created revoked shown only deployment admin token's number extension`) {
		english[w] = true
	}
}

var (
	hidden    = regexp.MustCompile(`(?s)<(code|pre|script|style)\b[^>]*>.*?</(code|pre|script|style)>`)
	tag       = regexp.MustCompile(`(?s)<[^>]*>`)
	address   = regexp.MustCompile(`\S+://\S+|\S+@\S+`)
	shownAttr = regexp.MustCompile(`\b(?:title|aria-label|placeholder|alt|data-copied|data-new-one|data-new-many|data-paused|` +
		`data-on|data-off|data-signed-out)="([^"]*)"`)
)

// shownText is what a reader of the page meets: its text and the
// attributes a browser shows or reads out, without code, ids, URLs and
// JSON (in <code> and <pre>) and without the product's name.
func shownText(page string) string {
	var b strings.Builder
	for _, m := range shownAttr.FindAllStringSubmatch(page, -1) {
		b.WriteString(m[1] + "\n")
	}
	b.WriteString(tag.ReplaceAllString(hidden.ReplaceAllString(page, " "), " "))
	text := strings.ReplaceAll(html.UnescapeString(b.String()), "Call Connect", "")
	return address.ReplaceAllString(text, " ")
}

// wantPortuguese fails when the page is not marked pt-BR or shows an
// English word.
func wantPortuguese(t *testing.T, what, page string) {
	t.Helper()
	if !strings.Contains(page, `<html lang="pt-BR">`) {
		t.Errorf("%s: not marked pt-BR", what)
	}
	text := shownText(page)
	if words := englishWords(text); len(words) > 0 {
		t.Errorf("%s shows English words %q in:\n%s", what, words, strings.Join(strings.Fields(text), " "))
	}
}

// englishWords are the words of text that are English. A code of the API
// (missing_phone, partner_url), shown beside its words, is one word.
func englishWords(text string) []string {
	var found []string
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' && r != '_' }) {
		if english[strings.ToLower(strings.Trim(w, "'"))] {
			found = append(found, w)
		}
	}
	return found
}

// Every page, message and badge is in Portuguese by default; dates are
// dd/mm/aaaa HH:MM in the environment's zone; the lists name the users and
// leads, read all at once.
func TestEveryPageInPortuguese(t *testing.T) {
	f := newFullFixture(t)
	// Before signing in: the form, a wrong token, an expired form.
	page := text(t, f.do("GET", "/console/sign-in", nil))
	wantPortuguese(t, "the sign-in form", page)
	res, _ := f.signIn("nao-e-o-token")
	wantPortuguese(t, "a wrong token", text(t, res))
	wantPortuguese(t, "an expired sign-in form",
		text(t, f.do("POST", "/console/sign-in", url.Values{"csrf": {"velho"}, "token": {token}})))
	// Signed out: a form posted without a session.
	anonymous := httptest.NewRecorder()
	f.handler.ServeHTTP(anonymous, httptest.NewRequest("POST", "http://console.test/console/env/acme/partner-tokens", nil))
	wantPortuguese(t, "a form posted signed out", anonymous.Body.String())

	_, csrf := f.signIn(token)
	for _, path := range []string{
		"/console/", "/console/env/acme/", "/console/env/acme/?done=configured", "/console/env/acme/calls",
		"/console/env/acme/calls?status=undeliverable", "/console/env/acme/calls?from=ontem",
		"/console/env/acme/calls/feita", "/console/env/acme/calls/recusada", "/console/env/acme/calls/calada",
		"/console/env/acme/calls/ocupada", "/console/env/acme/calls/nova", "/console/env/acme/calls/recusada?done=redelivered",
		"/console/env/acme/leads", "/console/env/acme/leads?lead=n%C3%A3o+vale", "/console/env/acme/leads/1", "/console/env/acme/leads/2",
		"/console/env/acme/leads/ninguem", "/console/env/acme/monitor", "/console/env/acme/monitor?since=ontem",
		"/console/env/acme/monitor/troca1", "/console/env/acme/monitor/troca2",
		"/console/env/acme/call-connect/rotate-secret", "/console/env/acme/call-connect/deactivate",
		"/console/env/acme/partner-tokens/" + f.tokenID + "/revoke", "/console/nada", "/console/env/nenhum/",
	} {
		wantPortuguese(t, "GET "+path, text(t, f.do("GET", path, nil)))
	}
	rows := text(t, f.do("GET", "/console/env/acme/monitor/rows", nil))
	if words := englishWords(shownText(rows)); len(words) > 0 || !strings.Contains(rows, "saída") {
		t.Errorf("the monitor's live rows: English %q in\n%s", words, rows)
	}
	for _, post := range []struct {
		path string
		form url.Values
	}{
		{"/console/env/acme/partner-tokens", url.Values{"email": {"novo@example.com"}, "description": {"teste"}}},
		{"/console/env/acme/partner-tokens", url.Values{"email": {"não é e-mail"}}},
		{"/console/env/acme/call-connect", url.Values{"actor_id": {"g1"}, "partner_url": {"http://parceiro.example.com/ligar"}, "dial_mode": {"phone"}}},
		{"/console/env/acme/call-connect", url.Values{"actor_id": {"c1"}, "partner_url": {"https://parceiro.example.com/ligar"}, "dial_mode": {"phone"}}},
		{"/console/env/acme/call-connect/rotate-secret", url.Values{"actor_id": {"g1"}}},
		{"/console/env/acme/call-connect/test", url.Values{"actor_id": {"c1"}}},
		{"/console/env/acme/calls/feita/redeliver", url.Values{}},
	} {
		post.form.Set("csrf", csrf)
		wantPortuguese(t, "POST "+post.path+" "+post.form.Encode(), text(t, f.do("POST", post.path, post.form)))
	}
	wantPortuguese(t, "a forged form", text(t, f.do("POST", "/console/env/acme/partner-tokens", url.Values{"csrf": {"forjado"}})))

	// Names where there were ids, read in one go; dates as Brazilians write them.
	f.one.Store(0)
	f.batch.Store(0)
	calls := text(t, f.do("GET", "/console/env/acme/calls", nil))
	if n, b := f.one.Load(), f.batch.Load(); n != 0 || b != 2 {
		t.Errorf("the calls list read names %d times one by one and %d times in batches; want 0 and 2 (users, leads)", n, b)
	}
	row := regexp.MustCompile(`(?s)<tr>\s*<td>[^<]*</td>\s*<td><span class="badge badge-completed">realizada</span></td>.*?</tr>`).FindString(calls)
	// acceptedCall's user, u1, is no user of the environment: its id shows.
	for _, want := range []string{"Maria Souza", "<code>1</code>", "<code>u1</code>"} {
		if !strings.Contains(row, want) {
			t.Errorf("the completed call's row lacks %q:\n%s", want, row)
		}
	}
	if !regexp.MustCompile(`<td>\d{2}/\d{2}/\d{4} \d{2}:\d{2}</td>`).MatchString(row) {
		t.Errorf("the click's date is not dd/mm/aaaa HH:MM:\n%s", row)
	}
	refused := text(t, f.do("GET", "/console/env/acme/calls/recusada", nil))
	for _, want := range []string{"Pedro Lima", "Corretora Bia", "não entregue", "recusada pelo parceiro", "o parceiro respondeu 400",
		"Corretora Bia (c2) apertou o botão de ligar no lead Pedro Lima (2)."} {
		if !strings.Contains(refused, want) {
			t.Errorf("the undeliverable call's page lacks %q", want)
		}
	}
	lead := text(t, f.do("GET", "/console/env/acme/leads/1", nil))
	for _, want := range []string{"Tarefa: Retornar a ligação, prazo 28/11/2026 09:00, situação pendente, prioridade alta, " +
		"responsável corretor Corretor João (c1), com lembrete", "ocupado", "realizada"} {
		if !strings.Contains(lead, want) {
			t.Errorf("the lead's page lacks %q", want)
		}
	}
	f.batch.Store(0)
	monitor := text(t, f.do("GET", "/console/env/acme/monitor", nil))
	if b := f.batch.Load(); b != 1 || !strings.Contains(monitor, "lead Maria Souza") || !strings.Contains(monitor, "lead Pedro Lima") {
		t.Errorf("the monitor names the leads of its rows in one read (%d reads):\n%s", b, monitor)
	}
}

// A browser that prefers English gets English; the header's switch
// changes the language and the console remembers it, whatever the browser
// says, until switched back.
func TestEnglishByAcceptLanguageAndBySwitch(t *testing.T) {
	f := newFullFixture(t)
	f.signIn(token)
	get := func(path, acceptLanguage string) (*http.Response, string) {
		t.Helper()
		res := f.do("GET", path, nil, "Accept-Language", acceptLanguage)
		return res, text(t, res)
	}
	for header, want := range map[string]string{"": "pt-BR", "pt-BR,pt;q=0.9": "pt-BR", "fr-FR": "pt-BR",
		"en-US,en;q=0.9": "en", "fr-FR, en;q=0.8, pt;q=0.5": "en"} {
		res, page := get("/console/env/acme/calls", header)
		if !strings.Contains(page, `<html lang="`+want+`">`) || res.Header.Get("Content-Language") != want {
			t.Errorf("Accept-Language %q: want %s, got Content-Language %q", header, want, res.Header.Get("Content-Language"))
		}
	}
	_, page := get("/console/env/acme/calls", "en-US")
	for _, want := range []string{"<h1>Calls</h1>", ">Overview<", `badge-completed">completed<`, "busy", "Maria Souza", "Sign out",
		`lang="pt-BR" hreflang="pt-BR">Português</a>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the calls page in English lacks %q", want)
		}
	}
	if strings.Contains(page, "realizada") || strings.Contains(page, "Ligações") {
		t.Error("the English calls page has Portuguese words")
	}
	// The check of the Portuguese pages would see this page's English.
	if words := englishWords(shownText(page)); len(words) < 20 {
		t.Errorf("the English page has only %d words the Portuguese check knows: %q", len(words), words)
	}
	if _, rows := get("/console/env/acme/monitor/rows", "en"); !strings.Contains(rows, `badge-out">out<`) {
		t.Errorf("the monitor's rows in English:\n%s", rows)
	}

	// The switch, from a Portuguese page: back to the same page, in English,
	// and English stays although the browser asks for Portuguese.
	_, page = get("/console/env/acme/calls?status=completed", "pt-BR")
	link := regexp.MustCompile(`<a class="lang" id="lang-switch" href="([^"]+)" lang="en" hreflang="en">English</a>`).FindStringSubmatch(page)
	if link == nil {
		t.Fatalf("no switch to English on the Portuguese page:\n%s", page)
	}
	res := f.do("GET", html.UnescapeString(link[1]), nil, "Accept-Language", "pt-BR")
	wantRedirect(t, res, "/console/env/acme/calls?status=completed")
	if c := f.cookies["callconnect_lang"]; c == nil || c.Value != "en" || c.Path != "/console/" || !c.HttpOnly || c.MaxAge < 30*24*3600 {
		t.Fatalf("the language cookie: %+v", c)
	}
	for _, path := range []string{"/console/env/acme/calls", "/console/env/acme/", "/console/env/acme/leads/1"} {
		if _, page := get(path, "pt-BR"); !strings.Contains(page, `<html lang="en">`) {
			t.Errorf("%s after switching to English is not in English", path)
		}
	}
	_, page = get("/console/env/acme/", "pt-BR")
	if !strings.Contains(page, "Send a test call") || !strings.Contains(page, "Partner tokens") {
		t.Error("the overview in English lacks its English labels")
	}
	link = regexp.MustCompile(`<a class="lang" id="lang-switch" href="([^"]+)" lang="pt-BR" hreflang="pt-BR">Português</a>`).FindStringSubmatch(page)
	if link == nil {
		t.Fatal("no switch back to Portuguese")
	}
	wantRedirect(t, f.do("GET", html.UnescapeString(link[1]), nil), "/console/env/acme/")
	if _, page := get("/console/env/acme/", "en-US"); !strings.Contains(page, `<html lang="pt-BR">`) {
		t.Error("switched back, the console is not in Portuguese for a browser that prefers English")
	}

	// The switch goes back only inside the console, and knows its languages.
	for next, want := range map[string]string{"https://evil.example.com/": "/console/", "//evil.example.com/console/": "/console/",
		"/console/env/acme/monitor": "/console/env/acme/monitor"} {
		wantRedirect(t, f.do("GET", "/console/language?to=en&next="+url.QueryEscape(next), nil), want)
	}
	res = f.do("GET", "/console/language?to=fr", nil)
	if body := text(t, res); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "en, pt-BR") {
		t.Errorf("an unknown language: %d\n%s", res.StatusCode, body)
	}
	// The sign-in form has the switch too, and keeps where to go after it.
	f.cookies = map[string]*http.Cookie{}
	page = text(t, f.do("GET", "/console/sign-in?next="+url.QueryEscape("/console/env/acme/calls"), nil))
	if !strings.Contains(page, `href="/console/language?next=%2Fconsole%2Fsign-in%3Fnext%3D%252Fconsole%252Fenv%252Facme%252Fcalls&amp;to=en"`) {
		t.Errorf("the sign-in form's switch:\n%s", page)
	}
}
