package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/cvio"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/httpguard"
	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// testMP3 is a tiny MP3: an ID3v2.3 tag header, then MPEG-1 layer III frames.
var testMP3 = func() []byte {
	b := []byte("ID3\x03\x00\x00\x00\x00\x00\x00")
	frame := append([]byte{0xFF, 0xFB, 0x90, 0x64}, bytes.Repeat([]byte{0x55}, 413)...)
	for range 5 {
		b = append(b, frame...)
	}
	return b
}()

var testMP3Base64 = base64.StdEncoding.EncodeToString(testMP3)

// The contract's two example bodies.
const (
	contractTaskBody = `{
  "telefone": "48999476359",
  "interacoes": [{
    "tipo": "L",
    "descricao": "Ligação realizada com sucesso para o lead",
    "tarefa": {"nome": "Ligação externa", "data": "2024-03-19 14:00", "situacao": "C",
               "prioridade": "A", "tipo_responsavel": "G", "idresponsavel": 6065,
               "lembrete_tarefa": "S"}
  }]
}`
	partnerEmail = "integracao@parceiro.example.com"
)

func contractLeadBody(email, audio string) string {
	return `{"permitir_alteracao": true, "nome": "Teste audio 8", "email": "` + email + `",
 "interacoes": [{"tipo": "L", "descricao": "Teste de Ligação", "audio_base64": "` + audio + `"}]}`
}

type rigConfig struct {
	maxAudio    int64
	maxCallback int64
	rateLimit   int
	// inFlight bounds the callback bodies read at once (0: the default).
	inFlight int64
	// proxies are the trusted proxies (comma-separated CIDRs).
	proxies string
	// wrapAudio, when set, stands between the API and the audio store.
	wrapAudio func(ports.AudioStore) ports.AudioStore
}

// callbackRig is the API on the in-memory store and a filesystem audio
// store, with the environment of seedCalls and a partner token for it.
type callbackRig struct {
	*client
	store *memory.Store
	audio *audiostore.FS
	// audioDir is the audio store's root, where spools keep their files.
	audioDir string
	token    string // the partner token's plaintext
	tokID    string
}

func newCallbackRig(t testing.TB, cfg rigConfig) *callbackRig {
	t.Helper()
	store := memory.NewStore()
	dir := t.TempDir()
	audio, err := audiostore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	var served ports.AudioStore = audio
	if cfg.wrapAudio != nil {
		served = cfg.wrapAudio(audio)
	}
	proxies, err := httpguard.ParseTrustedProxies(cfg.proxies)
	if err != nil {
		t.Fatal(err)
	}
	clock := memory.NewClock(t0)
	// The rate limits read the rig's clock too: their buckets refill only
	// when a test moves it.
	h := httpapi.New(httpapi.Config{AdminToken: adminToken, MaxCallbackBytes: cfg.maxCallback, PartnerRateLimit: cfg.rateLimit,
		MaxCallbackBytesInFlight: cfg.inFlight, TrustedProxies: proxies, Now: clock.Now},
		callbackServices(store, served, clock, memory.NewRandom(7), cfg.maxAudio), httpapi.Ops{})
	r := &callbackRig{client: &client{t: t, handler: h, token: adminToken}, store: store, audio: audio, audioDir: dir}
	r.setUp()
	return r
}

// callbackServices wires every service on store and audio.
func callbackServices(store ports.Store, audio ports.AudioStore, clock ports.Clock, random ports.Random, maxAudio int64) httpapi.Services {
	partner := &fakePartner{status: http.StatusOK}
	return httpapi.Services{
		Configuration: app.NewConfiguration(store),
		Telephony:     app.NewTelephony(store, clock, random, domain.URLPolicy{}),
		CallButtons:   app.NewCallButtons(store),
		Calls: app.NewCalls(store, clock, random, partner, cvio.Payloads{},
			app.CallsConfig{DispatchDeadline: dispatchDeadline, RetryMinBackoff: time.Second}),
		PartnerTokens: app.NewPartnerTokens(store, clock, random),
		Callbacks:     app.NewCallbacks(store, clock, random, audio, cvio.Receipts{}, app.CallbacksConfig{MaxAudioBytes: maxAudio}, nil),
		Monitor:       app.NewMonitor(store, random, nil),
	}
}

// setUp seeds the environment (lead 1 with phone 48999476359), a lead 2
// with an e-mail, another environment, and a partner token.
func (r *callbackRig) setUp() {
	r.t.Helper()
	seedCalls(r.t, r.client, env)
	r.ok(r.put(env+"/leads/2", map[string]any{"name": "Lead por e-mail", "email": "testeaudio8@teste.com", "manager_id": "gestor"}))
	seedCalls(r.t, r.client, "/v1/environments/other")
	tok := r.created(r.post(env+"/partner-tokens", map[string]any{"email": partnerEmail, "description": "Parceiro"}))
	r.token, r.tokID = tok["token"].(string), tok["id"].(string)
}

