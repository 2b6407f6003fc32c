package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"callconnect/adapters/postgres/pgtest"
)

// chromiumPath is the browser the console's tests drive: CALLCONNECT_CHROMIUM,
// or Debian's chromium package (.ci/run installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CALLCONNECT_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("the console's browser tests need Chromium and found none: install it with `apt-get install chromium` " +
		"(.ci/run does), or point CALLCONNECT_CHROMIUM at a Chromium binary")
	return ""
}

// wav is a valid PCM WAV file: secs seconds of a 440 Hz tone, 8 kHz mono
// 16-bit, which a browser decodes and reports the duration of.
func wav(secs int) []byte {
	const rate = 8000
	n := rate * secs
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + 2*n))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1)) // PCM
	le(uint16(1)) // mono
	le(uint32(rate))
	le(uint32(rate * 2))
	le(uint16(2))
	le(uint16(16))
	b.WriteString("data")
	le(uint32(2 * n))
	for i := range n {
		le(int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate)))
	}
	return b.Bytes()
}

// answeringPartner is a fake partner on loopback: it accepts each call (202),
// or in "refuse" mode answers 400, a permanent refusal; postResult then
// posts a call's result, with a recording, back to the service as a partner
// does once the call has ended.
type answeringPartner struct {
	t       *testing.T
	srv     *httptest.Server
	service string // the service's base URL
	mu      sync.Mutex
	refuse  bool
}

func newAnsweringPartner(t *testing.T, service string) *answeringPartner {
	p := &answeringPartner{t: t, service: service}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		p.mu.Lock()
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			http.Error(w, `{"erro":"lead bloqueado"}`, http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *answeringPartner) setRefuse(refuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = refuse
}

func (p *answeringPartner) postResult(callID, email, token string) error {
	body := `{"status":"realizada","descricao":"Conversa de 2 segundos com o lead","audio_base64":"` +
		base64.StdEncoding.EncodeToString(wav(2)) + `"}`
	req, err := http.NewRequest("POST", p.service+"/api/cvio/ligacoes/"+callID+"/resultado", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("email", email)
	req.Header.Set("token", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("result of %s: %d %s", callID, resp.StatusCode, answer)
	}
	return nil
}

// browser drives one Chromium tab.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
	n     int
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// get runs an action that returns a value.
func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// open loads a console path and waits for its main content.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("main")))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return get(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func (b *browser) value(sel string) string {
	b.t.Helper()
	return get(b, "value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

func (b *browser) wantText(sel string, want ...string) string {
	b.t.Helper()
	got := b.text(sel)
	for _, w := range want {
		if !strings.Contains(got, w) {
			b.t.Fatalf("%s: want %q in\n%s", sel, w, got)
		}
	}
	return got
}

func (b *browser) path() string {
	b.t.Helper()
	return strings.TrimPrefix(get(b, "location", chromedp.Location()), b.base)
}

// click clicks a link or a form's button and waits until the next page has
// replaced this one and loaded.
func (b *browser) click(sel string) {
	b.t.Helper()
	eval[bool](b, `window.consoleTestStale = true`)
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		// Mid-navigation an evaluation may fail (the page it ran in is
		// gone): that is not an answer, so ask again.
		loaded, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`!window.consoleTestStale && document.readyState === 'complete'`))
		if err == nil && loaded {
			return
		}
		select {
		case <-deadline:
			b.t.Fatalf("click %s: no new page within 30s (last error %v)", sel, err)
		case <-tick.C:
		}
	}
}

// acceptLanguage makes the tab send header as its Accept-Language, as a
// browser set to those languages does.
func (b *browser) acceptLanguage(header string) {
	b.t.Helper()
	b.do("Accept-Language "+header, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": header}})
		return err
	}))
}

// lang is the language the page says it is in.
func (b *browser) lang() string {
	b.t.Helper()
	return eval[string](b, `document.documentElement.lang`)
}

