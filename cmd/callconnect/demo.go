package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/fx"

	"callconnect/adapters/console"
	"callconnect/adapters/httpapi"
	"callconnect/app"
	"callconnect/domain"
)

// `callconnect demo` is `serve` with what a newcomer needs to see the whole
// loop in a browser: an environment of Portuguese-named users and leads,
// Call Connect active and pointing at a partner-sim run in this process,
// and at /demo/ a page playing the CRM, which shows the embeddable call
// button on each lead for a chosen user. Running it again puts the same
// data back and keeps what happened meanwhile (calls, recordings).

// demoEnvID is the demo's environment.
const demoEnvID = "demo"

// demoSettings are the demo command's flags.
type demoSettings struct {
	PartnerAddr    string
	State          string
	Delay          time.Duration
	CompletedShare float64
}

func demoFlags(fs *flag.FlagSet, d *demoSettings) {
	fs.StringVar(&d.PartnerAddr, "partner-addr", "127.0.0.1:8091", "where the demo's partner-sim listens (an IP address and port; port 0 picks a free one)")
	fs.StringVar(&d.State, "state", "", "a file keeping the partner-sim's signing secret and partner token between runs (make demo: .data/demo.json); empty: new ones each run")
	fs.DurationVar(&d.Delay, "delay", 2*time.Second, "how long a demo call lasts before partner-sim reports its result")
	fs.Float64Var(&d.CompletedShare, "completed-share", 0.75, "share of demo calls reported realizada (0..1); the rest are não realizada")
}

// demoUser is a user of the demo environment.
type demoUser struct {
	ID, Name, Role, Phone, AgencyID, What string
	Manages                               bool
}

// demoUsers cover what the button shows: owners with a phone (enabled), a
// broker without one (disabled: sem telefone), a manager who owns no lead
// (disabled: não é dono) and, on others' leads, brokers who see nothing.
var demoUsers = []demoUser{
	{ID: "gestora-ana", Name: "Ana Souza", Role: "manager", Phone: "48999470001", Manages: true, What: "gestora, dona de todos os leads"},
	{ID: "corretor-joao", Name: "João Pereira", Role: "broker", Phone: "48999470002", What: "corretor"},
	{ID: "corretora-maria", Name: "Maria Oliveira", Role: "broker", Phone: "48999470003", What: "corretora"},
	{ID: "imob-casa-nova", Name: "Imobiliária Casa Nova", Role: "agency", Phone: "4830300000", What: "imobiliária parceira"},
	{ID: "carla-casa-nova", Name: "Carla Lima", Role: "agency_user", Phone: "48999470004", AgencyID: "imob-casa-nova", What: "usuária da imobiliária"},
	{ID: "corretor-pedro", Name: "Pedro Santos", Role: "broker", What: "corretor sem telefone cadastrado"},
	{ID: "gestor-rafael", Name: "Rafael Costa", Role: "manager", Phone: "48999470005", What: "gestor que não é dono de nenhum lead"},
}

// demoLead is a lead of the demo environment.
type demoLead struct {
	ID, Name, Phone, Broker, Agency string
}

var demoLeads = []demoLead{
	{"l01", "Mariana Alves", "48999476301", "corretor-joao", ""},
	{"l02", "Bruno Carvalho", "48999476302", "corretor-joao", ""},
	{"l03", "Fernanda Ribeiro", "48999476303", "corretor-joao", ""},
	{"l04", "Gustavo Martins", "48999476304", "corretor-joao", ""},
	{"l05", "Juliana Rocha", "48999476305", "corretora-maria", ""},
	{"l06", "Ricardo Gomes", "48999476306", "corretora-maria", ""},
	{"l07", "Patrícia Dias", "48999476307", "corretora-maria", "imob-casa-nova"},
	{"l08", "Thiago Barbosa", "48999476308", "corretor-pedro", ""},
	{"l09", "Camila Freitas", "48999476309", "corretor-pedro", ""},
	{"l10", "Eduardo Nunes", "48999476310", "", "imob-casa-nova"},
	{"l11", "Larissa Mendes", "48999476311", "", "imob-casa-nova"},
	{"l12", "Felipe Araújo", "48999476312", "corretor-joao", "imob-casa-nova"},
}

