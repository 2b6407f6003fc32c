// Package console is the operator console: server-rendered pages at
// /console/ for the people who run integrations. They sign in with the admin
// token, then look at an environment's Call Connect integration, its partner
// tokens, its calls with every delivery attempt, its leads' histories with
// their recordings, and the integration monitor (CVIO).
//
// Every page is built from the app services the /v1 API uses, so the console
// shows and changes exactly what the API does. Templates, styles and the
// little JavaScript the monitor's live updates use are embedded in the binary.
package console

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"callconnect/adapters/httpguard"
	"callconnect/adapters/kindstatus"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// DefaultSessionTTL is how long a sign-in lasts when Config.SessionTTL is unset.
const DefaultSessionTTL = 8 * time.Hour

// Config is what the console is told by the deployment.
type Config struct {
	// AdminToken signs operators in: one token, or several separated by
	// commas, each accepted (httpguard.ParseAdminTokens). Empty refuses every
	// sign-in.
	AdminToken string
	// AdminFailures limits wrong tokens at the sign-in per client address
	// (429 past it); the API's bearer check may share it, so that guesses on
	// either count together. Nil: a limit of the console's own,
	// httpguard.DefaultAdminFailureLimit a minute.
	AdminFailures *httpguard.FailureLimit
	// TrustedProxies are the load balancers whose X-Forwarded-For names the
	// client, and whose X-Forwarded-Proto: https makes the cookies Secure.
	TrustedProxies httpguard.TrustedProxies
	// SecretsKey is the deployment's secrets key; the session cookies are
	// signed with a key derived from it, so every replica accepts them.
	SecretsKey []byte
	// PublicURL is where clients reach the service; an https URL makes the
	// cookies Secure (so do requests that arrive over TLS, directly or
	// through a trusted proxy).
	PublicURL string
	// SessionTTL is how long a sign-in lasts; 0 means DefaultSessionTTL.
	SessionTTL time.Duration
	// Sessions keeps the sessions on the server, where a sign-out ends them;
	// give every replica the same store (the database's). Required: New
	// panics without it.
	Sessions ports.ConsoleSessions
	// Logger receives internal errors (never shown). Nil means slog.Default().
	Logger *slog.Logger
	// Now tells the time (sessions, the calls' date filter); nil means time.Now.
	Now func() time.Time
}

// Services are the use cases the console is built on.
type Services = app.Services

// Path is where the console is served (the HTTP server mounts it there:
// httpapi.Ops.ConsolePath); every route is under it.
const Path = "/console/"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Console serves the console's pages.
type Console struct {
	cfg      Config
	svc      Services
	sessions *sessions
	pages    map[lang]map[string]*template.Template
	mux      *http.ServeMux
	secure   bool
}

// New builds the console.
func New(cfg Config, svc Services) *Console {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sessions == nil {
		panic("console: Config.Sessions is required (the database's, or memory.NewConsoleSessions in a test)")
	}
	if cfg.AdminFailures == nil {
		cfg.AdminFailures = httpguard.NewFailureLimit(httpguard.DefaultAdminFailureLimit, cfg.TrustedProxies, cfg.Now)
	}
	c := &Console{cfg: cfg, svc: svc, sessions: newSessions(cfg.SecretsKey, cfg.AdminToken, cfg.SessionTTL, cfg.Now, cfg.Sessions, cfg.Logger),
		pages: parsePages(), mux: http.NewServeMux(), secure: strings.HasPrefix(cfg.PublicURL, "https://")}
	c.routes()
	return c
}

// ServeHTTP serves every path under Path.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	// The same address answers in the language of the cookie or the browser.
	h.Set("Vary", "Accept-Language, Cookie")
	c.mux.ServeHTTP(w, withLang(r))
}