func (r *callbackRig) created(res *response) map[string]any {
	r.t.Helper()
	if res.Status != http.StatusCreated {
		r.t.Fatalf("want 201, got %s", res)
	}
	return res.object(r.t)
}

// partner sends a callback with the rig's partner credentials; headers
// (name, value pairs) are added or override them.
func (r *callbackRig) partner(path string, body string, headers ...string) *response {
	r.t.Helper()
	h := append([]string{"email", partnerEmail, "token", r.token}, headers...)
	return r.withToken("").do(http.MethodPost, path, body, h...)
}

// history returns the lead's history.
func (r *callbackRig) history(leadID string) []any {
	r.t.Helper()
	l := r.ok(r.get(env + "/leads/" + leadID))
	return l["history"].([]any)
}

func (r *callbackRig) placeCall(leadID string) string {
	r.t.Helper()
	c := accepted(r.t, r.post(env+"/leads/"+leadID+"/calls", map[string]any{"user_id": "gestor"}))
	return c["id"].(string)
}

func (r *callbackRig) noHistory(leadIDs ...string) {
	r.t.Helper()
	for _, id := range leadIDs {
		if h := r.history(id); len(h) != 0 {
			r.t.Fatalf("lead %s has history: %v", id, h)
		}
	}
}

func TestPartnerTokens(t *testing.T) {
	r := newCallbackRig(t, rigConfig{})
	tok := r.created(r.post(env+"/partner-tokens", map[string]any{"email": "outro@parceiro.example.com", "description": "Outro"}))
	for _, k := range []string{"id", "email", "description", "created_at", "revoked_at", "token"} {
		field(t, tok, k)
	}
	if tok["revoked_at"] != nil || !strings.HasPrefix(tok["token"].(string), "cct_"+tok["id"].(string)+"_") || tok["email"] != "outro@parceiro.example.com" {
		t.Fatalf("created token: %v", tok)
	}

	list := r.ok(r.get(env + "/partner-tokens"))["items"].([]any)
	if len(list) != 2 {
		t.Fatalf("want 2 tokens, got %v", list)
	}
	for _, it := range list {
		if _, ok := it.(map[string]any)["token"]; ok {
			t.Fatalf("a listed token shows its secret: %v", it)
		}
	}
	if other := r.ok(r.get("/v1/environments/other/partner-tokens"))["items"].([]any); len(other) != 0 {
		t.Fatalf("tokens leak across environments: %v", other)
	}

	revoked := r.ok(r.do(http.MethodDelete, env+"/partner-tokens/"+tok["id"].(string), nil))
	if revoked["revoked_at"] == nil || revoked["id"] != tok["id"] {
		t.Fatalf("revoked: %v", revoked)
	}
	again := r.ok(r.do(http.MethodDelete, env+"/partner-tokens/"+tok["id"].(string), nil))
	if again["revoked_at"] != revoked["revoked_at"] {
		t.Fatalf("revoking again changed the time: %v then %v", revoked, again)
	}
	wantProblem(t, r.do(http.MethodDelete, env+"/partner-tokens/nope", nil), http.StatusNotFound, app.CodePartnerTokenNotFound, "path.token_id")
	wantProblem(t, r.do(http.MethodDelete, "/v1/environments/other/partner-tokens/"+r.tokID, nil), http.StatusNotFound, app.CodePartnerTokenNotFound, "path.token_id")
	wantProblem(t, r.post(env+"/partner-tokens", map[string]any{"email": "not an e-mail"}), http.StatusUnprocessableEntity, "invalid_field", "body.email")
	wantProblem(t, r.post("/v1/environments/nowhere/partner-tokens", map[string]any{"email": partnerEmail}), http.StatusNotFound, "environment_not_found", "path.env")
	wantProblem(t, r.withToken("").get(env+"/partner-tokens"), http.StatusUnauthorized, "unauthorized", "")
}