// The demo's manager, who configures the integration, and owns every lead.
const demoManager = "gestora-ana"

// demoPartnerEmail is the e-mail of the partner token partner-sim calls back with.
const demoPartnerEmail = "partner-sim@demo.callconnect.example"

// demoTokenDescription marks the demo's partner tokens, so that a run
// revokes those of the runs before.
const demoTokenDescription = "partner-sim de make demo"

// runDemo serves with the demo: partner-sim's socket is opened first, so
// that its address (allowed as a partner URL, that one alone) is known
// before the service starts.
func runDemo(cfg Config, d demoSettings, getenv func(string) string, stdout, stderr io.Writer) int {
	if d.CompletedShare < 0 || d.CompletedShare > 1 || d.Delay < 0 {
		fmt.Fprintln(stderr, "callconnect demo: --completed-share must be between 0 and 1, --delay not negative")
		return 2
	}
	ln, err := net.Listen("tcp", d.PartnerAddr)
	if err != nil {
		fmt.Fprintf(stderr, "callconnect demo: partner-sim cannot listen on %s: %v (choose another with --partner-addr)\n", d.PartnerAddr, err)
		return 1
	}
	partnerURL := "http://" + ln.Addr().String() + "/chamadas"
	origin, err := domain.ParseAllowedPartnerOrigin(partnerURL)
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "callconnect demo: --partner-addr must be an IP address and port: %v\n", err)
		return 2
	}
	cfg.AllowedPartnerOrigins = append(cfg.AllowedPartnerOrigins, origin)
	return serve(cfg, getenv, true, stdout, stderr, demoModule(d, ln, partnerURL, stdout))
}

// demoModule adds the demo to the service: the page at /demo/, and on
// start the data and partner-sim. Options, not a module: the page joins the
// HTTP module's Ops, and a module's decorations stay inside it.
func demoModule(d demoSettings, ln net.Listener, partnerURL string, stdout io.Writer) fx.Option {
	return fx.Options(
		fx.Provide(func(cfg Config, svc app.Services, widgets *httpapi.WidgetTokens, logger *slog.Logger) *demo {
			return &demo{settings: d, cfg: cfg, svc: svc, widgets: widgets, logger: logger.With("component", "demo"), simLogger: logger,
				listener: ln, partnerURL: partnerURL, out: stdout, page: template.Must(template.New("demo").Parse(demoPage))}
		}),
		fx.Decorate(func(ops httpapi.Ops, d *demo) httpapi.Ops {
			ops.Demo = d
			return ops
		}),
		fx.Invoke(func(lc fx.Lifecycle, d *demo) {
			lc.Append(fx.Hook{OnStart: d.start, OnStop: d.stop})
		}),
	)
}

// demo seeds the demo environment, runs its partner-sim and serves its page.
type demo struct {
	settings   demoSettings
	cfg        Config
	svc        app.Services
	widgets    *httpapi.WidgetTokens
	logger     *slog.Logger
	simLogger  *slog.Logger
	listener   net.Listener
	partnerURL string
	out        io.Writer
	page       *template.Template

	sim    *partnerSim
	server *http.Server
}

// demoState is what the state file keeps between runs.
type demoState struct {
	SigningSecret string `json:"signing_secret"`
	PartnerToken  string `json:"partner_token"`
}

func (d *demo) start(ctx context.Context) error {
	secret, token, err := d.seed(ctx)
	if err != nil {
		d.listener.Close()
		return fmt.Errorf("demo: %w", err)
	}
	simLog := d.simLogger.With("component", "partner-sim")
	d.sim = newPartnerSim(simConfig{Addr: d.listener.Addr().String(), Secret: secret, Token: token, Email: demoPartnerEmail,
		Delay: d.settings.Delay, CompletedShare: d.settings.CompletedShare, Style: simStyleMixed, MaxCalls: 1000},
		simLog, &http.Client{Timeout: simTimeout})
	d.server = &http.Server{Handler: d.sim, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := d.server.Serve(d.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.logger.Error("partner-sim stopped serving", "error", err)
		}
	}()
	base := strings.TrimRight(d.cfg.PublicURL, "/")
	fmt.Fprintf(d.out, "Demo: %s%s (a pretend CRM: choose a user, press Ligar)\n", base, httpapi.DemoPath)
	fmt.Fprintf(d.out, "  Console of the demo: %s%senv/%s/ (sign in with the admin token)\n", base, console.Path, demoEnvID)
	fmt.Fprintf(d.out, "  partner-sim: %s (answers the calls, reports back after %s)\n\n", d.partnerURL, d.settings.Delay)
	return nil
}

