package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"callconnect/domain"
)

// envBase is the console path of an environment.
func envBase(envID string) string { return Path + "env/" + url.PathEscape(envID) }

// environment loads the environment the request names; when it cannot, it
// answers (404 for an unknown or malformed id) and returns false.
func (c *Console) environment(w http.ResponseWriter, r *http.Request, s session) (domain.Environment, *envView, bool) {
	id := r.PathValue("env")
	var env domain.Environment
	err := errBadEnv
	if domain.ValidID(id) {
		env, err = c.svc.Configuration.GetEnvironment(r.Context(), id)
	}
	if err != nil {
		if isNotFound(err) || errors.Is(err, errBadEnv) {
			l := trOf(r)
			c.render(w, r, http.StatusNotFound, "message", view{Title: l.t("noenv.title"), CSRF: s.CSRF,
				Data: message{Heading: l.t("noenv.title"), Text: l.t("noenv.text", id), Link: Path, LinkText: l.t("link.back_home")}})
			return env, nil, false
		}
		c.failed(w, r, s, err)
		return env, nil, false
	}
	ev := newEnvView(env)
	return env, &ev, true
}

// isNotFound reports whether err says that what was asked for does not exist.
func isNotFound(err error) bool {
	de, ok := domain.AsError(err)
	return ok && de.Kind == domain.KindNotFound
}

// failed shows an error page for an action or a read that failed.
func (c *Console) failed(w http.ResponseWriter, r *http.Request, s session, err error) {
	status, text := c.problemText(r, err)
	l := trOf(r)
	c.render(w, r, status, "message", view{Title: l.t("failed.title"), CSRF: s.CSRF,
		Data: message{Heading: l.t("failed.heading"), Text: text, Link: Path, LinkText: l.t("link.back_home")}})
}

// home lists the environments to pick from.
func (c *Console) home(w http.ResponseWriter, r *http.Request, s session) {
	if id := r.URL.Query().Get("env"); id != "" {
		http.Redirect(w, r, envBase(id)+"/", http.StatusSeeOther)
		return
	}
	after := r.URL.Query().Get("after")
	envs, err := c.svc.Configuration.ListEnvironments(r.Context(), after, pageOfEnvironments+1)
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	data := homeData{}
	if len(envs) > pageOfEnvironments {
		envs = envs[:pageOfEnvironments]
		data.Next = Path + "?after=" + url.QueryEscape(envs[len(envs)-1].ID())
	}
	for _, e := range envs {
		data.Environments = append(data.Environments, newEnvView(e))
	}
	c.render(w, r, http.StatusOK, "home", view{Title: trOf(r).t("home.heading"), CSRF: s.CSRF, Data: data})
}

const pageOfEnvironments = 100

type homeData struct {
	Environments []envView
	Next         string
}

// overviewData is the environment overview: its Call Connect integration,
// the other telephony integrations, and the partner tokens.
type overviewData struct {
	Configured bool
	Active     bool
	PartnerURL string
	DialMode   string
	// Secrets is how many signing secrets sign each delivery now (2 during
	// a rotation's grace period).
	Secrets int
	// Button says, in words, whether the call button can be enabled and why not.
	Button       string
	ButtonOK     bool
	Others       []otherIntegration
	Managers     []userView
	Tokens       []tokenView
	Flash, Error string
	// Form keeps what the operator typed when a change was refused.
	Form configureForm
	// TestCall is the answer of the test call just sent; nil otherwise.
	TestCall *testCallView
	// Subscriptions are the event subscriptions; DisabledSubscriptions
	// those disabled, each with a notice.
	Subscriptions, DisabledSubscriptions []subscriptionView
	// RetryDays and DisableDays are the subscriptions' rules, in days.
	RetryDays, DisableDays int
}

// testCallView is what a test call came to, as the overview shows it.
type testCallView struct {
	CallID, WebhookID string
	// StatusCode is the partner's status, 0 when no answer came back.
	StatusCode int
	// Accepted is a 2xx: what a real call needs to be delivered.
	Accepted bool
	Duration string
	Excerpt  string
	Error    string
	// Exchange is the console path of the monitor's record of it.
	Exchange string
}

type otherIntegration struct {
	Provider string
	Active   bool
}

type userView struct{ ID, Name string }