func TestCallbacksRefuseWrongCredentials(t *testing.T) {
	r := newCallbackRig(t, rigConfig{})
	otherTok := r.created(r.post("/v1/environments/other/partner-tokens", map[string]any{"email": partnerEmail}))["token"].(string)
	revoked := r.created(r.post(env+"/partner-tokens", map[string]any{"email": partnerEmail}))
	r.ok(r.do(http.MethodDelete, env+"/partner-tokens/"+revoked["id"].(string), nil))
	otherEnvLead := `{"telefone": "48999476359", "interacoes": [{"tipo": "L", "descricao": "x"}]}`

	cases := map[string][]string{
		"no headers":        {"email", "", "token", ""},
		"no token":          {"token", ""},
		"no email":          {"email", ""},
		"wrong secret":      {"token", r.token[:len(r.token)-2] + "xx"},
		"wrong email":       {"email", "outro@parceiro.example.com"},
		"not a token":       {"token", "hunter2"},
		"unknown id":        {"token", "cct_nope_" + strings.Repeat("a", 43)},
		"revoked":           {"token", revoked["token"].(string)},
		"admin bearer only": {"email", "", "token", "", "Authorization", "Bearer " + adminToken},
	}
	for name, headers := range cases {
		for _, path := range []string{"/api/cvio/lead_tarefas/cadastrar", "/api/cvio/lead", "/api/cvio/ligacoes/x/resultado"} {
			t.Run(name+" "+path, func(t *testing.T) {
				wantProblem(t, r.partner(path, contractTaskBody, headers...), http.StatusUnauthorized, "unauthorized", "header.token")
			})
		}
	}
	r.noHistory("1", "2")

	// A token of another environment acts there, never here: lead 1 of
	// "other" gets the interaction, lead 1 of acme does not.
	res := r.partner("/api/cvio/lead_tarefas/cadastrar", otherEnvLead, "token", otherTok)
	if res.Status != http.StatusOK {
		t.Fatalf("other environment's token in its own environment: %s", res)
	}
	r.noHistory("1", "2")
	if h := r.ok(r.get("/v1/environments/other/leads/1"))["history"].([]any); len(h) != 1 {
		t.Fatalf("other environment's lead: %v", h)
	}

	// Refusals with a token id that exists are kept in its environment's
	// monitor, the credentials redacted.
	var refused int
	for _, e := range r.store.Exchanges("acme") {
		if e.StatusCode == http.StatusUnauthorized {
			refused++
			if v := e.RequestHeaders["Token"]; len(v) > 0 && v[0] != domain.Redacted {
				t.Fatalf("token not redacted: %v", e.RequestHeaders)
			}
		}
	}
	if refused == 0 {
		t.Fatal("no refused exchange kept in the monitor")
	}
}

func TestTaskCallbackFindsTheLeadByPhone(t *testing.T) {
	r := newCallbackRig(t, rigConfig{})
	callID := r.placeCall("1")
	for i, phone := range []string{`"+55 (48) 99947-6359"`, `48999476359`, `"(48) 9 9947-6359"`} {
		body := strings.Replace(contractTaskBody, `"48999476359"`, phone, 1)
		body = strings.Replace(body, "Ligação realizada com sucesso para o lead", fmt.Sprintf("Tentativa %d", i), 1)
		ans := r.ok(r.partner("/api/cvio/lead_tarefas/cadastrar", body, "Content-Type", "application/json; charset=utf-8"))
		if ans["lead_id"] != "1" || ans["call_id"] != callID || len(ans["interaction_ids"].([]any)) != 1 {
			t.Fatalf("%s: %v", phone, ans)
		}
	}
	h := r.history("1")
	if len(h) != 3 {
		t.Fatalf("want 3 entries, got %v", h)
	}
	newest := h[0].(map[string]any)
	if newest["description"] != "Tentativa 2" || newest["type"] != "L" || newest["call_id"] != callID ||
		newest["recording_id"] != nil || newest["recording_url"] != nil {
		t.Fatalf("newest entry: %v", newest)
	}
	task := newest["task"].(map[string]any)
	want := map[string]any{"name": "Ligação externa", "due_at": "2024-03-19T14:00:00-03:00", "status": "C", "priority": "A",
		"responsible_type": "G", "responsible_id": "6065", "reminder": true}
	for k, v := range want {
		if task[k] != v {
			t.Fatalf("task %s = %v, want %v (%v)", k, task[k], v, task)
		}
	}
	r.noHistory("2")

	// Without a body, the Content-Type may be absent; an unknown phone is 404.
	unknown := strings.Replace(contractTaskBody, "48999476359", "11988887777", 1)
	wantProblem(t, r.partner("/api/cvio/lead_tarefas/cadastrar", unknown, "Content-Type", ""), http.StatusNotFound, "lead_not_found", "body.telefone")
}