func (d *demo) stop(ctx context.Context) error {
	if d.sim == nil {
		return nil
	}
	d.sim.close()
	return d.server.Shutdown(ctx)
}

// seed puts the demo's environment, users, leads and integration (again),
// and returns the signing secret and partner token partner-sim uses.
func (d *demo) seed(ctx context.Context) (secret, token string, err error) {
	cfgSvc := d.svc.Configuration
	_, err = cfgSvc.PutEnvironment(ctx, domain.EnvironmentInput{ID: demoEnvID, Name: "Imobiliária Horizonte (demonstração)",
		PublicBaseURL: d.cfg.PublicURL, CallConnectEnabled: true, WidgetOrigins: demoOrigins(d.cfg.PublicURL)})
	if err != nil {
		return "", "", fmt.Errorf("the environment: %w", err)
	}
	for _, u := range demoUsers {
		if _, err := cfgSvc.PutUser(ctx, domain.UserInput{EnvID: demoEnvID, ID: u.ID, Name: u.Name, Role: u.Role, Phone: u.Phone,
			AgencyID: u.AgencyID, CanManageIntegrations: u.Manages}); err != nil {
			return "", "", fmt.Errorf("user %s: %w", u.ID, err)
		}
	}
	for _, l := range demoLeads {
		if _, err := cfgSvc.PutLead(ctx, domain.LeadInput{EnvID: demoEnvID, ID: l.ID, Name: l.Name, Phone: l.Phone,
			Origin: "Portal de imóveis", ManagerID: demoManager, BrokerID: l.Broker, AgencyID: l.Agency}); err != nil {
			return "", "", fmt.Errorf("lead %s: %w", l.ID, err)
		}
	}
	state := d.readState()
	secret, err = d.integration(ctx, state.SigningSecret)
	if err != nil {
		return "", "", fmt.Errorf("the Call Connect integration: %w", err)
	}
	token, err = d.partnerToken(ctx, state.PartnerToken)
	if err != nil {
		return "", "", fmt.Errorf("the partner token: %w", err)
	}
	if secret != state.SigningSecret || token != state.PartnerToken {
		d.writeState(demoState{SigningSecret: secret, PartnerToken: token})
	}
	return secret, token, nil
}

// integration points Call Connect at partner-sim and activates it. The
// signing secret is shown only when made: the one kept from the last run
// is used while it is still the current one, else the secret is rotated.
func (d *demo) integration(ctx context.Context, kept string) (string, error) {
	tel := d.svc.Telephony
	res, err := tel.PutIntegration(ctx, demoEnvID, domain.ProviderCallConnect, demoManager,
		domain.IntegrationSettings{PartnerURL: d.partnerURL, DialMode: "phone"})
	if err != nil {
		return "", err
	}
	secret := res.NewSecret
	if secret == "" {
		for _, s := range res.Integration.Secrets() {
			if s.ExpiresAt == nil && s.Value == kept && kept != "" {
				secret = kept
			}
		}
	}
	if secret == "" {
		rotated, err := tel.RotateSecret(ctx, demoEnvID, demoManager)
		if err != nil {
			return "", err
		}
		secret = rotated.NewSecret
	}
	if !res.Integration.Active() {
		if _, err := tel.Activate(ctx, demoEnvID, domain.ProviderCallConnect, demoManager); err != nil {
			return "", err
		}
	}
	return secret, nil
}

