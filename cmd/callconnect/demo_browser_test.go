package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"callconnect/adapters/postgres/pgtest"
)

// demoProcess is `callconnect demo` running, and where its pages are.
type demoProcess struct {
	*process
	demoURL, consoleURL, partnerURL string
}

// startDemo runs the real binary's demo command against databaseURL, its
// partner-sim on a free port, and waits until it prints the demo's URLs.
func startDemo(t *testing.T, databaseURL, state string, args ...string) *demoProcess {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"demo", "-partner-addr", "127.0.0.1:0", "-state", state}, args...)...)
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+databaseURL,
		"HTTP_ADDR="+addr,
		"CALLCONNECT_ADMIN_TOKEN="+testAdminToken,
		"CALLCONNECT_SECRETS_KEY="+base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"OTEL_TRACES_EXPORTER=", "OTEL_EXPORTER_OTLP_ENDPOINT=",
		"CALLCONNECT_RECORDINGS_DIR="+t.TempDir(),
		"CALLCONNECT_SHUTDOWN_DRAIN=100ms",
		// The demo allows its own partner-sim, nothing wider.
		"CALLCONNECT_ALLOW_PRIVATE_PARTNER_URLS=false", "CALLCONNECT_ALLOW_HTTP_PARTNER_URLS=false",
	)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &demoProcess{process: &process{cmd: cmd, addr: addr, stderr: &strings.Builder{}, done: make(chan error, 1)}}
	cmd.Stderr = &lockedWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	printed := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var seen strings.Builder
		for sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "partner-sim:") { // the demo's last line
				printed <- seen.String()
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { p.done <- cmd.Wait() }()
	select {
	case out := <-printed:
		url := func(label string) string {
			m := regexp.MustCompile(label + `:\s+(\S+)`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("the demo did not print its %s URL:\n%s", label, out)
			}
			return m[1]
		}
		p.demoURL, p.consoleURL, p.partnerURL = url("Demo"), url("Console of the demo"), url("partner-sim")
		if p.demoURL != "http://"+addr+"/demo/" || p.consoleURL != "http://"+addr+"/console/env/demo/" {
			t.Fatalf("the demo's URLs:\n%s", out)
		}
	case err := <-p.done:
		p.done <- err
		t.Fatalf("the demo exited before serving: %v\n%s", err, p.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("the demo did not start within 60s\n%s", p.stderr)
	}
	return p
}

// newChromium opens a headless Chromium tab for the test.
func newChromium(t *testing.T, base string, within time.Duration) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath(t)), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"), chromedp.WindowSize(1280, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	ctx, cancel := context.WithTimeout(ctx, within)
	t.Cleanup(cancel)
	return &browser{t: t, ctx: ctx, base: base, shots: screenshotsDir(t)}
}

// ccbView is what a <call-connect-button> shows, read through its shadow root.
type ccbView struct {
	State, Reason, CallStatus, CallID string
	Hidden                            bool
	Width                             float64
	Tag, Label, AriaDisabled, Title   string
	ReasonText, Status, Live          string
	Background                        string
}

const ccbViewJS = `(sel) => { const e = document.querySelector(sel); if (!e) return null;
	const r = e.shadowRoot, b = r.querySelector('button'), why = r.getElementById(b.getAttribute('aria-describedby')),
		st = r.querySelector('[role=status]');
	return {State: e.dataset.state || '', Reason: e.dataset.reason || '', CallStatus: e.dataset.callStatus || '',
		CallID: e.dataset.callId || '', Hidden: e.hidden, Width: e.getBoundingClientRect().width, Tag: b.tagName,
		Label: b.textContent.trim(), AriaDisabled: b.getAttribute('aria-disabled') || '', Title: b.title,
		ReasonText: why ? why.textContent : '', Status: st.textContent, Live: st.getAttribute('aria-live') || '',
		Background: getComputedStyle(b).backgroundColor}; }`