func TestLeadCallbackWithAudio(t *testing.T) {
	r := newCallbackRig(t, rigConfig{})
	// By e-mail, case-insensitively: the name may change, the e-mail that found the lead stays.
	res := r.partner("/api/cvio/lead", contractLeadBody("TesteAudio8@Teste.COM", testMP3Base64))
	ans := r.ok(res)
	recIDs := ans["recording_ids"].([]any)
	if ans["lead_id"] != "2" || len(recIDs) != 1 || ans["call_id"] != nil {
		t.Fatalf("answer: %v", ans)
	}
	lead := r.ok(r.get(env + "/leads/2"))
	if lead["name"] != "Teste audio 8" || lead["email"] != "testeaudio8@teste.com" {
		t.Fatalf("lead: %v", lead)
	}
	h := lead["history"].([]any)
	if len(h) != 1 {
		t.Fatalf("history: %v", h)
	}
	entry := h[0].(map[string]any)
	url := env + "/recordings/" + recIDs[0].(string)
	if entry["recording_id"] != recIDs[0] || entry["recording_url"] != url || entry["task"] != nil || entry["call_id"] != nil {
		t.Fatalf("entry: %v", entry)
	}

	got := r.get(url)
	if got.Status != http.StatusOK || !bytes.Equal(got.Body, testMP3) || got.Header.Get("Content-Type") != domain.AudioMPEG ||
		got.Header.Get("Accept-Ranges") != "bytes" || got.Header.Get("ETag") != strconv.Quote(domain.AudioKey(testMP3)) {
		t.Fatalf("recording: %d %v (%d bytes)", got.Status, got.Header, len(got.Body))
	}
	part := r.do(http.MethodGet, url, nil, "Range", "bytes=10-99")
	if part.Status != http.StatusPartialContent || !bytes.Equal(part.Body, testMP3[10:100]) ||
		part.Header.Get("Content-Range") != fmt.Sprintf("bytes 10-99/%d", len(testMP3)) {
		t.Fatalf("range: %d %v %q", part.Status, part.Header, part.Body)
	}
	tail := r.do(http.MethodGet, url, nil, "Range", "bytes=-5")
	if tail.Status != http.StatusPartialContent || !bytes.Equal(tail.Body, testMP3[len(testMP3)-5:]) {
		t.Fatalf("suffix range: %s", tail)
	}
	wantProblem(t, r.do(http.MethodGet, url, nil, "Range", "bytes=99999-"), http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable", "")
	if nm := r.do(http.MethodGet, url, nil, "If-None-Match", got.Header.Get("ETag")); nm.Status != http.StatusNotModified {
		t.Fatalf("If-None-Match: %s", nm)
	}
	wantProblem(t, r.get(env+"/recordings/nope"), http.StatusNotFound, app.CodeRecordingNotFound, "path.recording_id")
	wantProblem(t, r.get("/v1/environments/other/recordings/"+recIDs[0].(string)), http.StatusNotFound, app.CodeRecordingNotFound, "")
	wantProblem(t, r.withToken("").get(url), http.StatusUnauthorized, "unauthorized", "")

	// The monitor keeps the exchange with the credentials redacted and the
	// audio replaced by a reference to its recording.
	var kept *domain.Exchange
	for _, e := range r.store.Exchanges("acme") {
		if e.Direction == domain.Inbound && e.URL == "/api/cvio/lead" && e.StatusCode == http.StatusOK {
			kept = &e
		}
	}
	if kept == nil {
		t.Fatalf("the callback is not in the monitor: %+v", r.store.Exchanges("acme"))
	}
	if kept.LeadID != "2" || kept.Method != http.MethodPost || kept.RequestHeaders["Token"][0] != domain.Redacted ||
		kept.RequestHeaders["Email"][0] != domain.Redacted || strings.Contains(kept.RequestBody, testMP3Base64[:40]) ||
		!strings.Contains(kept.RequestBody, fmt.Sprintf("[audio: %d base64 chars; recording %s; sha256 %s]", len(testMP3Base64), recIDs[0], testMP3SHA256(t))) ||
		kept.ResponseBody != string(res.Body) || kept.Duration <= 0 {
		t.Fatalf("monitor: %+v", kept)
	}
	var asJSON map[string]any
	if err := json.Unmarshal([]byte(kept.RequestBody), &asJSON); err != nil {
		t.Fatalf("the kept body is no longer JSON: %v\n%s", err, kept.RequestBody)
	}
}

// A recording as some JSON encoders write it (slashes escaped as \/, lines
// wrapped with \r\n escapes, in a data URI) is decoded as the body arrives
// and stored exactly.
func TestRecordingWithJSONEscapes(t *testing.T) {
	r := newCallbackRig(t, rigConfig{})
	audio := append(append([]byte{}, testMP3...), bytes.Repeat([]byte{0xff, 0xfb, 0x90, 0x64}, 40_000)...)
	enc := base64.StdEncoding.EncodeToString(audio)
	var wrapped strings.Builder
	for i := 0; i < len(enc); i += 76 {
		wrapped.WriteString(strings.ReplaceAll(enc[i:min(i+76, len(enc))], "/", `\/`) + `\r\n`)
	}
	if !strings.Contains(wrapped.String(), `\/`) {
		t.Fatal("the test recording has no slash to escape")
	}
	ans := r.ok(r.partner("/api/cvio/lead", contractLeadBody("testeaudio8@teste.com", `data:audio\/mpeg;base64,`+wrapped.String())))
	ids := ans["recording_ids"].([]any)
	if len(ids) != 1 || ans["recording_sha256s"].([]any)[0] != domain.AudioKey(audio) {
		t.Fatalf("answer: %v", ans)
	}
	got := r.get(env + "/recordings/" + ids[0].(string))
	if got.Status != http.StatusOK || !bytes.Equal(got.Body, audio) {
		t.Fatalf("recording: %d, %d bytes of %d", got.Status, len(got.Body), len(audio))
	}
}

// A body holding the same recording twice (the second interaction a
// duplicate of the first, so stored once) and a different one: the monitor's
// references name, each, the recording that holds their content, although
// the answer lists fewer recordings than the body has.
func TestMonitorReferencesMatchRecordingsByContent(t *testing.T) {
	r := newCallbackRig(t, rigConfig{})
	other := append(append([]byte{}, testMP3...), bytes.Repeat([]byte{0xff, 0xfb, 0x90, 0x64}, 100)...)
	otherBase64 := base64.StdEncoding.EncodeToString(other)
	body := `{"email": "testeaudio8@teste.com", "interacoes": [
 {"tipo": "L", "descricao": "Primeira ligação", "audio_base64": "` + testMP3Base64 + `"},
 {"tipo": "L", "descricao": "Primeira ligação", "audio_base64": "` + testMP3Base64 + `"},
 {"tipo": "L", "descricao": "Segunda ligação", "audio_base64": "` + otherBase64 + `"}]}`
	res := r.partner("/api/cvio/lead", body)
	ans := r.ok(res)
	ids, shas := ans["recording_ids"].([]any), ans["recording_sha256s"].([]any)
	if len(ids) != 2 || len(shas) != 2 || shas[0] != domain.AudioKey(testMP3) || shas[1] != domain.AudioKey(other) || ans["duplicates"] != 1.0 {
		t.Fatalf("answer: %v", ans)
	}
	var kept *domain.Exchange
	for _, e := range r.store.Exchanges("acme") {
		if e.Direction == domain.Inbound && e.URL == "/api/cvio/lead" && e.ResponseBody == string(res.Body) {
			kept = &e
		}
	}
	if kept == nil {
		t.Fatal("the callback is not in the monitor")
	}
	var got struct {
		Interacoes []struct {
			Audio string `json:"audio_base64"`
		} `json:"interacoes"`
	}
	if err := json.Unmarshal([]byte(kept.RequestBody), &got); err != nil {
		t.Fatalf("the kept body is no longer JSON: %v\n%s", err, kept.RequestBody)
	}
	first := fmt.Sprintf("[audio: %d base64 chars; recording %s; sha256 %s]", len(testMP3Base64), ids[0], shas[0])
	want := []string{first, first, fmt.Sprintf("[audio: %d base64 chars; recording %s; sha256 %s]", len(otherBase64), ids[1], shas[1])}
	if len(got.Interacoes) != len(want) {
		t.Fatalf("kept body: %s", kept.RequestBody)
	}
	for i, w := range want {
		if got.Interacoes[i].Audio != w {
			t.Errorf("reference %d:\n got %s\nwant %s", i, got.Interacoes[i].Audio, w)
		}
	}
}

func TestCallResults(t *testing.T) {
	r := newCallbackRig(t, rigConfig{})
	done := r.placeCall("1")
	body := `{"status": "realizada", "descricao": "Conversamos", "duracao_segundos": "42", "audio_base64": "data:audio/mpeg;base64,` + testMP3Base64 + `"}`
	ans := r.ok(r.partner("/api/cvio/ligacoes/"+done+"/resultado", body))
	if ans["call_id"] != done || ans["call_status"] != "completed" || len(ans["recording_ids"].([]any)) != 1 {
		t.Fatalf("realizada: %v", ans)
	}
	if c := r.ok(r.get(env + "/calls/" + done)); c["status"] != "completed" || c["reason"] != nil {
		t.Fatalf("call: %v", c)
	}
	h := r.history("1")
	if len(h) != 1 || h[0].(map[string]any)["call_id"] != done || h[0].(map[string]any)["recording_url"] == nil {
		t.Fatalf("history: %v", h)
	}

	// The same result again, without a key: no second entry.
	again := r.ok(r.partner("/api/cvio/ligacoes/"+done+"/resultado", body))
	if again["duplicates"] != 1.0 || len(again["interaction_ids"].([]any)) != 0 {
		t.Fatalf("repeat: %v", again)
	}
	if h := r.history("1"); len(h) != 1 {
		t.Fatalf("a repeated result was recorded twice: %v", h)
	}

	missed := r.placeCall("1")
	ans = r.ok(r.partner("/api/cvio/ligacoes/"+missed+"/resultado", `{"status": "nao_realizada", "motivo": "não atendida"}`))
	if ans["call_status"] != "not_completed" {
		t.Fatalf("nao_realizada: %v", ans)
	}
	if c := r.ok(r.get(env + "/calls/" + missed)); c["status"] != "not_completed" || c["reason"] != "no_answer" {
		t.Fatalf("call: %v", c)
	}

	// The call id in the query must agree with the path.
	wantProblem(t, r.partner("/api/cvio/ligacoes/"+missed+"/resultado?idligacao="+done, `{"status": "realizada"}`),
		http.StatusUnprocessableEntity, "invalid_field", "query.idligacao")
	wantProblem(t, r.partner("/api/cvio/ligacoes/nope/resultado", `{"status": "realizada"}`), http.StatusNotFound, "call_not_found", "path.idligacao")
}

func TestQueryCallIDCorrelates(t *testing.T) {
	r := newCallbackRig(t, rigConfig{})
	callID := r.placeCall("1")
	// No telefone: the query's idligacao names the call (and so the lead).
	ans := r.ok(r.partner("/api/cvio/lead_tarefas/cadastrar?idligacao="+callID, `{"interacoes": {"tipo": "L", "descricao": "pelo id"}}`))
	if ans["call_id"] != callID || ans["lead_id"] != "1" {
		t.Fatalf("answer: %v", ans)
	}
	// The id as a number in the body is fine too, and must agree with the query.
	wantProblem(t, r.partner("/api/cvio/lead?idligacao="+callID, `{"idligacao": 123, "interacoes": []}`),
		http.StatusUnprocessableEntity, "invalid_field", "body.idligacao")
	wantProblem(t, r.partner("/api/cvio/lead_tarefas/cadastrar?idligacao=unknown-call", `{"interacoes": [{"descricao": "x"}]}`),
		http.StatusNotFound, "call_not_found", "query.idligacao")
	// Exchanges carry the call id.
	found := false
	for _, e := range r.store.Exchanges("acme") {
		if e.StatusCode == http.StatusOK && e.CallID == callID && e.LeadID == "1" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no exchange with the call and lead: %+v", r.store.Exchanges("acme"))
	}
}

func TestMalformedCallbacksWriteNothing(t *testing.T) {
	r := newCallbackRig(t, rigConfig{maxAudio: 4096, maxCallback: 64 << 10})
	callID := r.placeCall("1")
	big := base64.StdEncoding.EncodeToString(append(bytes.Clone(testMP3), make([]byte, 4096)...))
	text := base64.StdEncoding.EncodeToString([]byte("this is not audio, just words"))
	cases := []struct {
		name, path, body, ct string
		status               int
		code, location       string
	}{
		{"not JSON", "/api/cvio/lead_tarefas/cadastrar", `{"telefone": `, "", 400, "malformed_json", "body"},
		{"not JSON, as a form", "/api/cvio/lead", `{"email": "testeaudio8@teste.com",`, "application/x-www-form-urlencoded", 400, "malformed_json", "body"},
		{"bad date", "/api/cvio/lead_tarefas/cadastrar", `{"telefone": "48999476359", "interacoes": [{"tarefa": {"nome": "x", "data": "ontem"}}]}`, "", 422, "invalid_field", "body.interacoes[0].tarefa.data"},
		{"no interactions", "/api/cvio/lead_tarefas/cadastrar", `{"telefone": "48999476359"}`, "", 422, "invalid_field", "body.interacoes"},
		{"nothing names the lead", "/api/cvio/lead", `{"interacoes": [{"descricao": "x"}]}`, "", 422, app.CodeLeadNotIdentified, ""},
		{"bad status", "/api/cvio/ligacoes/" + callID + "/resultado", `{"status": "talvez"}`, "", 422, "invalid_field", "body.status"},
		{"bad base64", "/api/cvio/ligacoes/" + callID + "/resultado", `{"status": "realizada", "audio_base64": "***"}`, "", 422, "invalid_field", "body.audio_base64"},
		{"text as audio", "/api/cvio/lead", contractLeadBody("testeaudio8@teste.com", text), "", 415, domain.CodeUnsupportedAudio, "body.interacoes[0].audio_base64"},
		{"audio too large", "/api/cvio/ligacoes/" + callID + "/resultado", `{"status": "realizada", "audio_base64": "` + big + `"}`, "", 413, domain.CodeAudioTooLarge, "body.audio_base64"},
		{"body too large", "/api/cvio/lead", contractLeadBody("testeaudio8@teste.com", strings.Repeat("A", 64<<10)), "", 413, "body_too_large", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			headers := []string{}
			if tc.ct != "" {
				headers = append(headers, "Content-Type", tc.ct)
			}
			wantProblem(t, r.partner(tc.path, tc.body, headers...), tc.status, tc.code, tc.location)
		})
	}
	r.noHistory("1", "2")
	if c := r.ok(r.get(env + "/calls/" + callID)); c["status"] != "queued" {
		t.Fatalf("a refused result changed the call: %v", c)
	}
	n := 0
	err := r.audio.List(t.Context(), func(string, time.Time) error { n++; return nil })
	if err != nil || n != 0 {
		t.Fatalf("audio left in the store: %d (%v)", n, err)
	}
	// Every refusal is in the monitor.
	statuses := map[int]int{}
	for _, e := range r.store.Exchanges("acme") {
		statuses[e.StatusCode]++
	}
	if statuses[400] != 2 || statuses[422] != 5 || statuses[415] != 1 || statuses[413] != 2 {
		t.Fatalf("monitor statuses: %v", statuses)
	}
}