type tokenView struct {
	ID, Email, Description, Created, Revoked string
}

type configureForm struct {
	Actor, PartnerURL, DialMode string
}

// flashes are the messages a redirect after a change may ask for, by the
// catalogue key of their words; only these fixed texts are ever shown,
// whatever the query says.
var flashes = map[string]string{
	"configured":  "flash.configured",
	"activated":   "flash.activated",
	"deactivated": "flash.deactivated",
	"revoked":     "flash.revoked",
	"redelivered": "flash.redelivered",
}

// flashOf is the message the request's done parameter asks for, in its
// language; "" for none or one that is not a flash.
func flashOf(r *http.Request) string {
	if key, ok := flashes[r.URL.Query().Get("done")]; ok {
		return trOf(r).t(key)
	}
	return ""
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, s session) {
	c.showOverview(w, r, s, http.StatusOK, "", configureForm{})
}

func (c *Console) showOverview(w http.ResponseWriter, r *http.Request, s session, status int, problem string, form configureForm) {
	c.showOverviewWith(w, r, s, status, problem, form, nil)
}

// showOverviewWith is showOverview with the answer of a test call.
func (c *Console) showOverviewWith(w http.ResponseWriter, r *http.Request, s session, status int, problem string, form configureForm, test *testCallView) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	ctx := r.Context()
	data, err := c.overviewData(ctx, trOf(r), env)
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	if form.PartnerURL == "" && form.DialMode == "" {
		form.PartnerURL, form.DialMode = data.PartnerURL, data.DialMode
	}
	data.Form, data.TestCall = form, test
	c.render(w, r, status, "overview", view{Title: trOf(r).t("nav.overview") + " · " + env.Name(), Nav: "overview", CSRF: s.CSRF, Env: ev,
		Flash: flashOf(r), Error: problem, Data: data})
}

func (c *Console) overviewData(ctx context.Context, l lang, env domain.Environment) (overviewData, error) {
	var data overviewData
	integrations, err := c.svc.Telephony.ListIntegrations(ctx, env.ID())
	if err != nil {
		return data, err
	}
	now := c.cfg.Now()
	for _, in := range integrations {
		if in.IsCallConnect() {
			data.Configured, data.Active = true, in.Active()
			data.PartnerURL, data.DialMode = in.ShownPartnerURL(), string(in.DialMode())
			data.Secrets = len(in.SigningSecrets(now))
			continue
		}
		data.Others = append(data.Others, otherIntegration{Provider: in.Provider(), Active: in.Active()})
	}
	data.Button, data.ButtonOK = buttonSummary(l, env, data)
	managers, err := c.svc.Configuration.IntegrationManagers(ctx, env.ID())
	if err != nil {
		return data, err
	}
	for _, u := range managers {
		data.Managers = append(data.Managers, userView{ID: u.ID(), Name: u.Name()})
	}
	tokens, err := c.svc.PartnerTokens.List(ctx, env.ID())
	if err != nil {
		return data, err
	}
	tz := env.TimeZone()
	for _, t := range tokens {
		tv := tokenView{ID: t.ID(), Email: t.Email(), Description: t.Description(), Created: l.formatTime(t.CreatedAt(), tz)}
		if at := t.RevokedAt(); at != nil {
			tv.Revoked = l.formatTime(*at, tz)
		}
		data.Tokens = append(data.Tokens, tv)
	}
	if data.Subscriptions, err = c.subscriptionViews(ctx, l, env); err != nil {
		return data, err
	}
	data.DisabledSubscriptions = disabledNotices(data.Subscriptions)
	data.RetryDays, data.DisableDays = retryWindowDays, disableDays
	return data, nil
}

// buttonSummary says whether the call button can be enabled in the
// environment, and what stops it (rule 5, at the environment's level; each
// user's own reasons are on the lead pages).
func buttonSummary(l lang, env domain.Environment, d overviewData) (string, bool) {
	switch {
	case !env.CallConnectEnabled():
		return l.t("button.not_enabled"), false
	case !d.Configured:
		return l.t("button.not_configured"), false
	case !d.Active:
		for _, o := range d.Others {
			if o.Active {
				return l.t("button.other_active", o.Provider), false
			}
		}
		return l.t("button.inactive"), false
	case d.DialMode == string(domain.DialByExtension):
		return l.t("button.active_extension"), true
	default:
		return l.t("button.active_phone"), true
	}
}

