package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"callconnect/adapters/cvio"
	"callconnect/adapters/system"
	"callconnect/adapters/webhook"
	"callconnect/app"
	"callconnect/domain"
)

// checkSecretEnv is where partner-check finds the secret without --secret:
// the variable the partner guide's verification snippets read it from.
const checkSecretEnv = "WEBHOOK_SECRET"

const partnerCheckUsage = `usage: callconnect partner-check URL --secret whsec_… [--timeout 15s]

Checks a partner's endpoint before it goes live. It POSTs to URL, one at a
time, what Call Connect sends and what an attacker could, and reports each
check as PASS or FAIL with what was sent and what came back:

  (a) a correctly signed sample call                     expects 2xx
  (b) the same, with a signature made with another secret expects 4xx
  (c) a correctly signed call stamped 10 minutes ago      expects 4xx
  (d) (a) replayed: its webhook-id, body and signature
      under a later webhook-timestamp                     expects 4xx
  (e) (a)'s webhook-id again, correctly signed under a
      fresh timestamp, as Call Connect retries a call     expects 2xx

The body is the real call's, made by the service's own encoder with sample
values and "teste": true (a partner answers a test call without dialling), and
signed by the service's own signer (Standard Webhooks). Redirects are not
followed, as Call Connect does not follow them.

Any URL is allowed, loopback and private addresses and plain http included:
this is a developer's tool, run by a partner against its own endpoint (for
instance http://127.0.0.1:8080/ on its machine); Call Connect itself delivers
only to public https URLs in production.

The secret is the integration's signing secret (whsec_…), shown once when the
integration is created or its secret rotated; without --secret it is read
from $` + checkSecretEnv + `.

Exit code: 0 when every check passes, 1 when any fails, 2 on a usage error.

flags:
`

// partnerCheckCommand is `callconnect partner-check URL --secret whsec_…`.
func partnerCheckCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runPartnerCheck(ctx, args, getenv, stdout, stderr)
}

// runPartnerCheck parses the arguments, then sends each check to the
// partner's URL and prints what it answered; it returns the exit code.
func runPartnerCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, code := parseCheckArgs(args, getenv, stdout, stderr)
	if code >= 0 {
		return code
	}
	checks, err := partnerChecks(cfg.secret, cfg.mode, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "callconnect partner-check: %v\n", err)
		return 1
	}
	client := &http.Client{
		Timeout: cfg.timeout,
		// A 3xx is the partner's answer, as Call Connect takes it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	fmt.Fprintf(stdout, "partner-check %s\n\n", cfg.target)
	failed := 0
	for _, c := range checks {
		r := c.run(ctx, client, cfg.target)
		if !r.pass {
			failed++
		}
		r.write(stdout, c)
	}
	fmt.Fprintf(stdout, "%d checks: %d passed, %d failed\n", len(checks), len(checks)-failed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}

// checkConfig is what partner-check's arguments ask for.
type checkConfig struct {
	target  string // the partner's URL
	secret  string
	timeout time.Duration
	mode    domain.DialMode
}

// parseCheckArgs reads the flags, the URL and the environment; code is -1
// when the checks are to run, else the exit code (0 after --help).
func parseCheckArgs(args []string, getenv func(string) string, stdout, stderr io.Writer) (cfg checkConfig, code int) {
	fs := flag.NewFlagSet("partner-check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	fs.StringVar(&cfg.secret, "secret", "", "the integration's signing secret, whsec_… (default $"+checkSecretEnv+")")
	fs.DurationVar(&cfg.timeout, "timeout", 15*time.Second, "how long each request may take (Call Connect gives a partner 15 s)")
	dialMode := fs.String("dial-mode", "phone", "the sample call's modo_discagem: phone (telefone) or extension (ramal)")
	// The URL may come before the flags or after them.
	var positional []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, partnerCheckUsage)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return cfg, 0
			}
			fmt.Fprintln(stderr, "run callconnect partner-check --help for its flags")
			return cfg, 2
		}
		if fs.NArg() == 0 {
			break
		}
		positional, rest = append(positional, fs.Arg(0)), fs.Args()[1:]
	}
	if cfg.secret == "" {
		cfg.secret = strings.TrimSpace(getenv(checkSecretEnv))
	}
	var problems []string
	if len(positional) != 1 {
		problems = append(problems, fmt.Sprintf("one URL is required (the partner's endpoint), got %d arguments", len(positional)))
	} else if u, err := url.Parse(positional[0]); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Sprintf("URL: must be an absolute http(s) URL, got %q", positional[0]))
	} else {
		cfg.target = positional[0]
	}
	if cfg.secret == "" {
		problems = append(problems, "--secret (or "+checkSecretEnv+"): the integration's signing secret is required")
	} else if _, err := webhook.Sign("msg_check", time.Now(), nil, []string{cfg.secret}); err != nil {
		problems = append(problems, "--secret: must be whsec_ followed by base64, as the integration showed it")
	}
	if cfg.timeout <= 0 {
		problems = append(problems, "--timeout: must be positive")
	}
	var err error
	if cfg.mode, err = domain.ParseDialMode(*dialMode); err != nil {
		problems = append(problems, "--dial-mode: must be phone or extension")
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "callconnect partner-check:\n  %s\n", strings.Join(problems, "\n  "))
		return cfg, 2
	}
	return cfg, -1
}