// partnerToken is the token kept from the last run while it still
// authenticates; else the demo's old tokens are revoked and a new one made.
func (d *demo) partnerToken(ctx context.Context, kept string) (string, error) {
	pt := d.svc.PartnerTokens
	if kept != "" {
		if t, err := pt.Authenticate(ctx, demoPartnerEmail, kept); err == nil && t.EnvID() == demoEnvID {
			return kept, nil
		}
	}
	old, err := pt.List(ctx, demoEnvID)
	if err != nil {
		return "", err
	}
	for _, t := range old {
		if t.Description() == demoTokenDescription && t.RevokedAt() == nil {
			if _, err := pt.Revoke(ctx, demoEnvID, t.ID()); err != nil {
				return "", err
			}
		}
	}
	_, plain, err := pt.Create(ctx, demoEnvID, demoPartnerEmail, demoTokenDescription)
	return plain, err
}

func (d *demo) readState() demoState {
	var s demoState
	if d.settings.State == "" {
		return s
	}
	b, err := os.ReadFile(d.settings.State)
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		d.logger.Warn("the demo's state file is unreadable: new secrets are made", "file", d.settings.State, "error", err)
	}
	return s
}

// writeState keeps the secrets for the next run, readable by the owner only.
func (d *demo) writeState(s demoState) {
	if d.settings.State == "" {
		return
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := os.MkdirAll(filepath.Dir(d.settings.State), 0o700); err == nil {
		err = os.WriteFile(d.settings.State, append(b, '\n'), 0o600)
		if err == nil {
			return
		}
	}
	d.logger.Warn("the demo's state file cannot be written: the next run makes new secrets", "file", d.settings.State)
}

// demoOrigins are the browser origins of the demo page: the public URL's,
// and for a loopback address both its names, as a newcomer may type either.
func demoOrigins(publicURL string) []string {
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" {
		return nil
	}
	out := []string{u.Scheme + "://" + u.Host}
	switch host, port := u.Hostname(), u.Port(); host {
	case "127.0.0.1", "::1":
		out = append(out, u.Scheme+"://localhost"+portSuffix(port))
	case "localhost":
		out = append(out, u.Scheme+"://127.0.0.1"+portSuffix(port))
	}
	return out
}

func portSuffix(port string) string {
	if port == "" {
		return ""
	}
	return ":" + port
}

// demoLabels are the page's words, in Portuguese and English.
var demoLabels = map[string]map[string]string{
	"pt": {"title": "CRM de demonstração", "intro": "Um CRM de mentira para ver o Call Connect funcionando: escolha um usuário e aperte Ligar num lead. O botão é o elemento <call-connect-button>, com um token emitido pelo servidor do CRM para o usuário escolhido; a ligação vai ao partner-sim, que responde com o resultado e uma gravação.",
		"users": "Ver como", "leads": "Leads", "lead": "Lead", "phone": "Telefone", "manager": "Gestor", "broker": "Corretor",
		"agency": "Imobiliária", "button": "Ligar", "console": "Console", "open": "abrir no console", "other": "English",
		"otherLang": "en", "viewing": "Vendo como", "tokens": "Os tokens do botão valem 15 minutos: recarregue a página depois disso.",
		"consoleLink": "Console do ambiente", "docs": "Documentação da API"},
	"en": {"title": "Demo CRM", "intro": "A pretend CRM to see Call Connect at work: choose a user and press Call on a lead. The button is the <call-connect-button> element, with a token the CRM's server minted for the chosen user; the call goes to partner-sim, which reports the result back with a recording.",
		"users": "View as", "leads": "Leads", "lead": "Lead", "phone": "Phone", "manager": "Manager", "broker": "Broker",
		"agency": "Agency", "button": "Call", "console": "Console", "open": "open in the console", "other": "Português",
		"otherLang": "pt", "viewing": "Viewing as", "tokens": "The button's tokens last 15 minutes: reload the page after that.",
		"consoleLink": "The environment's console", "docs": "API documentation"},
}

// demoRow is one lead of the page.
type demoRow struct {
	demoLead
	Manager, BrokerName, AgencyName string
}