func TestIdempotencyKey(t *testing.T) {
	r := newCallbackRig(t, rigConfig{})
	first := r.partner("/api/cvio/lead_tarefas/cadastrar", contractTaskBody, "Idempotency-Key", "k-1")
	r.ok(first)
	// A retry with the same key and body: the first answer, byte for byte.
	again := r.partner("/api/cvio/lead_tarefas/cadastrar", contractTaskBody, "Idempotency-Key", "k-1")
	if again.Status != http.StatusOK || !bytes.Equal(again.Body, first.Body) {
		t.Fatalf("replay: %s, first %s", again, first)
	}
	if h := r.history("1"); len(h) != 1 {
		t.Fatalf("history after a replay: %v", h)
	}
	other := strings.Replace(contractTaskBody, "Ligação externa", "Outra tarefa", 1)
	wantProblem(t, r.partner("/api/cvio/lead_tarefas/cadastrar", other, "Idempotency-Key", "k-1"), http.StatusConflict, app.CodeIdempotencyKeyReused, "header.Idempotency-Key")
	wantProblem(t, r.partner("/api/cvio/lead_tarefas/cadastrar", other, "Idempotency-Key", strings.Repeat("k", 256)), http.StatusUnprocessableEntity, "invalid_field", "header.Idempotency-Key")
	if h := r.history("1"); len(h) != 1 {
		t.Fatalf("history after a refused reuse: %v", h)
	}
}