// changeDone answers a successful change by sending the browser back to the
// overview with a fixed message.
func changeDone(w http.ResponseWriter, r *http.Request, envID, done string) {
	http.Redirect(w, r, envBase(envID)+"/?done="+done, http.StatusSeeOther)
}

// secretData is the page that shows a secret once.
type secretData struct {
	Heading, Intro, Label, Secret, Back string
}

func (c *Console) showSecret(w http.ResponseWriter, r *http.Request, s session, ev *envView, d secretData) {
	d.Back = ev.Base + "/"
	c.render(w, r, http.StatusOK, "secret", view{Title: d.Heading, Nav: "overview", CSRF: s.CSRF, Env: ev, Data: d})
}

func (c *Console) configure(w http.ResponseWriter, r *http.Request, s session) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	form := configureForm{Actor: r.PostFormValue("actor_id"), PartnerURL: r.PostFormValue("partner_url"), DialMode: r.PostFormValue("dial_mode")}
	res, err := c.svc.Telephony.PutIntegration(r.Context(), env.ID(), domain.ProviderCallConnect, form.Actor,
		domain.IntegrationSettings{PartnerURL: form.PartnerURL, DialMode: form.DialMode})
	if err != nil {
		status, text := c.problemText(r, err)
		c.showOverview(w, r, s, status, text, form)
		return
	}
	if res.NewSecret != "" {
		l := trOf(r)
		c.showSecret(w, r, s, ev, secretData{Heading: l.t("secret.configured_heading"), Intro: l.t("secret.configured_intro"),
			Label: l.t("secret.signing_label"), Secret: res.NewSecret})
		return
	}
	changeDone(w, r, env.ID(), "configured")
}

func (c *Console) activate(w http.ResponseWriter, r *http.Request, s session) {
	c.switchIntegration(w, r, s, true)
}

func (c *Console) deactivate(w http.ResponseWriter, r *http.Request, s session) {
	c.switchIntegration(w, r, s, false)
}

func (c *Console) switchIntegration(w http.ResponseWriter, r *http.Request, s session, on bool) {
	env, _, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	actor := r.PostFormValue("actor_id")
	var err error
	if on {
		_, err = c.svc.Telephony.Activate(r.Context(), env.ID(), domain.ProviderCallConnect, actor)
	} else {
		_, err = c.svc.Telephony.Deactivate(r.Context(), env.ID(), domain.ProviderCallConnect, actor)
	}
	if err != nil {
		status, text := c.problemText(r, err)
		c.showOverview(w, r, s, status, text, configureForm{Actor: actor})
		return
	}
	changeDone(w, r, env.ID(), map[bool]string{true: "activated", false: "deactivated"}[on])
}

// confirmData is a page that asks before an action that cannot be undone.
type confirmData struct {
	Heading, Text, Action, Button, Back string
	// NeedsActor asks for the user the action is made on behalf of, among Managers.
	NeedsActor bool
	Managers   []userView
}

func (c *Console) rotateConfirm(w http.ResponseWriter, r *http.Request, s session) {
	l := trOf(r)
	c.confirmChange(w, r, s, confirmData{Heading: l.t("rotate.heading"), Text: l.t("rotate.text", shortDuration(domain.PreviousSecretGrace)),
		Action: "/call-connect/rotate-secret", Button: l.t("rotate.button")})
}

func (c *Console) deactivateConfirm(w http.ResponseWriter, r *http.Request, s session) {
	l := trOf(r)
	c.confirmChange(w, r, s, confirmData{Heading: l.t("deactivate.heading"), Text: l.t("deactivate.text"),
		Action: "/call-connect/deactivate", Button: l.t("deactivate.button")})
}

// confirmChange asks before an integration change made on behalf of one of
// the environment's integration managers; d.Action is relative to the
// environment.
func (c *Console) confirmChange(w http.ResponseWriter, r *http.Request, s session, d confirmData) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	managers, err := c.svc.Configuration.IntegrationManagers(r.Context(), env.ID())
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	d.Action, d.Back, d.NeedsActor = ev.Base+d.Action, ev.Base+"/", true
	for _, u := range managers {
		d.Managers = append(d.Managers, userView{ID: u.ID(), Name: u.Name()})
	}
	c.render(w, r, http.StatusOK, "confirm", view{Title: d.Heading, Nav: "overview", CSRF: s.CSRF, Env: ev, Data: d})
}