// ccb reads the element sel.
func (b *browser) ccb(sel string) ccbView {
	b.t.Helper()
	var v ccbView
	raw := eval[map[string]any](b, `(`+ccbViewJS+`)(`+jsString(sel)+`)`)
	if raw == nil {
		b.t.Fatalf("no element %s", sel)
	}
	buf, _ := json.Marshal(raw)
	_ = json.Unmarshal(buf, &v)
	return v
}

// settled waits until every call button of the page has its decision.
func (b *browser) settled() {
	b.t.Helper()
	get(b, "the buttons' decisions", chromedp.Poll[bool](`(() => { const all = [...document.querySelectorAll('call-connect-button')];
		return all.length > 0 && all.every(e => e.dataset.state && e.dataset.state !== 'loading') })()`,
		chromedp.WithPollingTimeout(20*time.Second)))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestDemoInABrowser is a newcomer's tour of `callconnect demo` in
// Chromium: the real binary on PostgreSQL, with its partner-sim. An owner
// presses Ligar and watches the call reach realizada, then plays its
// recording in the console; the gestor who owns no lead and the corretor
// without a phone see the button disabled, with the reason.
func TestDemoInABrowser(t *testing.T) {
	pool := pgtest.NewEmptyPool(t)
	p := startDemo(t, pool.Config().ConnString(), filepath.Join(t.TempDir(), "demo.json"), "-completed-share", "1")
	base := "http://" + p.addr
	b := newChromium(t, base, 3*time.Minute)

	// João, a corretor, owns l01: Ligar is enabled, a real button.
	b.open("/demo/?user=corretor-joao")
	if got := b.lang(); got != "pt-BR" {
		t.Fatalf("the demo page is in %q", got)
	}
	b.wantText("#viewing", "João Pereira")
	b.settled()
	v := b.ccb(`#lead-l01 call-connect-button`)
	if v.State != "enabled" || v.Tag != "BUTTON" || v.Label != "Ligar" || v.AriaDisabled != "false" || v.Hidden || v.Live != "polite" {
		t.Fatalf("the owner's button: %+v", v)
	}
	// Leads of others are not his: no button there.
	if v := b.ccb(`#lead-l05 call-connect-button`); v.State != "hidden" || !v.Hidden || v.Width != 0 {
		t.Fatalf("another broker's lead: %+v", v)
	}
	b.checkPage("demo-owner")

	// Ligar, from the keyboard: focus the button, press Enter. Every status
	// the element shows is recorded as it changes.
	eval[bool](b, `(() => { window.ccbLog = []; const e = document.querySelector('#lead-l01 call-connect-button');
		e.addEventListener('ccb-change', ev => window.ccbLog.push(ev.detail.callStatus));
		e.shadowRoot.querySelector('button').focus(); return true })()`)
	pressed := time.Now()
	b.do("press Enter", chromedp.KeyEvent("\r"))
	get(b, "the call reaches realizada", chromedp.Poll[bool](`document.querySelector('#lead-l01 call-connect-button').dataset.callStatus === 'completed'`,
		chromedp.WithPollingTimeout(15*time.Second)))
	if took := time.Since(pressed); took > 15*time.Second {
		t.Fatalf("realizada after %s", took)
	}
	v = b.ccb(`#lead-l01 call-connect-button`)
	if !strings.Contains(v.Status, "Ligação realizada") || v.CallID == "" || v.State != "enabled" {
		t.Fatalf("after the call: %+v", v)
	}
	var seen []string
	for _, s := range eval[[]string](b, `window.ccbLog.filter(Boolean)`) {
		if len(seen) == 0 || seen[len(seen)-1] != s {
			seen = append(seen, s)
		}
	}
	if len(seen) < 3 || seen[0] != "placing" || seen[len(seen)-1] != "completed" || !strings.Contains(strings.Join(seen, " "), "queued") {
		t.Fatalf("the statuses shown: %v, want placing, queued, … completed", seen)
	}
	// Live, from the events stream (the widget token reads its user's calls' events).
	if follow := eval[string](b, `document.querySelector('#lead-l01 call-connect-button').dataset.follow || ''`); follow != "stream" {
		t.Fatalf("the element followed the call by %q, want the events stream", follow)
	}
	b.checkPage("demo-realizada")
	if code, body := p.do(t, "GET", "/v1/environments/demo/calls/"+v.CallID, ""); code != 200 || body["user_id"] != "corretor-joao" ||
		body["status"] != "completed" || body["recording_url"] == nil {
		t.Fatalf("the call as the API has it: %d %v", code, body)
	}

	// The recording plays in the console's page of the lead.
	b.click(`#lead-l01 a[href="/console/env/demo/leads/l01"]`)
	if got := b.path(); !strings.HasPrefix(got, "/console/sign-in") {
		t.Fatalf("the console's lead page, signed out: %s", got)
	}
	b.do("sign in", chromedp.SendKeys(chromedp.CSS("#token"), testAdminToken+"\r"), chromedp.WaitVisible(chromedp.CSS("#history")))
	b.wantText("h1", "Mariana Alves")
	duration := get(b, "the recording's duration", chromedp.Poll[float64](`(() => { const a = document.querySelector('#history audio');
		return a && a.readyState >= 1 && isFinite(a.duration) && a.duration > 0 ? a.duration : false })()`, chromedp.WithPollingTimeout(15*time.Second)))
	if duration <= 0 {
		t.Fatalf("the recording's duration: %v", duration)
	}
	eval[bool](b, `document.querySelector('#history audio').play().then(() => true)`)
	get(b, "the recording plays", chromedp.Poll[float64](`(() => { const a = document.querySelector('#history audio');
		return a.currentTime > 0.2 ? a.currentTime : false })()`, chromedp.WithPollingTimeout(10*time.Second)))
	b.checkPage("console-lead-recording")

	// Rafael, a gestor who owns no lead: every button disabled, saying why.
	b.open("/demo/?user=gestor-rafael")
	b.settled()
	n := eval[float64](b, `document.querySelectorAll('call-connect-button').length`)
	for i := 1; i <= int(n); i++ {
		v := b.ccb(fmt.Sprintf(`#lead-l%02d call-connect-button`, i))
		if v.State != "disabled" || v.Reason != "not_owner" || v.AriaDisabled != "true" || v.ReasonText != "Não é dono do lead" ||
			!strings.Contains(v.Title, "Não é dono do lead") || v.Hidden {
			t.Fatalf("lead %d for the gestor who owns none: %+v", i, v)
		}
	}
	// Pressing a disabled button places nothing.
	eval[bool](b, `(() => { document.querySelector('#lead-l01 call-connect-button').shadowRoot.querySelector('button').click(); return true })()`)
	if v := b.ccb(`#lead-l01 call-connect-button`); v.State != "disabled" || v.CallID != "" {
		t.Fatalf("a disabled button, pressed: %+v", v)
	}
	b.checkPage("demo-gestor-sem-leads")

	// Pedro, a corretor without a phone: his leads' buttons disabled, with
	// the reason; the others' hidden.
	b.open("/demo/?user=corretor-pedro")
	b.settled()
	for _, lead := range []string{"l08", "l09"} {
		v := b.ccb(`#lead-` + lead + ` call-connect-button`)
		if v.State != "disabled" || v.Reason != "missing_phone" || v.ReasonText != "Sem telefone cadastrado" ||
			!strings.Contains(v.Title, "Sem telefone cadastrado") || v.AriaDisabled != "true" {
			t.Fatalf("%s for the corretor without a phone: %+v", lead, v)
		}
	}
	if v := b.ccb(`#lead-l01 call-connect-button`); v.State != "hidden" || v.Width != 0 {
		t.Fatalf("a lead not his: %+v", v)
	}
	b.checkPage("demo-corretor-sem-telefone")

	// In English, by the page's switch.
	b.click("#lang-switch")
	b.settled()
	if got := b.lang(); got != "en" {
		t.Fatalf("after the switch the page is in %q", got)
	}
	if v := b.ccb(`#lead-l08 call-connect-button`); v.Label != "Call" || v.ReasonText != "No phone on file" {
		t.Fatalf("in English: %+v", v)
	}
	b.checkPage("demo-english")
	p.stop(t)
}

// TestCallButtonStatesInABrowser shows every state of <call-connect-button>
// on a CRM's page of its own origin (an origin of the environments'
// widget_origins; the script and the API on the service's): hidden, each
// disabled reason, enabled, in Portuguese and in English, its styles
// overridden, and a page of an origin not allowed refused by CORS.
func TestCallButtonStatesInABrowser(t *testing.T) {
	pool := pgtest.NewEmptyPool(t)
	p := startDemo(t, pool.Config().ConnString(), filepath.Join(t.TempDir(), "demo.json"))
	base := "http://" + p.addr

	var page struct{ html string }
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, page.html)
	}))
	t.Cleanup(crm.Close)

	// Three environments: dialling by phone, by extension, and with Call
	// Connect configured but inactive; a fourth allows no page origin.
	steps := []struct{ method, path, body string }{}
	add := func(method, path, body string) {
		steps = append(steps, struct{ method, path, body string }{method, path, body})
	}
	for _, e := range []struct{ id, mode, origins string }{
		{"st-fone", "phone", `["` + crm.URL + `"]`}, {"st-ramal", "extension", `["` + crm.URL + `"]`},
		{"st-off", "phone", `["` + crm.URL + `"]`}, {"st-fechado", "phone", `[]`},
	} {
		env := "/v1/environments/" + e.id
		add("PUT", env, `{"name":"Estados `+e.id+`","public_base_url":"https://crm.example.com","call_connect_enabled":true,"widget_origins":`+e.origins+`}`)
		add("PUT", env+"/users/g", `{"name":"Gestora","role":"manager","can_manage_integrations":true,"phone":"48999470010"}`)
		add("PUT", env+"/users/c", `{"name":"Corretor","role":"broker","phone":"48999470011","extension":"201"}`)
		add("PUT", env+"/users/sem-fone", `{"name":"Sem telefone","role":"broker","extension":"202"}`)
		add("PUT", env+"/users/sem-ramal", `{"name":"Sem ramal","role":"broker","phone":"48999470012"}`)
		add("PUT", env+"/users/gestor-fora", `{"name":"Outro gestor","role":"manager","phone":"48999470013"}`)
		add("PUT", env+"/users/corretor-fora", `{"name":"Outro corretor","role":"broker","phone":"48999470014"}`)
		add("PUT", env+"/leads/l1", `{"name":"Lead um","phone":"48999476401","manager_id":"g","broker_id":"c"}`)
		add("PUT", env+"/leads/l2", `{"name":"Lead dois","phone":"48999476402","manager_id":"g","broker_id":"sem-fone"}`)
		add("PUT", env+"/leads/l3", `{"name":"Lead três","phone":"48999476403","manager_id":"g","broker_id":"sem-ramal"}`)
		add("PUT", env+"/telephony/call-connect", `{"actor_id":"g","partner_url":"https://partner.example.com/calls","dial_mode":"`+e.mode+`"}`)
		if e.id != "st-off" {
			add("POST", env+"/telephony/call-connect/activate", `{"actor_id":"g"}`)
		}
	}
	for _, s := range steps {
		if code, body := p.do(t, s.method, s.path, s.body); code >= 300 {
			t.Fatalf("%s %s: %d %v", s.method, s.path, code, body)
		}
	}
	mint := func(env, user string) string {
		code, body := p.do(t, "POST", "/v1/environments/"+env+"/widget-tokens", `{"user_id":"`+user+`","ttl_seconds":600}`)
		if code != http.StatusCreated {
			t.Fatalf("mint %s/%s: %d %v", env, user, code, body)
		}
		return body["token"].(string)
	}

	type shown struct {
		id, env, user, lead string
		state, reason       string
		pt, en              string // the reason as shown, in each language
	}
	cases := []shown{
		{"enabled", "st-fone", "c", "l1", "enabled", "", "", ""},
		{"hidden", "st-fone", "corretor-fora", "l1", "hidden", "not_owner", "", ""},
		{"not-owner", "st-fone", "gestor-fora", "l1", "disabled", "not_owner", "Não é dono do lead", "Not an owner of the lead"},
		{"inactive", "st-off", "c", "l1", "disabled", "integration_inactive", "Integração inativa", "Integration inactive"},
		{"no-phone", "st-fone", "sem-fone", "l2", "disabled", "missing_phone", "Sem telefone cadastrado", "No phone on file"},
		{"no-extension", "st-ramal", "sem-ramal", "l3", "disabled", "missing_extension", "Sem ramal cadastrado", "No extension on file"},
	}
	tpl := template.Must(template.New("page").Parse(`<!doctype html><html lang="pt-BR"><head><meta charset="utf-8"><title>CRM</title></head>
<body><main><h1>Estados do botão</h1>
{{range .Cases}}<p>{{.ID}}: <call-connect-button id="{{.ID}}" lead="{{.Lead}}" token="{{.Token}}" api="{{$.API}}"></call-connect-button></p>
<p lang="en">{{.ID}} (en): <call-connect-button id="{{.ID}}-en" lang="en" lead="{{.Lead}}" token="{{.Token}}" api="{{$.API}}"></call-connect-button></p>
{{end}}<p>styled: <call-connect-button id="styled" style="--ccb-bg: rgb(1, 2, 3); --ccb-fg: rgb(250, 250, 250)" lead="l1" token="{{.Styled}}" api="{{.API}}"></call-connect-button></p>
<p>closed: <call-connect-button id="closed" lead="l1" token="{{.Closed}}" api="{{.API}}"></call-connect-button></p>
</main><script src="{{.API}}/widget/call-connect-button.js"></script></body></html>`))
	type row struct {
		ID, Lead, Token string
	}
	var rows []row
	for _, c := range cases {
		rows = append(rows, row{ID: c.id, Lead: c.lead, Token: mint(c.env, c.user)})
	}
	var html strings.Builder
	if err := tpl.Execute(&html, map[string]any{"Cases": rows, "API": base, "Styled": mint("st-fone", "c"), "Closed": mint("st-fechado", "c")}); err != nil {
		t.Fatal(err)
	}
	page.html = html.String()

	b := newChromium(t, crm.URL, 2*time.Minute)
	b.open("/")
	b.settled()
	for _, c := range cases {
		for _, lang := range []string{"pt", "en"} {
			sel, want, label := "#"+c.id, c.pt, "Ligar"
			if lang == "en" {
				sel, want, label = sel+"-en", c.en, "Call"
			}
			v := b.ccb(sel)
			if v.State != c.state || v.Label != label || v.Tag != "BUTTON" || v.Live != "polite" {
				t.Errorf("%s: %+v, want state %s, label %s", sel, v, c.state, label)
				continue
			}
			switch c.state {
			case "enabled":
				if v.AriaDisabled != "false" || v.ReasonText != "" || v.Hidden {
					t.Errorf("%s, enabled: %+v", sel, v)
				}
			case "hidden":
				if !v.Hidden || v.Width != 0 {
					t.Errorf("%s, hidden: %+v", sel, v)
				}
			case "disabled":
				if v.Reason != c.reason || v.AriaDisabled != "true" || v.ReasonText != want || !strings.Contains(v.Title, want) || v.Hidden {
					t.Errorf("%s, disabled by %s: %+v, want the reason %q as text and tooltip", sel, c.reason, v, want)
				}
			}
		}
	}
	if v := b.ccb("#styled"); v.State != "enabled" || v.Background != "rgb(1, 2, 3)" {
		t.Errorf("the styled button: %+v, want its --ccb-bg", v)
	}
	// A page of an origin the environment does not list: the browser's CORS
	// keeps the answer from it, and the element says it cannot reach the service.
	if v := b.ccb("#closed"); v.State != "error" || v.ReasonText == "" {
		t.Errorf("a page of an origin not allowed: %+v", v)
	}
	b.checkPage("call-button-states")

	// Two buttons of one lead for one user, pressed one after the other: the
	// first places the call, which stays on its way (its partner's host
	// does not resolve, so it waits for a retry); the second places nothing
	// and follows that call, saying so.
	press := func(sel string) {
		eval[bool](b, `(() => { document.querySelector(`+jsString(sel)+`).shadowRoot.querySelector('button').click(); return true })()`)
	}
	press("#enabled")
	get(b, "the first press places a call", chromedp.Poll[bool](`!!document.querySelector('#enabled').dataset.callId`,
		chromedp.WithPollingTimeout(15*time.Second)))
	first := b.ccb("#enabled")
	press("#enabled-en")
	get(b, "the second press follows the first call", chromedp.Poll[bool](`document.querySelector('#enabled-en').dataset.callId === `+jsString(first.CallID),
		chromedp.WithPollingTimeout(15*time.Second)))
	if v := b.ccb("#enabled-en"); !strings.Contains(v.Status, "A call is already in progress") {
		t.Errorf("the second press shows %+v, want it to say a call is already in progress", v)
	}
	code, list := p.do(t, "GET", "/v1/environments/st-fone/calls?lead_id=l1", "")
	if items, _ := list["items"].([]any); code != http.StatusOK || len(items) != 1 {
		t.Errorf("calls of the lead after two presses: %d %v, want the one call", code, list)
	}
	p.stop(t)
}