func TestPartnerRateLimit(t *testing.T) {
	r := newCallbackRig(t, rigConfig{rateLimit: 3})
	for i := range 3 {
		body := strings.Replace(contractTaskBody, "Ligação externa", fmt.Sprintf("Tarefa %d", i), 1)
		r.ok(r.partner("/api/cvio/lead_tarefas/cadastrar", body))
	}
	res := r.partner("/api/cvio/lead_tarefas/cadastrar", contractTaskBody)
	wantProblem(t, res, http.StatusTooManyRequests, "too_many_requests", "")
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	if h := r.history("1"); len(h) != 3 {
		t.Fatalf("history: %v", h)
	}
	// Another token has its own bucket.
	tok := r.created(r.post(env+"/partner-tokens", map[string]any{"email": partnerEmail}))["token"].(string)
	r.ok(r.partner("/api/cvio/lead_tarefas/cadastrar", contractTaskBody, "token", tok))

	// Failed authentications are limited per client address.
	for range 3 {
		wantProblem(t, r.partner("/api/cvio/lead", "{}", "token", "cct_guess_"+strings.Repeat("x", 43)), http.StatusUnauthorized, "unauthorized", "")
	}
	res = r.partner("/api/cvio/lead", "{}", "token", "cct_guess_"+strings.Repeat("y", 43))
	wantProblem(t, res, http.StatusTooManyRequests, "too_many_requests", "")
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	var limited int
	for _, e := range r.store.Exchanges("acme") {
		if e.StatusCode == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited != 1 {
		t.Fatalf("want the token's 429 in the monitor, got %d", limited)
	}
}

// TestCallbackTolerance sends what heterogeneous partners send over a real
// connection: header names in other cases, ids as numbers, a charset.
func TestCallbackTolerance(t *testing.T) {
	r := newCallbackRig(t, rigConfig{})
	srv := httptest.NewServer(r.handler)
	t.Cleanup(srv.Close)
	callID := r.placeCall("1")
	send := func(path, body string, header http.Header) (*http.Response, []byte) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header // kept as given: the server canonicalises names
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	hdr := http.Header{"EMAIL": {strings.ToUpper(partnerEmail)}, "token": {r.token}, "content-type": {"Application/JSON; charset=UTF-8"}}
	body := `{"TELEFONE": 5548999476359, "Interacoes": [{"tipo": "L", "descricao": "números", "tarefa": {"nome": "T", "data": "2024-03-19 14:00:30", "idresponsavel": 6065, "lembrete_tarefa": 1}}], "extra": {"a": [1, 2]}}`
	res, b := send("/api/cvio/lead_tarefas/cadastrar", body, hdr)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	var ans map[string]any
	if err := json.Unmarshal(b, &ans); err != nil || ans["call_id"] != callID {
		t.Fatalf("%v %s", err, b)
	}
	task := r.history("1")[0].(map[string]any)["task"].(map[string]any)
	if task["responsible_id"] != "6065" || task["due_at"] != "2024-03-19T14:00:30-03:00" || task["reminder"] != true {
		t.Fatalf("task: %v", task)
	}
	res, b = send("/api/cvio/ligacoes/"+callID+"/resultado?idligacao="+callID, `{"status": "nao_realizada", "motivo": "Ocupado", "idligacao": "`+callID+`"}`,
		http.Header{"email": {partnerEmail}, "TOKEN": {r.token}})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	if c := r.ok(r.get(env + "/calls/" + callID)); c["reason"] != "busy" {
		t.Fatalf("call: %v", c)
	}
}

// A body shorter than its Content-Length (a client that went away) is the
// client's fault: 400, nothing written.
func TestTruncatedCallbackBody(t *testing.T) {
	r := newCallbackRig(t, rigConfig{})
	req := httptest.NewRequest(http.MethodPost, "/api/cvio/lead_tarefas/cadastrar", strings.NewReader(contractTaskBody[:40]))
	req.ContentLength = int64(len(contractTaskBody))
	req.Header.Set("email", partnerEmail)
	req.Header.Set("token", r.token)
	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, req)
	wantProblem(t, &response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}, http.StatusBadRequest, "bad_request", "")
	r.noHistory("1")
}