func (c *Console) rotate(w http.ResponseWriter, r *http.Request, s session) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	actor := r.PostFormValue("actor_id")
	res, err := c.svc.Telephony.RotateSecret(r.Context(), env.ID(), actor)
	if err != nil {
		status, text := c.problemText(r, err)
		c.showOverview(w, r, s, status, text, configureForm{Actor: actor})
		return
	}
	l := trOf(r)
	c.showSecret(w, r, s, ev, secretData{Heading: l.t("secret.rotated_heading"),
		Intro: l.t("secret.rotated_intro", shortDuration(domain.PreviousSecretGrace)),
		Label: l.t("secret.rotated_heading"), Secret: res.NewSecret})
}

func (c *Console) createToken(w http.ResponseWriter, r *http.Request, s session) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	tok, plain, err := c.svc.PartnerTokens.Create(r.Context(), env.ID(), r.PostFormValue("email"), r.PostFormValue("description"))
	if err != nil {
		status, text := c.problemText(r, err)
		c.showOverview(w, r, s, status, text, configureForm{})
		return
	}
	l := trOf(r)
	c.showSecret(w, r, s, ev, secretData{Heading: l.t("secret.token_heading"), Intro: l.t("secret.token_intro", tok.Email()),
		Label: l.t("secret.token_label"), Secret: plain})
}

func (c *Console) revokeConfirm(w http.ResponseWriter, r *http.Request, s session) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	tokens, err := c.svc.PartnerTokens.List(r.Context(), env.ID())
	if err != nil {
		c.failed(w, r, s, err)
		return
	}
	id := r.PathValue("token")
	i := slices.IndexFunc(tokens, func(t domain.PartnerToken) bool { return t.ID() == id })
	if i < 0 {
		c.notFound(w, r)
		return
	}
	l := trOf(r)
	d := confirmData{Heading: l.t("revoke.heading"), Text: l.t("revoke.text", tokens[i].Email(), tokens[i].Description()),
		Action: ev.Base + "/partner-tokens/" + url.PathEscape(id) + "/revoke", Button: l.t("revoke.button"), Back: ev.Base + "/"}
	c.render(w, r, http.StatusOK, "confirm", view{Title: d.Heading, Nav: "overview", CSRF: s.CSRF, Env: ev, Data: d})
}

func (c *Console) revoke(w http.ResponseWriter, r *http.Request, s session) {
	env, _, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	if _, err := c.svc.PartnerTokens.Revoke(r.Context(), env.ID(), r.PathValue("token")); err != nil {
		status, text := c.problemText(r, err)
		c.showOverview(w, r, s, status, text, configureForm{})
		return
	}
	changeDone(w, r, env.ID(), "revoked")
}

// testCall sends a test call on behalf of the integration manager the
// operator picked (the console signs in with the admin token, which is no
// user; the action needs one, as the other integration changes do) and
// shows the partner's answer on the overview. The answer is the page of
// the POST itself, not a redirect: it is shown once, and sending again is
// pressing the button again.
func (c *Console) testCall(w http.ResponseWriter, r *http.Request, s session) {
	env, ev, ok := c.environment(w, r, s)
	if !ok {
		return
	}
	actor := r.PostFormValue("actor_id")
	res, err := c.svc.Calls.SendTestCall(r.Context(), env.ID(), actor)
	if err != nil {
		status, text := c.problemText(r, err)
		c.showOverview(w, r, s, status, text, configureForm{Actor: actor})
		return
	}
	c.showOverviewWith(w, r, s, http.StatusOK, "", configureForm{Actor: actor}, &testCallView{
		CallID: res.CallID, WebhookID: res.WebhookID, StatusCode: res.StatusCode,
		Accepted: domain.Judge(res.StatusCode) == domain.VerdictDelivered, Duration: fmt.Sprintf("%d ms", res.Duration.Milliseconds()),
		Excerpt: res.BodyExcerpt, Error: res.Error, Exchange: ev.Base + "/monitor/" + url.PathEscape(res.ExchangeID)})
}