// partnerCheck is one request sent and what its answer must be.
type partnerCheck struct {
	label, name string
	accept      bool // 2xx expected; else 4xx
	webhookID   string
	timestamp   time.Time
	signature   string
	// about says what is special about the request's headers.
	about map[string]string
	body  []byte
	// failure says what a failure means for the partner, and what to do.
	failure string
}

// partnerChecks makes the checks' requests: fresh sample calls for (a), (b)
// and (c), (a)'s own for (d) and (e).
func partnerChecks(secret string, mode domain.DialMode, now time.Time) ([]partnerCheck, error) {
	ids := system.NewRandom()
	sample := func() (string, []byte, error) {
		callID := app.TestCallPrefix + ids.NewID()
		body, err := samplePartnerCall("https://crm.example.com", callID, mode, now, true)
		return "msg_" + callID, body, err
	}
	sign := func(id string, ts time.Time, body []byte, s string) string {
		sig, _ := webhook.Sign(id, ts, body, []string{s}) // the secrets were checked
		return sig
	}
	aID, aBody, err := sample()
	if err != nil {
		return nil, err
	}
	bID, bBody, err := sample()
	if err != nil {
		return nil, err
	}
	cID, cBody, err := sample()
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	other := webhook.SecretPrefix + base64.StdEncoding.EncodeToString(key)
	old := now.Add(-10 * time.Minute)
	// (d) and (e) come after (a): a second later at least, so that their
	// timestamp differs from (a)'s.
	later := now.Add(time.Second)
	aSig := sign(aID, now, aBody, secret)
	return []partnerCheck{
		{label: "(a)", name: "a correctly signed sample call is accepted", accept: true,
			webhookID: aID, timestamp: now, signature: aSig, body: aBody,
			about: map[string]string{"webhook-signature": "signed with the secret given"},
			failure: "Call Connect's calls would be refused. Check the key (the bytes the base64 after whsec_ encodes, not the text), " +
				"that the signature is computed over the raw body before any JSON parsing, and that the answer is a 2xx within 15 s"},
		{label: "(b)", name: "a call signed with another secret is refused", webhookID: bID, timestamp: now,
			signature: sign(bID, now, bBody, other), body: bBody,
			about: map[string]string{"webhook-signature": "signed with another, random secret"},
			failure: "anyone who finds the URL could place calls. Compare webhook-signature with the HMAC-SHA256 of " +
				"<webhook-id>.<webhook-timestamp>.<raw body> under the secret, and answer 401 when no v1 signature matches"},
		{label: "(c)", name: "a correctly signed call stamped 10 minutes ago is refused", webhookID: cID, timestamp: old,
			signature: sign(cID, old, cBody, secret), body: cBody,
			about:   map[string]string{"webhook-timestamp": "10 minutes ago", "webhook-signature": "signed with the secret given, for that timestamp"},
			failure: "a captured request could be sent again later. Answer 401 when webhook-timestamp is more than 5 minutes from your clock"},
		{label: "(d)", name: "(a) replayed under a later timestamp is refused", webhookID: aID, timestamp: later,
			signature: aSig, body: aBody,
			about: map[string]string{"webhook-id": "(a)'s", "webhook-timestamp": "a second after (a)'s",
				"webhook-signature": "(a)'s, made for (a)'s timestamp"},
			failure: "a captured request could be replayed under a fresh timestamp. The signature covers the timestamp: " +
				"verify it over the webhook-timestamp received, not over the body alone"},
		{label: "(e)", name: "(a)'s webhook-id again, correctly signed, is answered 2xx (a retry)", accept: true,
			webhookID: aID, timestamp: later, signature: sign(aID, later, aBody, secret), body: aBody,
			about: map[string]string{"webhook-id": "(a)'s", "webhook-timestamp": "a second after (a)'s",
				"webhook-signature": "signed with the secret given"},
			failure: "Call Connect sends a call again, with the same webhook-id, when an answer is lost; a 4xx makes the call undeliverable " +
				"and a 5xx makes it retry. Answer a webhook-id already accepted with 2xx, without dialling again"},
	}, nil
}

