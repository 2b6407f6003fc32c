package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"callconnect/adapters/cvio"
	"callconnect/adapters/system"
	"callconnect/adapters/webhook"
	"callconnect/domain"
)

const simTestSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// logSink collects the simulator's log lines and hands each to whoever
// waits for one.
type logSink struct {
	mu    sync.Mutex
	lines []string
	ch    chan string
}

func newLogSink() *logSink { return &logSink{ch: make(chan string, 10000)} }

func (l *logSink) Write(b []byte) (int, error) {
	l.mu.Lock()
	l.lines = append(l.lines, string(b))
	l.mu.Unlock()
	select {
	case l.ch <- string(b):
	default:
	}
	return len(b), nil
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "")
}

// waitFor waits for a log line with msg (and every one of the other
// fragments), consuming the lines before it.
func (l *logSink) waitFor(t testing.TB, msg string, fragments ...string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line := <-l.ch:
			if !strings.Contains(line, `"msg":"`+msg+`"`) {
				continue
			}
			ok := true
			for _, f := range fragments {
				ok = ok && strings.Contains(line, f)
			}
			if ok {
				return line
			}
		case <-timeout:
			t.Fatalf("no log line %q %q within 10s; the log:\n%s", msg, fragments, l)
		}
	}
}

// crmCallback is one callback the fake CRM received.
type crmCallback struct {
	path   string
	query  url.Values
	header http.Header
	body   []byte
}

// fakeCRM stands for the service's callbacks: it hands each request to the
// test and answers what answer says (200 by default).
type fakeCRM struct {
	srv    *httptest.Server
	got    chan crmCallback
	mu     sync.Mutex
	answer func(n int) (int, http.Header) // n counts requests from 1
	n      int
}