// testMP3SHA256 is the content address of the test recording.
func testMP3SHA256(t *testing.T) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(testMP3Base64)
	if err != nil {
		t.Fatal(err)
	}
	return domain.AudioKey(b)
}

// countingSpools counts the spools an audio store opens.
type countingSpools struct {
	ports.AudioStore
	opened atomic.Int64
}

func (c *countingSpools) Spool(ctx context.Context) (ports.AudioSpool, error) {
	c.opened.Add(1)
	return c.AudioStore.Spool(ctx)
}

// A valid partner's small body of thousands of tiny recordings (the
// reviewer's ~500 KB of {"audio_base64":"AAAA"}) is refused with a 422
// naming interacoes after a bounded number of spools, and leaves nothing:
// no history, no object, no spool file.
func TestTooManyRecordingsRefused(t *testing.T) {
	spools := &countingSpools{}
	r := newCallbackRig(t, rigConfig{maxAudio: 4096, maxCallback: 1 << 20, wrapAudio: func(a ports.AudioStore) ports.AudioStore {
		spools.AudioStore = a
		return spools
	}})
	body := `{"telefone": "48999476359", "interacoes": [` +
		strings.TrimSuffix(strings.Repeat(`{"audio_base64":"AAAA"},`, 21_000), ",") + `]}`
	wantProblem(t, r.partner("/api/cvio/lead_tarefas/cadastrar", body), 422, "invalid_field", "body.interacoes")
	if n := spools.opened.Load(); n > cvio.MaxCallbackRecordings {
		t.Fatalf("%d spools opened for one callback", n)
	}
	r.noHistory("1", "2")
	n := 0
	if err := r.audio.List(t.Context(), func(string, time.Time) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("audio left in the store: %d (%v)", n, err)
	}
	entries, err := os.ReadDir(r.audioDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".spool") {
			t.Fatalf("spool file left: %s", e.Name())
		}
	}
}