// ServeHTTP serves the page at /demo/ for ?user= (default the first broker).
func (d *demo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != httpapi.DemoPath || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	lang := "pt"
	if r.URL.Query().Get("lang") == "en" {
		lang = "en"
	}
	names := map[string]string{}
	current := demoUsers[1]
	for _, u := range demoUsers {
		names[u.ID] = u.Name
		if u.ID == r.URL.Query().Get("user") {
			current = u
		}
	}
	rows := make([]demoRow, 0, len(demoLeads))
	for _, l := range demoLeads {
		rows = append(rows, demoRow{demoLead: l, Manager: names[demoManager], BrokerName: names[l.Broker], AgencyName: names[l.Agency]})
	}
	// The CRM's server mints the token for the user it shows the page to.
	token, _ := d.widgets.Mint(demoEnvID, current.ID, httpapi.MaxWidgetTokenTTL)
	data := map[string]any{"L": demoLabels[lang], "Lang": lang, "HTMLLang": map[string]string{"pt": "pt-BR", "en": "en"}[lang],
		"Users": demoUsers, "User": current, "Leads": rows, "Token": token, "API": strings.TrimRight(d.cfg.PublicURL, "/"),
		"Script": httpapi.WidgetScriptPath, "Console": console.Path + "env/" + demoEnvID + "/"}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store") // the page carries a token
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if err := d.page.Execute(w, data); err != nil {
		d.logger.Error("rendering the demo page", "error", err)
	}
}

const demoPage = `<!doctype html>
<html lang="{{.HTMLLang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.L.title}} · Call Connect</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1f2937; background: #f8fafc; }
header { background: #0f3b5f; color: #fff; padding: 1rem 1.5rem; }
header h1 { margin: 0; font-size: 1.4rem; }
main { padding: 1rem 1.5rem; max-width: 72rem; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .5rem; }
nav a { display: inline-block; padding: .3rem .7rem; border: 1px solid #94a3b8; border-radius: 999px; color: #0f3b5f; text-decoration: none; background: #fff; }
nav a[aria-current="page"] { background: #0f3b5f; color: #fff; border-color: #0f3b5f; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .5rem .6rem; border-bottom: 1px solid #e2e8f0; vertical-align: middle; }
.scroll { overflow-x: auto; }
.note { color: #475569; font-size: .9rem; }
call-connect-button { --ccb-font-size: .95rem; }
</style>
</head>
<body>
<header><h1>Imobiliária Horizonte · {{.L.title}}</h1></header>
<main>
<p>{{.L.intro}}</p>
<p><a id="lang-switch" href="?user={{.User.ID}}&amp;lang={{.L.otherLang}}">{{.L.other}}</a> ·
<a href="{{.Console}}">{{.L.consoleLink}}</a> · <a href="/docs">{{.L.docs}}</a></p>
<nav aria-label="{{.L.users}}"><h2>{{.L.users}}</h2>
<ul id="users">{{range .Users}}
<li><a href="?user={{.ID}}&amp;lang={{$.Lang}}" data-user="{{.ID}}"{{if eq .ID $.User.ID}} aria-current="page"{{end}}>{{.Name}} <small>({{.What}})</small></a></li>{{end}}
</ul></nav>
<h2 id="leads-heading">{{.L.leads}}</h2>
<p id="viewing">{{.L.viewing}}: <strong>{{.User.Name}}</strong> ({{.User.What}})</p>
<div class="scroll">
<table id="leads" aria-labelledby="leads-heading">
<thead><tr><th scope="col">{{.L.lead}}</th><th scope="col">{{.L.phone}}</th><th scope="col">{{.L.manager}}</th><th scope="col">{{.L.broker}}</th><th scope="col">{{.L.agency}}</th><th scope="col">{{.L.button}}</th><th scope="col">{{.L.console}}</th></tr></thead>
<tbody>{{range .Leads}}
<tr id="lead-{{.ID}}"><td>{{.Name}}</td><td>{{.Phone}}</td><td>{{.Manager}}</td><td>{{.BrokerName}}</td><td>{{.AgencyName}}</td>
<td><call-connect-button lead="{{.ID}}" token="{{$.Token}}" api="{{$.API}}"{{if eq $.Lang "en"}} lang="en"{{end}}></call-connect-button></td>
<td><a href="{{$.Console}}leads/{{.ID}}">{{$.L.open}}</a></td></tr>{{end}}
</tbody></table></div>
<p class="note">{{.L.tokens}}</p>
</main>
<script src="{{.Script}}"></script>
</body>
</html>
`