func newFakeCRM(t testing.TB) *fakeCRM {
	c := &fakeCRM{got: make(chan crmCallback, 100)}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.n++
		n, answer := c.n, c.answer
		c.mu.Unlock()
		status := http.StatusOK
		if answer != nil {
			var h http.Header
			status, h = answer(n)
			for k, v := range h {
				w.Header()[k] = v
			}
		}
		c.got <- crmCallback{path: r.URL.Path, query: r.URL.Query(), header: r.Header.Clone(), body: body}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"call_status":"completed"}`)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// next is the next callback received.
func (c *fakeCRM) next(t testing.TB) crmCallback {
	t.Helper()
	select {
	case cb := <-c.got:
		return cb
	case <-time.After(10 * time.Second):
		t.Fatal("no callback within 10s")
	}
	return crmCallback{}
}

// testSim serves a simulator on loopback; change adjusts its configuration
// before it serves.
func testSim(t testing.TB, change func(*simConfig)) (*partnerSim, *httptest.Server, *logSink) {
	t.Helper()
	cfg := simConfig{Secret: simTestSecret, Token: "tok-123", Email: "telefonia@parceiro.example.com",
		CompletedShare: 1, Style: simStyleFields, MaxCalls: 100}
	if change != nil {
		change(&cfg)
	}
	logs := newLogSink()
	sim := newPartnerSim(cfg, slog.New(slog.NewJSONHandler(logs, nil)), &http.Client{Timeout: 10 * time.Second})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { sim.close() }) // before srv.Close: hanging requests end first
	return sim, srv, logs
}

var simIDs = system.NewRandom()

func simSign(t testing.TB, id string, ts time.Time, body []byte, secret string) string {
	t.Helper()
	sig, err := webhook.Sign(id, ts, body, []string{secret})
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// simRequest is one signed call, as the service sends it.
type simRequest struct {
	webhookID string
	ts        time.Time
	signature string
	body      []byte
}

// newSimCall signs a new call (a real one unless test) whose callbacks go
// to base.
func newSimCall(t testing.TB, base string, test bool) simRequest {
	t.Helper()
	callID := simIDs.NewID()
	body, err := samplePartnerCall(base, callID, domain.DialByPhone, time.Now(), test)
	if err != nil {
		t.Fatal(err)
	}
	r := simRequest{webhookID: "msg_" + callID, ts: time.Now(), body: body}
	r.signature = simSign(t, r.webhookID, r.ts, body, simTestSecret)
	return r
}

func (r simRequest) callID() string { return strings.TrimPrefix(r.webhookID, "msg_") }

func (r simRequest) post(t testing.TB, client *http.Client, target string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(r.body))
	req.Header.Set("Content-Type", "application/json")
	if r.webhookID != "" {
		req.Header.Set("webhook-id", r.webhookID)
	}
	if !r.ts.IsZero() {
		req.Header.Set("webhook-timestamp", strconv.FormatInt(r.ts.Unix(), 10))
	}
	if r.signature != "" {
		req.Header.Set("webhook-signature", r.signature)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(b)), nil
}

// A call is checked as the partner guide says before anything is done:
// only a correctly signed, fresh request is accepted, a retry of an
// accepted webhook-id is answered 2xx and not dialled again, and the call
// is reported back once.
func TestPartnerSimVerifiesAsThePartnerGuideSays(t *testing.T) {
	crm := newFakeCRM(t)
	sim, srv, _ := testSim(t, nil)
	good := newSimCall(t, crm.srv.URL, false)
	resigned := func(r simRequest, ts time.Time) simRequest {
		r.ts, r.signature = ts, simSign(t, r.webhookID, ts, r.body, simTestSecret)
		return r
	}
	other := newSimCall(t, crm.srv.URL, false)
	cases := []struct {
		name   string
		req    simRequest
		status int
		says   string
	}{
		{"a correctly signed call", good, 202, "aceita"},
		{"its webhook-id again, signed anew, as a retry sends it", resigned(good, good.ts.Add(3*time.Second)), 202, "repetida"},
		{"it replayed under a later timestamp, with its old signature",
			func() simRequest { r := good; r.ts = good.ts.Add(time.Minute); return r }(), 401, "assinatura não confere"},
		{"signed with another secret", func() simRequest {
			r := other
			r.signature = simSign(t, r.webhookID, r.ts, r.body, "whsec_"+base64.StdEncoding.EncodeToString([]byte("another secret, 32 bytes long..")))
			return r
		}(), 401, "assinatura não confere"},
		{"a tampered body", func() simRequest {
			r := other
			r.body = bytes.Replace(r.body, []byte("48999476357"), []byte("48999476350"), 1)
			return r
		}(), 401, "assinatura não confere"},
		{"stamped six minutes ago", resigned(other, time.Now().Add(-6*time.Minute)), 401, "fora da janela"},
		{"stamped six minutes ahead", resigned(other, time.Now().Add(6*time.Minute)), 401, "fora da janela"},
		{"without a signature", func() simRequest { r := other; r.signature = ""; return r }(), 401, "faltam cabeçalhos"},
		{"without a webhook-id", func() simRequest { r := other; r.webhookID = ""; return r }(), 401, "faltam cabeçalhos"},
		{"a signature that is no base64", func() simRequest { r := other; r.signature = "v1,x"; return r }(), 401, "assinatura não confere"},
		{"without a webhook-timestamp", func() simRequest {
			r := other
			r.ts = time.Time{}
			r.signature = simSign(t, r.webhookID, time.Now(), r.body, simTestSecret)
			return r
		}(), 401, "faltam cabeçalhos"},
		{"signed, but not a call", func() simRequest {
			r := other
			r.body = []byte(`{"olá": 1}`)
			r.signature = simSign(t, r.webhookID, r.ts, r.body, simTestSecret)
			return r
		}(), 400, "idligacao"},
	}
	for _, tc := range cases {
		status, body, err := tc.req.post(t, http.DefaultClient, srv.URL+"/calls")
		if err != nil || status != tc.status || !strings.Contains(body, tc.says) {
			t.Errorf("%s: got %d %q %v, want %d saying %q", tc.name, status, body, err, tc.status, tc.says)
		}
	}
	if res, err := http.Get(srv.URL + "/calls"); err != nil || res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %v %v, want 405", res, err)
	}

	// The accepted call is reported once: a lead and a task callback.
	lead, task := crm.next(t), crm.next(t)
	if lead.path != cvio.LeadCallbackPath || task.path != cvio.TaskCallbackPath {
		t.Fatalf("callbacks to %s then %s, want the lead's then the task's", lead.path, task.path)
	}
	// Nothing more comes: a second call's callbacks come next, not the
	// first's again.
	second := newSimCall(t, crm.srv.URL, false)
	if status, body, _ := second.post(t, http.DefaultClient, srv.URL); status != 202 {
		t.Fatalf("second call: %d %s", status, body)
	}
	for range 2 {
		if cb := crm.next(t); cb.query.Get("idligacao") != second.callID() {
			t.Fatalf("a callback of %s after the first call was reported", cb.query.Get("idligacao"))
		}
	}
	if ids, _ := sim.remembered(); ids != 2 {
		t.Fatalf("the simulator remembers %d webhook-ids, want the 2 accepted", ids)
	}
}

// A realizada reaches the service as the partner guide writes it: the lead
// callback with a playable recording, then the task callback, each with
// the partner token, the call's idligacao and an Idempotency-Key; the
// service's own parsers read them as a realizada.
func TestPartnerSimReportsARealizada(t *testing.T) {
	for _, style := range []string{simStyleFields, simStyleWords} {
		t.Run(style, func(t *testing.T) {
			crm := newFakeCRM(t)
			_, srv, logs := testSim(t, func(c *simConfig) { c.Style = style })
			call := newSimCall(t, crm.srv.URL, false)
			if status, body, err := call.post(t, http.DefaultClient, srv.URL); status != 202 || err != nil {
				t.Fatalf("call: %d %s %v", status, body, err)
			}
			lead, task := crm.next(t), crm.next(t)
			for _, cb := range []crmCallback{lead, task} {
				if cb.header.Get("email") != "telefonia@parceiro.example.com" || cb.header.Get("token") != "tok-123" {
					t.Errorf("%s: email %q token %q, want the partner token's", cb.path, cb.header.Get("email"), cb.header.Get("token"))
				}
				if cb.query.Get("idligacao") != call.callID() || cb.header.Get("Idempotency-Key") == "" {
					t.Errorf("%s: idligacao %q, Idempotency-Key %q", cb.path, cb.query.Get("idligacao"), cb.header.Get("Idempotency-Key"))
				}
			}
			parsed, err := cvio.ParseLeadCallback(lead.body)
			if err != nil {
				t.Fatalf("the service refuses the lead callback: %v", err)
			}
			if parsed.CallID != call.callID() || len(parsed.Interactions) != 1 || parsed.Interactions[0].Audio == nil {
				t.Fatalf("lead callback: %+v", parsed)
			}
			if ct, err := parsed.Interactions[0].Audio.ContentType(); err != nil || ct != domain.AudioWAV {
				t.Fatalf("the recording is %q %v, want %s", ct, err, domain.AudioWAV)
			}
			if o, _, ok := domain.CallbackOutcome(parsed.Interactions); !ok || o.Outcome != domain.OutcomeCompleted {
				t.Fatalf("the lead callback reads as %+v %v, want realizada", o, ok)
			}
			var raw struct {
				Interacoes []struct {
					Audio string `json:"audio_base64"`
				} `json:"interacoes"`
			}
			_ = json.Unmarshal(lead.body, &raw)
			wav, err := base64.StdEncoding.DecodeString(raw.Interacoes[0].Audio)
			if err != nil {
				t.Fatal(err)
			}
			checkPlayableWAV(t, wav)

			tasks, err := cvio.ParseTaskCallback(task.body)
			if err != nil {
				t.Fatalf("the service refuses the task callback: %v", err)
			}
			o, from, ok := domain.CallbackOutcome(tasks.Interactions)
			wantFrom := map[string]domain.OutcomeSource{simStyleFields: domain.OutcomeFromFields, simStyleWords: domain.OutcomeFromDescription}[style]
			if !ok || o.Outcome != domain.OutcomeCompleted || from != wantFrom {
				t.Fatalf("the task callback reads as %+v from %q, want realizada from %q", o, from, wantFrom)
			}
			tk := tasks.Interactions[0].Task
			if tk == nil || tk.Name != "Ligação realizada" || tk.ResponsibleType != "C" || tk.ResponsibleID != "teste_corretor" || tk.Due == nil {
				t.Fatalf("task %+v: want Ligação realizada, due, for the broker who pressed Ligar", tk)
			}
			logs.waitFor(t, "reported", `"outcome":"realizada"`)
			for _, want := range []string{`"msg":"call received"`, `"msg":"callback sent"`, `"callback":"lead"`, `"callback":"task"`} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("the log lacks %s:\n%s", want, logs)
				}
			}
			if strings.Contains(logs.String(), "tok-123") {
				t.Errorf("the log shows the partner token:\n%s", logs)
			}
		})
	}
}

// Every motivo, in either style, reads back in the service as the reason
// it stands for.
func TestPartnerSimNotCompletedBodiesReadAsTheirMotivo(t *testing.T) {
	call := simCall{IDLigacao: "01jdq4t5z8m6v9w3x2y1z0a7bc"}
	call.Acionador.Tipo, call.Acionador.ID = "gestor", "10"
	for _, m := range simMotivos {
		want, _ := domain.MapMotivo(m.motivo)
		for _, style := range []string{simStyleFields, simStyleWords} {
			body, _ := json.Marshal(simNotCompleted(call, style, m.motivo, m.words, "2026-11-27 09:05:00"))
			parsed, err := cvio.ParseTaskCallback(body)
			if err != nil {
				t.Fatalf("%s %s: the service refuses %s: %v", m.motivo, style, body, err)
			}
			o, from, ok := domain.CallbackOutcome(parsed.Interactions)
			wantFrom := map[string]domain.OutcomeSource{simStyleFields: domain.OutcomeFromFields, simStyleWords: domain.OutcomeFromDescription}[style]
			if !ok || o.Outcome != domain.OutcomeNotCompleted || o.Reason != want || from != wantFrom {
				t.Errorf("%s %s: reads as %+v from %q, want não realizada %s from %q", m.motivo, style, o, from, want, wantFrom)
			}
			if tk := parsed.Interactions[0].Task; tk == nil || tk.ResponsibleType != "G" || tk.ResponsibleID != "10" || tk.Due == nil {
				t.Errorf("%s %s: task %+v", m.motivo, style, tk)
			}
		}
	}
}

// With no call made, the simulator reports a não realizada through the
// task callback alone.
func TestPartnerSimReportsANaoRealizada(t *testing.T) {
	crm := newFakeCRM(t)
	_, srv, logs := testSim(t, func(c *simConfig) { c.CompletedShare, c.Style = 0, simStyleMixed })
	call := newSimCall(t, crm.srv.URL, false)
	if status, body, _ := call.post(t, http.DefaultClient, srv.URL); status != 202 {
		t.Fatalf("call: %d %s", status, body)
	}
	cb := crm.next(t)
	parsed, err := cvio.ParseTaskCallback(cb.body)
	if err != nil || cb.path != cvio.TaskCallbackPath {
		t.Fatalf("%s: %v", cb.path, err)
	}
	if o, _, ok := domain.CallbackOutcome(parsed.Interactions); !ok || o.Outcome != domain.OutcomeNotCompleted || o.Reason == "" {
		t.Fatalf("reads as %+v, want não realizada with a reason", o)
	}
	logs.waitFor(t, "reported", `"outcome":"nao_realizada"`)
	select {
	case extra := <-crm.got:
		t.Fatalf("a não realizada sent a second callback, to %s", extra.path)
	default:
	}
}

// A test call is answered 2xx and nothing more: nobody is dialled and
// nothing is reported.
func TestPartnerSimAnswersATestCallOnly(t *testing.T) {
	crm := newFakeCRM(t)
	sim, srv, _ := testSim(t, nil)
	call := newSimCall(t, crm.srv.URL, true)
	if status, body, _ := call.post(t, http.DefaultClient, srv.URL); status != 202 || body != "teste" {
		t.Fatalf("test call: %d %q, want 202 teste", status, body)
	}
	// The answer is written after the decision: had a report started, it
	// would be pending now.
	if ids, pending := sim.remembered(); ids != 0 || pending != 0 {
		t.Fatalf("after a test call the simulator holds %d ids, %d pending reports", ids, pending)
	}
}

// --fail-share answers 503 and --timeout-share leaves the request hanging
// until its sender gives up; neither accepts the call, so Call Connect's
// retry is taken as new.
func TestPartnerSimFaults(t *testing.T) {
	crm := newFakeCRM(t)
	t.Run("fail", func(t *testing.T) {
		sim, srv, _ := testSim(t, func(c *simConfig) { c.FailShare = 1 })
		call := newSimCall(t, crm.srv.URL, false)
		if status, body, _ := call.post(t, http.DefaultClient, srv.URL); status != http.StatusServiceUnavailable {
			t.Fatalf("got %d %q, want 503", status, body)
		}
		if ids, _ := sim.remembered(); ids != 0 {
			t.Fatalf("a failed call is remembered")
		}
	})
	t.Run("timeout", func(t *testing.T) {
		sim, srv, logs := testSim(t, func(c *simConfig) { c.TimeoutShare = 1 })
		call := newSimCall(t, crm.srv.URL, false)
		client := &http.Client{Timeout: 300 * time.Millisecond}
		if status, body, err := call.post(t, client, srv.URL); err == nil {
			t.Fatalf("got %d %q, want no answer before the client gives up", status, body)
		}
		logs.waitFor(t, "sender gave up on the hanging request")
		if ids, _ := sim.remembered(); ids != 0 {
			t.Fatalf("a call left hanging is remembered")
		}
	})
	t.Run("stopping lets a hanging request go with a 503", func(t *testing.T) {
		sim, srv, logs := testSim(t, func(c *simConfig) { c.TimeoutShare = 1 })
		call := newSimCall(t, crm.srv.URL, false)
		answered := make(chan int, 1)
		go func() { status, _, _ := call.post(t, http.DefaultClient, srv.URL); answered <- status }()
		logs.waitFor(t, "left hanging")
		sim.close()
		select {
		case status := <-answered:
			if status != http.StatusServiceUnavailable {
				t.Fatalf("got %d, want 503", status)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a hanging request outlived the simulator")
		}
	})
}

// The calls in memory are bounded: a new call beyond --max-calls pending is
// answered 503 with Retry-After, and stopping abandons the pending reports.
func TestPartnerSimBoundsItsCalls(t *testing.T) {
	crm := newFakeCRM(t)
	sim, srv, logs := testSim(t, func(c *simConfig) { c.MaxCalls, c.Delay = 1, time.Hour })
	first, second := newSimCall(t, crm.srv.URL, false), newSimCall(t, crm.srv.URL, false)
	if status, _, _ := first.post(t, http.DefaultClient, srv.URL); status != 202 {
		t.Fatalf("first call: %d", status)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(second.body))
	req.Header.Set("webhook-id", second.webhookID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(second.ts.Unix(), 10))
	req.Header.Set("webhook-signature", second.signature)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("a call beyond --max-calls: %d Retry-After %q, want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if dropped := sim.close(); dropped != 1 {
		t.Fatalf("stopping dropped %d reports, want the 1 pending", dropped)
	}
	logs.waitFor(t, "report abandoned: partner-sim stopping")

	// Reported calls make room: with room for one, a second call is taken
	// once the first is reported, and the first is forgotten.
	sim2, srv2, logs2 := testSim(t, func(c *simConfig) { c.MaxCalls = 1 })
	if status, _, _ := first.post(t, http.DefaultClient, srv2.URL); status != 202 {
		t.Fatalf("first call: %d", status)
	}
	logs2.waitFor(t, "reported") // logged once the call's bookkeeping is done
	if status, _, _ := second.post(t, http.DefaultClient, srv2.URL); status != 202 {
		t.Fatalf("second call once the first was reported: %d", status)
	}
	if ids, _ := sim2.remembered(); ids != 1 {
		t.Fatalf("%d webhook-ids remembered, want 1", ids)
	}
}

// A callback answered 429 or 5xx is sent again with the same
// Idempotency-Key, so that the service records it once.
func TestPartnerSimRetriesACallback(t *testing.T) {
	crm := newFakeCRM(t)
	crm.answer = func(n int) (int, http.Header) {
		if n == 1 {
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"0"}}
		}
		return http.StatusOK, nil
	}
	_, srv, logs := testSim(t, nil)
	call := newSimCall(t, crm.srv.URL, false)
	if status, _, _ := call.post(t, http.DefaultClient, srv.URL); status != 202 {
		t.Fatalf("call: %d", status)
	}
	first, again := crm.next(t), crm.next(t)
	if first.path != cvio.LeadCallbackPath || again.path != cvio.LeadCallbackPath ||
		first.header.Get("Idempotency-Key") != again.header.Get("Idempotency-Key") || !bytes.Equal(first.body, again.body) {
		t.Fatalf("after a 429 the lead callback must be sent again as it was: %s %q, then %s %q", first.path,
			first.header.Get("Idempotency-Key"), again.path, again.header.Get("Idempotency-Key"))
	}
	if task := crm.next(t); task.path != cvio.TaskCallbackPath {
		t.Fatalf("then %s, want the task callback", task.path)
	}
	logs.waitFor(t, "reported")
}

// --callback-base moves the callbacks to another host, keeping the
// callback's path from /api/cvio/ on and its query.
func TestSimCallbackURL(t *testing.T) {
	base := func(s string) *url.URL { u, _ := url.Parse(s); return u }
	for _, tc := range []struct {
		raw  string
		base *url.URL
		want string
	}{
		{"https://acme.example.com/api/cvio/lead?idligacao=01j", nil, "https://acme.example.com/api/cvio/lead?idligacao=01j"},
		{"https://acme.example.com/api/cvio/lead?idligacao=01j", base("http://127.0.0.1:8080"), "http://127.0.0.1:8080/api/cvio/lead?idligacao=01j"},
		{"https://crm.example.com/acme/api/cvio/lead_tarefas/cadastrar?idligacao=a.b", base("http://127.0.0.1:8080/"),
			"http://127.0.0.1:8080/api/cvio/lead_tarefas/cadastrar?idligacao=a.b"},
		{"https://acme.example.com/api/cvio/lead?idligacao=x", base("https://proxy.example.com/cc"), "https://proxy.example.com/cc/api/cvio/lead?idligacao=x"},
	} {
		if got, err := simCallbackURL(tc.raw, tc.base); err != nil || got != tc.want {
			t.Errorf("%s on %v: %q %v, want %q", tc.raw, tc.base, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "ftp://x/api/cvio/lead", "/api/cvio/lead", "://"} {
		if got, err := simCallbackURL(bad, nil); err == nil {
			t.Errorf("%q: accepted as %q", bad, got)
		}
	}
}

// The recording is a WAV a player plays: a RIFF header that adds up, PCM
// at 8 kHz mono, a few seconds of sound that is not silence.
func TestSimRecordingIsAPlayableWAV(t *testing.T) {
	wav := simRecording()
	if ct, ok := domain.SniffAudio(wav); !ok || ct != domain.AudioWAV {
		t.Fatalf("the service sniffs %q %v, want %s", ct, ok, domain.AudioWAV)
	}
	checkPlayableWAV(t, wav)
}

// checkPlayableWAV parses b as a canonical PCM WAV file and checks that it
// holds a few seconds of 16-bit 8 kHz mono sound.
func checkPlayableWAV(t testing.TB, b []byte) {
	t.Helper()
	f, err := parseWAV(b)
	if err != nil {
		t.Fatalf("not a WAV: %v", err)
	}
	if f.format != 1 || f.channels != 1 || f.rate != 8000 || f.bits != 16 || f.byteRate != 16000 || f.blockAlign != 2 {
		t.Fatalf("WAV format %+v, want PCM 16-bit 8 kHz mono", f)
	}
	if secs := float64(len(f.data)) / float64(f.byteRate); secs < 2 || secs > 10 {
		t.Fatalf("%.1f s of sound, want a few seconds", secs)
	}
	var sum float64
	for i := 0; i+1 < len(f.data); i += 2 {
		v := float64(int16(binary.LittleEndian.Uint16(f.data[i:])))
		sum += v * v
	}
	if rms := math.Sqrt(sum / float64(len(f.data)/2)); rms < 1000 {
		t.Fatalf("RMS %.0f: the recording is (nearly) silent", rms)
	}
}

type wavFile struct {
	format, channels uint16
	rate, byteRate   uint32
	blockAlign, bits uint16
	data             []byte
}

// parseWAV reads a RIFF/WAVE file's fmt and data chunks, checking that
// every size adds up.
func parseWAV(b []byte) (wavFile, error) {
	var f wavFile
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return f, errString("no RIFF/WAVE header")
	}
	if int(binary.LittleEndian.Uint32(b[4:])) != len(b)-8 {
		return f, errString("the RIFF size is not the file's")
	}
	sawFmt := false
	for rest := b[12:]; len(rest) > 0; {
		if len(rest) < 8 {
			return f, errString("a truncated chunk header")
		}
		id, size := string(rest[:4]), int(binary.LittleEndian.Uint32(rest[4:]))
		if size > len(rest)-8 {
			return f, errString("chunk " + id + " runs past the end")
		}
		chunk := rest[8 : 8+size]
		switch id {
		case "fmt ":
			if size < 16 {
				return f, errString("a short fmt chunk")
			}
			f.format, f.channels = binary.LittleEndian.Uint16(chunk), binary.LittleEndian.Uint16(chunk[2:])
			f.rate, f.byteRate = binary.LittleEndian.Uint32(chunk[4:]), binary.LittleEndian.Uint32(chunk[8:])
			f.blockAlign, f.bits = binary.LittleEndian.Uint16(chunk[12:]), binary.LittleEndian.Uint16(chunk[14:])
			sawFmt = true
		case "data":
			if !sawFmt {
				return f, errString("data before fmt")
			}
			f.data = chunk
		}
		rest = rest[8+size+size%2:]
	}
	if f.data == nil {
		return f, errString("no data chunk")
	}
	return f, nil
}

type errString string

func (e errString) Error() string { return string(e) }

// The flags are checked before anything is served: every problem is named,
// the secrets may come from the environment, and --help prints the flags.
func TestPartnerSimFlags(t *testing.T) {
	var out, errb strings.Builder
	if code := run([]string{"partner-sim", "--help"}, envOf(nil), &out, &errb); code != 0 {
		t.Fatalf("--help: %d %s", code, errb.String())
	}
	for _, flag := range []string{"-addr", "-secret", "-token", "-email", "-delay", "-completed-share", "-fail-share",
		"-timeout-share", "-style", "-callback-base", simSecretEnv, "127.0.0.1:8090"} {
		if !strings.Contains(out.String(), flag) {
			t.Errorf("--help does not mention %s:\n%s", flag, out.String())
		}
	}
	errb.Reset()
	code := run([]string{"partner-sim", "--completed-share", "1.5", "--fail-share", "0.6", "--timeout-share", "0.6",
		"--style", "loud", "--callback-base", "127.0.0.1:8080", "--delay", "-1s"}, envOf(nil), io.Discard, &errb)
	if code != 2 {
		t.Fatalf("bad flags: exit %d", code)
	}
	for _, name := range []string{"--secret", "--token", "--email", "--completed-share", "--fail-share and --timeout-share", "--style", "--callback-base", "--delay"} {
		if !strings.Contains(errb.String(), name+":") && !strings.Contains(errb.String(), name+" (or") {
			t.Errorf("the error does not name %s:\n%s", name, errb.String())
		}
	}
	errb.Reset()
	if code := run([]string{"partner-sim", "--secret", "not-a-secret", "--token", "t", "--email", "e@x"}, envOf(nil), io.Discard, &errb); code != 2 ||
		!strings.Contains(errb.String(), "--secret: must be whsec_") || strings.Contains(errb.String(), "not-a-secret") {
		t.Fatalf("a bad secret: exit %d %s", code, errb.String())
	}
	cfg, code := parseSimFlags([]string{"--email", "e@x", "--callback-base", "http://127.0.0.1:8080"},
		envOf(map[string]string{simSecretEnv: simTestSecret, simTokenEnv: "tok"}), io.Discard, io.Discard)
	if code != -1 || cfg.Secret != simTestSecret || cfg.Token != "tok" || cfg.CallbackBase == nil || cfg.Addr != "127.0.0.1:8090" ||
		cfg.Delay != 2*time.Second || cfg.CompletedShare != 0.7 || cfg.Style != simStyleMixed {
		t.Fatalf("from the environment: %d %+v", code, cfg)
	}
}

// The command serves on its --addr until its context ends, then stops.
func TestPartnerSimCommandServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan int, 1)
	logs := newLogSink()
	go func() {
		done <- runPartnerSim(ctx, []string{"--addr", "127.0.0.1:0", "--secret", simTestSecret, "--token", "t", "--email", "e@x"},
			envOf(nil), io.Discard, logs, func(a string) { addr <- a })
	}()
	var a string
	select {
	case a = <-addr:
	case code := <-done:
		t.Fatalf("exited %d before serving:\n%s", code, logs)
	}
	call := newSimCall(t, "https://crm.example.com", true)
	if status, body, err := call.post(t, http.DefaultClient, "http://"+a+"/"); status != 202 {
		t.Fatalf("test call: %d %q %v", status, body, err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after its context ended", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop within 10s of its context ending")
	}
	if !strings.Contains(logs.String(), `"msg":"partner-sim listening"`) || !strings.Contains(logs.String(), `"msg":"partner-sim stopped"`) {
		t.Fatalf("the log:\n%s", logs)
	}
}