// samplePartnerCall is a call's body as the service encodes it: a sample
// lead with its three owners, pressed by its broker at now, on an
// environment at base; test marks a test call.
func samplePartnerCall(base, callID string, mode domain.DialMode, now time.Time, test bool) ([]byte, error) {
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "partner-check", Name: "partner-check", PublicBaseURL: base})
	if err != nil {
		return nil, err
	}
	owners := map[string]domain.User{}
	var broker domain.User
	for _, in := range []domain.UserInput{
		{ID: "teste_gestor", Name: "Gestor de teste", Role: string(domain.RoleManager), Phone: "48999476359", Extension: "1234"},
		{ID: "teste_corretor", Name: "Corretor de teste", Role: string(domain.RoleBroker), Phone: "48999476358", Extension: "1235"},
		{ID: "teste_imobiliaria", Name: "Imobiliária de teste", Role: string(domain.RoleAgency), Phone: "4830303030", Extension: "10"},
	} {
		in.EnvID = env.ID()
		u, err := domain.NewUser(in)
		if err != nil {
			return nil, err
		}
		owners[u.ID()] = u
		if u.Role() == domain.RoleBroker {
			broker = u
		}
	}
	score := 27
	registered := now.Add(-30 * 24 * time.Hour).Truncate(time.Second)
	lead, err := domain.NewLead(domain.LeadInput{EnvID: env.ID(), ID: "teste_lead", Name: "Lead de teste", Email: "lead.teste@example.com",
		Phone: "48999476357", Score: &score, RegisteredAt: &registered, MainMedia: "Site", Origin: "partner-check",
		Stage:        &domain.Ref{ID: "teste_situacao", Name: "Em Atendimento"},
		Developments: []domain.Ref{{ID: "teste_empreendimento", Name: "Empreendimento de teste"}},
		ManagerID:    "teste_gestor", BrokerID: broker.ID(), AgencyID: "teste_imobiliaria"})
	if err != nil {
		return nil, err
	}
	return cvio.PartnerPayload(domain.PartnerPayloadInput{Env: env, Lead: lead, Actor: broker, Owners: owners,
		CallID: callID, ClickedAt: now, DialMode: mode, Test: test})
}

// checkResult is what became of one check.
type checkResult struct {
	pass     bool
	status   string // the answer's status line; "" when none came
	body     []byte
	err      error
	took     time.Duration
	headers  http.Header // as sent
	verdict  string
	endpoint string
}

func (c partnerCheck) run(ctx context.Context, client *http.Client, target string) checkResult {
	res := checkResult{endpoint: target}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(c.body))
	if err != nil {
		res.err = err
		res.verdict = "not sent"
		return res
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "CallConnect/partner-check (+https://callconnect.dev)")
	h.Set("Webhook-Id", c.webhookID)
	h.Set("Webhook-Timestamp", strconv.FormatInt(c.timestamp.Unix(), 10))
	h.Set("Webhook-Signature", c.signature)
	res.headers = h.Clone()
	started := time.Now()
	r, err := client.Do(req)
	res.took = time.Since(started)
	if err != nil {
		res.err = err
		res.verdict = "no answer"
		return res
	}
	defer r.Body.Close()
	res.body, _ = io.ReadAll(io.LimitReader(r.Body, 64<<10))
	res.status = r.Status
	class := r.StatusCode / 100
	switch {
	case c.accept && class == 2, !c.accept && class == 4:
		res.pass = true
	case !c.accept && class == 2:
		res.verdict = "accepted what it must refuse"
	case !c.accept && class == 5:
		res.verdict = "a 5xx is a failure to Call Connect, which retries it; refuse with 401"
	case class == 3:
		res.verdict = "Call Connect takes a 3xx as a final refusal and does not follow it"
	default:
		res.verdict = "want " + map[bool]string{true: "2xx", false: "4xx"}[c.accept]
	}
	if res.pass && !c.accept && r.StatusCode != http.StatusUnauthorized {
		res.verdict = "refused, though the partner guide answers 401"
	}
	return res
}

// write reports one check: verdict, what was sent (the signature's value
// left out) and what came back.
func (r checkResult) write(w io.Writer, c partnerCheck) {
	word, want := "FAIL", "4xx"
	if r.pass {
		word = "PASS"
	}
	if c.accept {
		want = "2xx"
	}
	got := r.status
	if got == "" {
		got = "no answer"
	}
	fmt.Fprintf(w, "%s %s %s: want %s, got %s\n", word, c.label, c.name, want, got)
	if r.verdict != "" {
		fmt.Fprintf(w, "     %s\n", r.verdict)
	}
	fmt.Fprintf(w, "     sent:     POST %s\n", r.endpoint)
	for _, name := range []string{"Content-Type", "User-Agent", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"} {
		value, about := r.headers.Get(name), c.about[strings.ToLower(name)]
		if name == "Webhook-Signature" {
			value, about = "v1,…", strings.TrimPrefix(about+"; value not shown", "; ")
		}
		if about != "" {
			value += " (" + about + ")"
		}
		fmt.Fprintf(w, "               %s: %s\n", name, value)
	}
	fmt.Fprintf(w, "               body (%d bytes): %s\n", len(c.body), excerptText(c.body, 160))
	if r.err != nil {
		fmt.Fprintf(w, "     received: nothing after %s: %v\n", r.took.Round(time.Millisecond), r.err)
	} else {
		fmt.Fprintf(w, "     received: %s after %s\n", r.status, r.took.Round(time.Millisecond))
		fmt.Fprintf(w, "               body (%d bytes): %q\n", len(r.body), excerptText(r.body, 300))
	}
	if !r.pass {
		fmt.Fprintf(w, "     why it matters: %s\n", c.failure)
	}
	fmt.Fprintln(w)
}