func eval[T any](b *browser, js string) T {
	b.t.Helper()
	return get(b, "evaluate "+js, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// checkPage saves a screenshot of the page as name, checks that it is not
// blank, and that every visible form control has a label.
func (b *browser) checkPage(name string) {
	b.t.Helper()
	unlabelled := eval[[]string](b, `[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
		.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
		.map(e => e.name || e.id)`)
	if len(unlabelled) > 0 {
		b.t.Errorf("%s: form controls without a label: %v", name, unlabelled)
	}
	shot := get(b, "screenshot "+name, chromedp.CaptureScreenshot())
	b.n++
	file := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		b.t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		b.t.Fatalf("%s: the screenshot is not a PNG: %v", name, err)
	}
	if sd := luminanceSpread(img); sd < 10 {
		b.t.Fatalf("%s: the screenshot %s looks blank (luminance standard deviation %.1f)", name, file, sd)
	}
}

// luminanceSpread is the standard deviation of the image's luminance (0-255):
// about 0 for a blank page, tens for a page with text and colours.
func luminanceSpread(img image.Image) float64 {
	var sum, sq, n float64
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 2 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			sum += l
			sq += l * l
			n++
		}
	}
	mean := sum / n
	return math.Sqrt(sq/n - mean*mean)
}

// screenshotsDir is where the console's screenshots go: CALLCONNECT_SCREENSHOTS_DIR
// when set (to keep them), a temporary directory otherwise.
func screenshotsDir(t *testing.T) string {
	if d := os.Getenv("CALLCONNECT_SCREENSHOTS_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestConsoleInABrowser is an operator's tour of the console in Chromium,
// against the real binary, PostgreSQL, the delivery workers and a fake
// partner on loopback: in Portuguese, as a Brazilian operator's browser
// asks, then in English, by the browser's preference and by the switch.
func TestConsoleInABrowser(t *testing.T) {
	chromium := chromiumPath(t)
	pool := pgtest.NewEmptyPool(t)
	p := startServiceEnv(t, pool.Config().ConnString(), deliveryEnv)
	base := "http://" + p.addr
	partner := newAnsweringPartner(t, base)

	// The CRM's part, through the API: the environment, its users, leads.
	for _, s := range []struct{ method, path, body string }{
		{"PUT", "/v1/environments/acme", `{"name":"Acme Imóveis","public_base_url":"https://acme.example.com","time_zone":"America/Sao_Paulo","call_connect_enabled":true}`},
		{"PUT", "/v1/environments/acme/users/g1", `{"name":"Gestora Ana","role":"manager","can_manage_integrations":true}`},
		{"PUT", "/v1/environments/acme/users/c1", `{"name":"Corretor João","role":"broker","phone":"48999476359"}`},
		{"PUT", "/v1/environments/acme/users/c2", `{"name":"Corretora sem telefone","role":"broker"}`},
		{"PUT", "/v1/environments/acme/leads/l1", `{"name":"Maria Lead","phone":"48999476359","manager_id":"g1","broker_id":"c1"}`},
		{"PUT", "/v1/environments/acme/leads/l2", `{"name":"Pedro Lead","phone":"48999476350","broker_id":"c1"}`},
	} {
		if code, body := p.do(t, s.method, s.path, s.body); code >= 300 {
			t.Fatalf("%s %s: %d %v", s.method, s.path, code, body)
		}
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1280, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	// Generous for a loaded machine: alone, the tour takes about 20 s.
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	b := &browser{t: t, ctx: ctx, base: base, shots: screenshotsDir(t)}
	b.acceptLanguage("pt-BR,pt;q=0.9,en;q=0.5")

	// Signing in: a page of the console sends an anonymous visitor to the
	// form, a wrong token is refused, the right one (typed, Enter) lands
	// on the page first asked for.
	b.open("/console/env/acme/")
	if got := b.path(); !strings.HasPrefix(got, "/console/sign-in?next=") {
		t.Fatalf("an anonymous visit landed on %s, want the sign-in form", got)
	}
	b.checkPage("sign-in")
	if got := b.lang(); got != "pt-BR" {
		t.Fatalf("the sign-in form is in %q, want pt-BR", got)
	}
	b.wantText("h1", "Entrar")
	b.do("wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "not-the-token\r"), chromedp.WaitVisible(chromedp.CSS(".error")))
	b.wantText(".error", "não é o token de administração")
	b.do("sign in", chromedp.SendKeys(chromedp.CSS("#token"), testAdminToken+"\r"), chromedp.WaitVisible(chromedp.CSS("#cc-heading")))
	if got := b.path(); got != "/console/env/acme/" {
		t.Fatalf("after signing in: %s, want /console/env/acme/", got)
	}
	cookies := eval[[]string](b, `document.cookie.split('; ').filter(Boolean)`)
	if len(cookies) != 0 {
		t.Fatalf("the session cookie must be HttpOnly (script sees %v)", cookies)
	}

	// The environments, then the overview: not configured, and why.
	b.open("/console/")
	b.wantText("table", "Acme Imóveis", "acme")
	b.checkPage("environments")
	b.click(`a[href="/console/env/acme/"]`)
	b.wantText("#button-state", "não foi configurado")

	// Configure Call Connect: the signing secret is shown once.
	b.do("configure", chromedp.SetValue(chromedp.CSS("#partner_url"), partner.srv.URL+"/calls"),
		chromedp.Click(chromedp.CSS(`input[name=dial_mode][value=phone]`)))
	b.click(`form[action$="/call-connect"] button[type=submit]`)
	secret := b.value("#secret")
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the new signing secret: %q", secret)
	}
	b.checkPage("signing-secret")
	b.click(`main a[href="/console/env/acme/"]`)
	b.wantText("#button-state", "inativo")
	b.checkPage("overview-inactive")
	b.click(`form[action$="/call-connect/activate"] button`)
	b.wantText(".flash", "O Call Connect está ativo")
	b.wantText("#button-state", "está ativo", "telefone")
	b.wantText("#test-call-heading + p + form button", "Enviar ligação de teste")
	if body := b.text("main"); strings.Contains(body, secret) {
		t.Fatal("the overview shows the signing secret again")
	}

	// Rotate the secret, after a confirmation.
	b.click(`a[href="/console/env/acme/call-connect/rotate-secret"]`)
	b.wantText("h1", "Trocar o segredo de assinatura?")
	b.checkPage("rotate-confirm")
	b.click(`form[action$="/rotate-secret"] button[type=submit]`)
	rotated := b.value("#secret")
	if !strings.HasPrefix(rotated, "whsec_") || rotated == secret {
		t.Fatalf("the rotated secret %q must be new", rotated)
	}
	b.open("/console/env/acme/")
	b.wantText("main", "Segredos de assinatura em uso", "2 (período de transição de uma troca de segredo)")

	// A partner token, shown once; the fake partner answers with it.
	b.do("token form", chromedp.SetValue(chromedp.CSS("#token-email"), "parceiro@example.com"),
		chromedp.SetValue(chromedp.CSS("#token-description"), "telefonia"))
	b.click(`form[action$="/partner-tokens"] button`)
	token := b.value("#secret")
	if !regexp.MustCompile(`^\S{20,}$`).MatchString(token) {
		t.Fatalf("the partner token: %q", token)
	}
	b.checkPage("partner-token")
	b.open("/console/env/acme/")
	b.wantText("#tokens", "parceiro@example.com", "telefonia", "ativo")

	// A click (the CRM's) reaches the partner, who answers with a recording
	// once the call has ended.
	id := p.click2(t, "l1", "c1")
	waitFor(t, 20*time.Second, "the call is delivered", func() bool { s, _ := p.callStatus(t, id); return s == "delivered" })
	if err := partner.postResult(id, "parceiro@example.com", token); err != nil {
		t.Fatal(err)
	}

	// The calls list, newest first with its badge, the lead and the user
	// named; the call's timeline; dates as dd/mm/aaaa HH:MM.
	b.open("/console/env/acme/calls")
	b.wantText("#calls", "realizada", "Maria Lead", "l1", "Corretor João", "c1")
	if !regexp.MustCompile(`\d{2}/\d{2}/\d{4} \d{2}:\d{2}`).MatchString(b.text("#calls tbody td")) {
		t.Fatalf("the click's date is not dd/mm/aaaa HH:MM: %q", b.text("#calls tbody td"))
	}
	b.checkPage("calls")
	b.click(`a[href="/console/env/acme/calls/` + id + `"]`)
	b.wantText(".timeline", "Clique", "Corretor João (c1) apertou o botão de ligar no lead Maria Lead (l1)", "Tentativa de entrega 1",
		"HTTP 202", "Resultado do parceiro", "Conversa de 2 segundos")
	b.wantText("#call-status", "realizada")
	b.wantText("#call-lead", "Maria Lead")
	b.wantText("#call-user", "Corretor João")
	b.checkPage("call-completed")

	// The lead's page: history with the recording, which plays; seeking
	// asks for a range.
	b.click(`a[href="/console/env/acme/leads/l1"]`)
	b.wantText("h1", "Maria Lead")
	b.wantText("#history", "Conversa de 2 segundos")
	b.wantText("dl.facts", "Corretor João", "Botão de ligar habilitado")
	duration := get(b, "audio metadata", chromedp.Poll[float64](`(() => { const a = document.querySelector('#history audio');
		return a && a.readyState >= 1 && isFinite(a.duration) ? a.duration : false })()`, chromedp.WithPollingTimeout(15*time.Second)))
	if duration < 1.9 || duration > 2.1 {
		t.Fatalf("the player reports a duration of %v s, want the recording's 2 s", duration)
	}
	eval[bool](b, `document.querySelector('#history audio').play().then(() => true)`)
	get(b, "the audio plays", chromedp.Poll[float64](`(() => { const a = document.querySelector('#history audio');
		return a.currentTime > 0.2 ? a.currentTime : false })()`, chromedp.WithPollingTimeout(10*time.Second)))
	ranged := eval[map[string]any](b, `fetch(document.querySelector('#history audio').src, {headers: {Range: 'bytes=0-3'}})
		.then(async r => ({status: r.status, range: r.headers.get('Content-Range'), body: await r.text()}))`)
	if ranged["status"] != float64(206) || ranged["body"] != "RIFF" || !strings.HasPrefix(fmt.Sprint(ranged["range"]), "bytes 0-3/") {
		t.Fatalf("a range of the recording: %v", ranged)
	}
	b.checkPage("lead")

	// The leads page lists the leads of the latest calls, and opens any by id.
	b.open("/console/env/acme/leads")
	b.wantText("#recent-leads", "Maria Lead", "l1", "realizada")
	b.checkPage("leads")
	b.do("find a lead", chromedp.SendKeys(chromedp.CSS("#lead"), "l2\r"), chromedp.WaitVisible(chromedp.CSS("dl.facts")))
	b.wantText("h1", "Pedro Lead")
	b.wantText("dl.facts", "Corretor", "c1", "Botão de ligar habilitado")

	// The monitor: the delivery out and the result in, each with its
	// headers (secrets redacted) and its body pretty-printed.
	b.open("/console/env/acme/monitor")
	b.wantText("#exchanges", "saída", "POST", "/calls", "202", "ligação "+id, "lead Maria Lead", "entrada",
		"/api/cvio/ligacoes/"+id+"/resultado", "200")
	b.checkPage("monitor")
	b.click(`#exchanges tr:has(.badge-out) a[href^="/console/env/acme/monitor/"]`)
	b.wantText("#headers", "Webhook-Id", "msg_"+id, "Webhook-Signature", "[redacted]")
	b.wantText("#request-body", `"idligacao": "`+id+`"`)
	if strings.Contains(b.text("#headers"), "v1,") {
		t.Fatal("the monitor shows a webhook signature")
	}
	b.checkPage("exchange-out")
	b.open("/console/env/acme/monitor?direction=in")
	b.wantText("#exchanges", "/resultado")
	if strings.Contains(b.text("#exchanges"), "/calls") {
		t.Fatal("the direction filter lets a delivery through")
	}
	b.click(`#exchanges a[href^="/console/env/acme/monitor/"]`)
	b.wantText("#headers", "Token", "[redacted]")
	if strings.Contains(b.text("main"), token) {
		t.Fatal("the monitor shows the partner token")
	}

	// A call the partner refuses is undeliverable, and the monitor, left
	// open, shows the refusal without a reload; redelivered, the call goes
	// through.
	b.open("/console/env/acme/monitor")
	partner.setRefuse(true)
	refused := p.click2(t, "l2", "c1")
	get(b, "the monitor updates itself", chromedp.Poll[bool](`document.querySelector('#exchanges').textContent.includes('ligação `+refused+`')`,
		chromedp.WithPollingTimeout(20*time.Second)))
	b.wantText("#exchanges", "400", "o parceiro respondeu 400", "lead Pedro Lead")
	b.wantText("#live-status", "nova")
	waitFor(t, 20*time.Second, "the refused call is undeliverable", func() bool { s, _ := p.callStatus(t, refused); return s == "undeliverable" })
	b.open("/console/env/acme/calls?status=undeliverable")
	b.wantText("#calls", "não entregue", "Pedro Lead", "l2")
	if strings.Contains(b.text("#calls"), id) {
		t.Fatal("the undeliverable filter lists the completed call")
	}
	b.click(`a[href="/console/env/acme/calls/` + refused + `"]`)
	b.wantText(".timeline", "HTTP 400", "não entregue", "O parceiro recusou a ligação")
	b.checkPage("call-undeliverable")
	partner.setRefuse(false)
	b.click(`form[action$="/redeliver"] button`)
	b.wantText(".flash", "voltou para a fila de entrega")
	waitFor(t, 20*time.Second, "the redelivered call is delivered", func() bool { s, _ := p.callStatus(t, refused); return s == "delivered" })
	b.open("/console/env/acme/calls/" + refused)
	b.wantText(".timeline", "Tentativa de entrega 2", "HTTP 202")
	b.wantText("#call-status", "entregue")

	// On a phone-sized screen the pages fit the width.
	b.do("phone", chromedp.EmulateViewport(390, 844))
	for _, page := range []struct{ name, path string }{{"overview", "/console/env/acme/"}, {"calls", "/console/env/acme/calls"},
		{"call", "/console/env/acme/calls/" + id}, {"lead", "/console/env/acme/leads/l1"}, {"monitor", "/console/env/acme/monitor"}} {
		b.open(page.path)
		wide := eval[[]string](b, `[...document.querySelectorAll('body *')]
			.filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.parentElement.closest('.scroll'))
			.map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))`)
		if eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
			wide = append(wide, "the page scrolls sideways")
		}
		if len(wide) > 0 {
			t.Errorf("%s is wider than a phone's screen: %v", page.path, wide)
		}
		b.checkPage("phone-" + page.name)
	}
	b.do("desktop", chromedp.EmulateViewport(1280, 900))

	// Deactivating asks first; then the button is disabled for everyone.
	b.open("/console/env/acme/")
	b.click(`a[href="/console/env/acme/call-connect/deactivate"]`)
	b.wantText("h1", "Desativar o Call Connect?")
	b.click(`form[action$="/call-connect/deactivate"] button[type=submit]`)
	b.wantText(".flash", "O Call Connect está inativo")
	b.wantText("#button-state", "desabilitado para todos", "inativo")
	b.open("/console/env/acme/leads/l1")
	b.wantText("dl.facts", "Call Connect inativo (integration_inactive)")

	// English: for a browser that prefers it, and, whatever the browser
	// prefers, after the header's switch, which the console remembers
	// until it is switched back.
	b.acceptLanguage("en-US,en;q=0.9")
	b.open("/console/env/acme/calls")
	if got := b.lang(); got != "en" {
		t.Fatalf("for a browser that prefers English the calls page is in %q", got)
	}
	b.wantText("h1", "Calls")
	b.wantText("#calls", "completed", "Maria Lead", "Corretor João")
	b.checkPage("calls-english")
	b.acceptLanguage("pt-BR,pt;q=0.9")
	b.open("/console/env/acme/calls")
	b.wantText("h1", "Ligações")
	b.wantText("#lang-switch", "English")
	b.click("#lang-switch")
	if got, path := b.lang(), b.path(); got != "en" || path != "/console/env/acme/calls" {
		t.Fatalf("after the switch: %q on %s, want English on the same page", got, path)
	}
	b.wantText("#calls", "delivered", "completed")
	b.open("/console/env/acme/")
	b.wantText("h1 + section", "Send a test call", "Partner URL")
	b.wantText("#button-state", "disabled for everyone")
	b.click("#lang-switch")
	if got := b.lang(); got != "pt-BR" {
		t.Fatalf("switched back: %q", got)
	}
	b.wantText("#button-state", "desabilitado para todos")

	// Signing out ends the session: the console asks to sign in again.
	b.open("/console/env/acme/")
	b.click(`form[action="/console/sign-out"] button`)
	if got := b.path(); !strings.HasPrefix(got, "/console/sign-in") {
		t.Fatalf("after signing out: %s", got)
	}
	b.wantText(".flash", "Você saiu do console")
	b.open("/console/env/acme/calls")
	if got := b.path(); !strings.HasPrefix(got, "/console/sign-in?next=") {
		t.Fatalf("after signing out the calls page is at %s, want the sign-in form", got)
	}
	b.checkPage("signed-out")
	p.stop(t)
}

// click2 places a call on lead by user through the API, as the CRM does.
func (p *process) click2(t *testing.T, lead, user string) string {
	t.Helper()
	code, body := p.do(t, "POST", "/v1/environments/acme/leads/"+lead+"/calls", `{"user_id":"`+user+`"}`)
	if code != http.StatusAccepted {
		t.Fatalf("click: %d %v", code, body)
	}
	return body["id"].(string)
}