func (c *Console) routes() {
	m := c.mux
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic("console: static files not embedded: " + err.Error())
	}
	files := http.StripPrefix(Path+"static/", http.FileServerFS(static))
	m.Handle("GET "+Path+"static/{file}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := fs.Stat(static, r.PathValue("file")); err != nil {
			c.notFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	m.HandleFunc("GET "+Path+"sign-in", c.signInForm)
	m.HandleFunc("GET "+Path+"language", c.switchLanguage)
	m.HandleFunc("POST "+Path+"sign-in", c.signIn)
	m.HandleFunc("POST "+Path+"sign-out", c.auth(c.signOut))
	m.HandleFunc("GET "+Path+"{$}", c.auth(c.home))

	env := Path + "env/{env}"
	m.HandleFunc("GET "+env+"/{$}", c.auth(c.overview))
	m.HandleFunc("POST "+env+"/call-connect", c.auth(c.configure))
	m.HandleFunc("POST "+env+"/call-connect/activate", c.auth(c.activate))
	m.HandleFunc("GET "+env+"/call-connect/deactivate", c.auth(c.deactivateConfirm))
	m.HandleFunc("POST "+env+"/call-connect/deactivate", c.auth(c.deactivate))
	m.HandleFunc("GET "+env+"/call-connect/rotate-secret", c.auth(c.rotateConfirm))
	m.HandleFunc("POST "+env+"/call-connect/rotate-secret", c.auth(c.rotate))
	m.HandleFunc("POST "+env+"/call-connect/test", c.auth(c.testCall))
	m.HandleFunc("POST "+env+"/partner-tokens", c.auth(c.createToken))
	m.HandleFunc("GET "+env+"/partner-tokens/{token}/revoke", c.auth(c.revokeConfirm))
	m.HandleFunc("POST "+env+"/partner-tokens/{token}/revoke", c.auth(c.revoke))
	m.HandleFunc("GET "+env+"/calls", c.auth(c.calls))
	m.HandleFunc("GET "+env+"/calls/{call}", c.auth(c.call))
	m.HandleFunc("POST "+env+"/calls/{call}/redeliver", c.auth(c.redeliver))
	m.HandleFunc("GET "+env+"/leads", c.auth(c.findLead))
	m.HandleFunc("GET "+env+"/leads/{lead}", c.auth(c.lead))
	m.HandleFunc("GET "+env+"/recordings/{recording}", c.auth(c.recording))
	m.HandleFunc("GET "+env+"/event-subscriptions/{subscription}", c.auth(c.subscription))
	c.monitorRoutes(env)
	m.HandleFunc(Path, c.notFound)
}

// view is what every page template gets.
type view struct {
	// Lang and Switch are set by render: the page's language and the link
	// to the other one.
	Lang   lang
	Switch *langSwitch
	Title  string
	Nav    string // the section the page belongs to, for aria-current
	CSRF   string // empty on the sign-in page: no session yet
	Flash  string
	Error  string
	Env    *envView
	Data   any
}

type envView struct {
	ID, Name, TimeZone string
	CallConnectEnabled bool
	Base               string // the environment's console path, no trailing slash
}

func newEnvView(e domain.Environment) envView {
	return envView{ID: e.ID(), Name: e.Name(), TimeZone: e.TimeZone().String(),
		CallConnectEnabled: e.CallConnectEnabled(), Base: envBase(e.ID())}
}

// parsePages parses each page with the layout it fills in, once per
// language: the templates' words come from that language's catalogue.
func parsePages() map[lang]map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	all := map[lang]map[string]*template.Template{}
	for l := range catalogues {
		layout := template.Must(template.New("layout.html").Funcs(funcsFor(l)).ParseFS(templateFS, "templates/layout.html"))
		pages := map[string]*template.Template{}
		for _, n := range names {
			name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
			if name == "layout" {
				continue
			}
			pages[name] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, n))
		}
		all[l] = pages
	}
	return all
}

// render writes a page with status. The page is rendered in full first, so a
// template error becomes a clean 500.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	var buf bytes.Buffer
	l := trOf(r)
	v.Lang, v.Switch = l, switchFor(r, l, v.Env)
	t := c.pages[l][page]
	if t == nil {
		c.cfg.Logger.ErrorContext(r.Context(), "console: no such page template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.cfg.Logger.ErrorContext(r.Context(), "console: rendering a page failed", "page", page, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", string(l))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	l := trOf(r)
	c.render(w, r, http.StatusNotFound, "message", view{Title: l.t("notfound.title"), CSRF: c.csrfOf(r),
		Data: message{Heading: l.t("notfound.title"), Text: l.t("notfound.text"), Link: Path, LinkText: l.t("link.back_home")}})
}

// message is the data of a page that only says something.
type message struct {
	Heading, Text, Link, LinkText string
}

// csrfOf returns the request's session CSRF token, "" without a session.
func (c *Console) csrfOf(r *http.Request) string {
	if s, ok := c.sessions.read(r); ok {
		return s.CSRF
	}
	return ""
}

// handler is a console handler that runs with a session.
type handler func(w http.ResponseWriter, r *http.Request, s session)

// auth runs h for signed-in operators. Without a session, a GET is sent to
// the sign-in page (and back here after it); anything else is refused. Every
// POST must carry the session's CSRF token and, when the browser says where
// it comes from, come from this origin.
func (c *Console) auth(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.sessions.read(r)
		l := trOf(r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, Path+"sign-in?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.render(w, r, http.StatusUnauthorized, "message", view{Title: l.t("signedout.title"),
				Data: message{Heading: l.t("signedout.heading"), Text: l.t("signedout.text"),
					Link: Path + "sign-in", LinkText: l.t("signin.button")}})
			return
		}
		if r.Method == http.MethodPost && (!sameOrigin(r) || !sameToken(r.PostFormValue("csrf"), s.CSRF)) {
			c.render(w, r, http.StatusForbidden, "message", view{Title: l.t("refused.title"), CSRF: s.CSRF,
				Data: message{Heading: l.t("refused.heading"), Text: l.t("refused.text"),
					Link: Path, LinkText: l.t("link.back_home")}})
			return
		}
		h(w, r, s)
	}
}