// Running the demo again puts the same data back and reuses partner-sim's
// secrets: nothing of the first run is lost, no token piles up.
func TestDemoRunsAgainOnItsData(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewEmptyPool(t)
	state := filepath.Join(t.TempDir(), "demo.json")
	first := startDemo(t, pool.Config().ConnString(), state)
	call := func(p *demoProcess) string {
		code, body := p.do(t, "POST", "/v1/environments/demo/leads/l01/calls", `{"user_id":"corretor-joao"}`)
		if code != http.StatusAccepted {
			t.Fatalf("a call: %d %v", code, body)
		}
		return body["id"].(string)
	}
	id := call(first)
	waitFor(t, 20*time.Second, "the first run's call is reported", func() bool {
		_, body := first.do(t, "GET", "/v1/environments/demo/calls/"+id, "")
		return body["status"] == "completed" || body["status"] == "not_completed"
	})
	kept, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(state); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the state file must be the owner's alone: %v %v", info.Mode(), err)
	}
	first.stop(t)

	second := startDemo(t, pool.Config().ConnString(), state)
	if again, _ := os.ReadFile(state); string(again) != string(kept) {
		t.Fatalf("the second run changed the kept secrets:\n%s\n%s", kept, again)
	}
	if code, body := second.do(t, "GET", "/v1/environments/demo/calls/"+id, ""); code != 200 {
		t.Fatalf("the first run's call after the second start: %d %v", code, body)
	}
	_, tokens := second.do(t, "GET", "/v1/environments/demo/partner-tokens", "")
	active := 0
	for _, tk := range tokens["items"].([]any) {
		if tk.(map[string]any)["revoked_at"] == nil {
			active++
		}
	}
	if active != 1 {
		t.Fatalf("%d active partner tokens after two runs, want 1: %v", active, tokens)
	}
	// The second run's partner-sim answers with the kept secrets.
	id2 := call(second)
	waitFor(t, 20*time.Second, "the second run's call is reported", func() bool {
		_, body := second.do(t, "GET", "/v1/environments/demo/calls/"+id2, "")
		return body["status"] == "completed" || body["status"] == "not_completed"
	})
	// Without the kept secrets, new ones are made and the old token revoked.
	if err := os.Remove(state); err != nil {
		t.Fatal(err)
	}
	second.stop(t)
	third := startDemo(t, pool.Config().ConnString(), state)
	_, tokens = third.do(t, "GET", "/v1/environments/demo/partner-tokens", "")
	active = 0
	for _, tk := range tokens["items"].([]any) {
		if tk.(map[string]any)["revoked_at"] == nil {
			active++
		}
	}
	if active != 1 {
		t.Fatalf("%d active partner tokens after a run without its state, want 1", active)
	}
	third.stop(t)
}