// sameOrigin reports whether a request that names its origin comes from the
// host it was sent to. Browsers send Origin on every POST; a request without
// it (not a browser) is judged by the CSRF token alone.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// safeNext keeps a post-sign-in destination inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Path) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Path
	}
	return next
}

func (c *Console) signInForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.sessions.read(r); ok {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.signInPage(w, r, http.StatusOK, "")
}

type signInData struct {
	Token, Next string
}

// signInPage shows the form with a fresh anti-forgery token, kept in a
// short-lived cookie that the POST must match (no session exists yet).
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request, status int, problem string) {
	tok := randomToken()
	http.SetCookie(w, cookie(signInCookie, tok, 3600, c.secureFor(r)))
	v := view{Title: trOf(r).t("signin.heading"), Error: problem, Data: signInData{Token: tok, Next: safeNext(r.FormValue("next"))}}
	if r.Method == http.MethodGet && r.URL.Query().Get("signed_out") == "1" {
		v.Flash = trOf(r).t("signin.signed_out")
	}
	c.render(w, r, status, "signin", v)
}

// secureFor tells whether the cookies set for r are Secure: the console's
// public URL is https, or r reached the service over TLS (a trusted proxy
// terminating TLS says so in X-Forwarded-Proto), so that the browser never
// sends them back in the clear.
func (c *Console) secureFor(r *http.Request) bool {
	return c.secure || c.cfg.TrustedProxies.ViaTLS(r)
}

func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	pre, err := r.Cookie(signInCookie)
	if err != nil || !sameOrigin(r) || !sameToken(r.PostFormValue("csrf"), pre.Value) {
		c.signInPage(w, r, http.StatusForbidden, trOf(r).t("signin.expired"))
		return
	}
	tokenID, ok := c.sessions.checkToken(r.PostFormValue("token"))
	if !ok {
		// A wrong token counts against the client's address; past its limit
		// the answer is 429, so that guessing is slow (a right token is
		// checked first and always signs in).
		client := c.cfg.AdminFailures.ClientAddr(r).String()
		if allowed, wait := c.cfg.AdminFailures.Failed(r); !allowed {
			secs := max(1, int(math.Ceil(wait.Seconds())))
			c.cfg.Logger.WarnContext(r.Context(), "console: too many wrong admin tokens from one address; a sign-in was refused", "client", client)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			c.signInPage(w, r, http.StatusTooManyRequests, trOf(r).t("signin.too_many", secs))
			return
		}
		c.cfg.Logger.WarnContext(r.Context(), "console: a sign-in with a wrong admin token was refused", "client", client)
		c.signInPage(w, r, http.StatusUnauthorized, trOf(r).t("signin.wrong_token"))
		return
	}
	_, value, err := c.sessions.open(r.Context(), tokenID)
	if err != nil {
		c.cfg.Logger.ErrorContext(r.Context(), "console: a sign-in failed", "error", err)
		c.signInPage(w, r, http.StatusServiceUnavailable, trOf(r).t("signin.unavailable"))
		return
	}
	http.SetCookie(w, cookie(sessionCookie, value, int(c.cfg.SessionTTL/time.Second), c.secureFor(r)))
	http.SetCookie(w, cookie(signInCookie, "", -1, c.secureFor(r)))
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// signOut ends the session on the server, so the cookie is refused by every
// replica from now on (a copy of it too), then deletes it in the browser.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s session) {
	if err := c.sessions.close(r.Context(), s); err != nil {
		c.cfg.Logger.ErrorContext(r.Context(), "console: a sign-out failed", "error", err)
		l := trOf(r)
		c.render(w, r, http.StatusServiceUnavailable, "message", view{Title: l.t("signout_failed.title"), CSRF: s.CSRF,
			Data: message{Heading: l.t("signout_failed.heading"), Text: l.t("signout_failed.text"),
				Link: Path, LinkText: l.t("link.back_home")}})
		return
	}
	http.SetCookie(w, cookie(sessionCookie, "", -1, c.secureFor(r)))
	http.Redirect(w, r, Path+"sign-in?signed_out=1", http.StatusSeeOther)
}

// problemText is what an operator is told about a failed action: the
// domain's rule, in the request's language (errorText), or a generic line
// for anything else, which is logged.
func (c *Console) problemText(r *http.Request, err error) (int, string) {
	if de, ok := domain.AsError(err); ok {
		status, ok := kindstatus.Of(de.Kind)
		if !ok {
			status = http.StatusBadRequest
		}
		return status, errorText(trOf(r), de)
	}
	c.cfg.Logger.ErrorContext(r.Context(), "console: an action failed", "error", err, "path", r.URL.Path)
	return http.StatusInternalServerError, trOf(r).t("error.internal")
}

var errBadEnv = errors.New("bad environment id")
