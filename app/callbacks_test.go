package app_test

import (
	"context"
	"encoding/base64"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/cvio"
	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// The start of the contract's example recording: an MP3 with an ID3 tag.
var mp3 = append([]byte("ID3\x03\x00\x00\x00\x00\x00\x39TPE1"), make([]byte, 512)...)

type callbacksFixture struct {
	*callsFixture
	audio  ports.AudioStore
	tokens *app.PartnerTokens
	cbs    *app.Callbacks
	tok    domain.PartnerToken
	secret string
}

func newCallbacksFixture(t *testing.T) *callbacksFixture {
	t.Helper()
	f := newCallsFixture(t, app.CallsConfig{})
	audio, err := audiostore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cf := &callbacksFixture{callsFixture: f, audio: audio,
		tokens: app.NewPartnerTokens(f.store, f.clock, memory.NewRandom(11)),
		cbs:    app.NewCallbacks(f.store, f.clock, memory.NewRandom(12), audio, cvio.Receipts{}, app.CallbacksConfig{MaxAudioBytes: 4096}, nil)}
	ctx := context.Background()
	must(t)(f.config.PutLead(ctx, domain.LeadInput{EnvID: "acme", ID: "l1", Name: "Lead do Teste", Email: "Lead.Teste@Example.com",
		Phone: "48999476359", ManagerID: "m1", BrokerID: "b1", AgencyID: "a1"}))
	tok, plain, err := cf.tokens.Create(ctx, "acme", "parceiro@example.com", "telefonia")
	if err != nil {
		t.Fatal(err)
	}
	cf.tok, cf.secret = tok, plain
	return cf
}

func (f *callbacksFixture) history(t *testing.T) []domain.Interaction {
	t.Helper()
	h, err := f.cbs.History(context.Background(), "acme", "l1")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// receive reads body as the HTTP layer does: its recordings decoded into
// the callbacks' spools as it streams in.
func receive(t *testing.T, cbs *app.Callbacks, body string) (*cvio.CallbackBody, *app.Spools) {
	t.Helper()
	sp := cbs.NewSpools(t.Context())
	t.Cleanup(sp.Close)
	b, err := cvio.ReadCallbackBody(strings.NewReader(body), cbs.MaxAudioBytes(), sp.Open)
	if err != nil {
		t.Fatalf("ReadCallbackBody: %v", err)
	}
	return b, sp
}

// postTask, postLead and postResult hand a callback's body to the app as
// the HTTP layer does.
func postTask(t *testing.T, cbs *app.Callbacks, ctx context.Context, tok domain.PartnerToken, body, query string, idem app.Idempotent) (domain.CallbackReceipt, error) {
	t.Helper()
	b, sp := receive(t, cbs, body)
	cb, err := b.ParseTask()
	if err != nil {
		return domain.CallbackReceipt{}, err
	}
	return cbs.Task(ctx, app.CallbackRequest{Token: tok, Spools: sp, QueryCallID: query, Idempotent: idem}, cb)
}

func postLead(t *testing.T, cbs *app.Callbacks, ctx context.Context, tok domain.PartnerToken, body, query string, idem app.Idempotent) (domain.CallbackReceipt, error) {
	t.Helper()
	b, sp := receive(t, cbs, body)
	cb, err := b.ParseLead()
	if err != nil {
		return domain.CallbackReceipt{}, err
	}
	return cbs.Lead(ctx, app.CallbackRequest{Token: tok, Spools: sp, QueryCallID: query, Idempotent: idem}, cb)
}

func postResult(t *testing.T, cbs *app.Callbacks, ctx context.Context, tok domain.PartnerToken, path, query, body string, idem app.Idempotent) (domain.CallbackReceipt, error) {
	t.Helper()
	b, sp := receive(t, cbs, body)
	cb, err := b.ParseResult()
	if err != nil {
		return domain.CallbackReceipt{}, err
	}
	return cbs.Result(ctx, app.CallbackRequest{Token: tok, Spools: sp, PathCallID: path, QueryCallID: query, Idempotent: idem}, cb)
}

func answerOf(t *testing.T, a domain.CallbackReceipt) domain.CallbackReceipt {
	t.Helper()
	return a
}

func TestAuthenticate(t *testing.T) {
	f := newCallbacksFixture(t)
	ctx := context.Background()
	if tok, err := f.tokens.Authenticate(ctx, "PARCEIRO@example.com", f.secret); err != nil || tok.EnvID() != "acme" {
		t.Fatalf("good pair: %v %v", tok.EnvID(), err)
	}
	id, _, _ := domain.ParsePartnerTokenString(f.secret)
	for name, pair := range map[string][2]string{
		"wrong email":  {"outro@example.com", f.secret},
		"wrong secret": {"parceiro@example.com", "cct_" + id + "_" + strings.Repeat("A", 43)},
		"unknown id":   {"parceiro@example.com", strings.Replace(f.secret, id, "nope", 1)},
		"malformed":    {"parceiro@example.com", "letmein"},
		"no email":     {"", f.secret},
	} {
		_, err := f.tokens.Authenticate(ctx, pair[0], pair[1])
		if de, ok := domain.AsError(err); !ok || de.Kind != domain.KindUnauthenticated {
			t.Errorf("%s: %v", name, err)
		}
	}
	must(t)(f.tokens.Revoke(ctx, "acme", f.tok.ID()))
	if _, err := f.tokens.Authenticate(ctx, "parceiro@example.com", f.secret); err == nil {
		t.Fatal("a revoked token must not authenticate")
	}
	list, _ := f.tokens.List(ctx, "acme")
	if len(list) != 1 || !list[0].Revoked() {
		t.Fatalf("list: %+v", list)
	}
	_, err := f.tokens.Revoke(ctx, "acme", "nope")
	if de, ok := domain.AsError(err); !ok || de.Code != app.CodePartnerTokenNotFound {
		t.Fatalf("unknown token: %v", err)
	}
}

const taskBody = `{"telefone": "+55 (48) 99947-6359", "interacoes": [{"tipo": "L", "descricao": "Ligação realizada com sucesso para o lead",
  "tarefa": {"nome": "Ligação externa", "data": "2024-03-19 14:00", "situacao": "C", "prioridade": "A", "tipo_responsavel": "G",
  "idresponsavel": 6065, "lembrete_tarefa": "S"}}]}`

func TestTaskCallbackFindsTheLeadByPhone(t *testing.T) {
	f := newCallbacksFixture(t)
	ans, err := postTask(t, f.cbs, context.Background(), f.tok, taskBody, "", app.Idempotent{})
	if err != nil {
		t.Fatal(err)
	}
	a := answerOf(t, ans)
	if a.LeadID != "l1" || len(a.InteractionIDs) != 1 || a.CallID != "" {
		t.Fatalf("answer: %+v", ans)
	}
	h := f.history(t)
	if len(h) != 1 || h[0].Type() != "L" || h[0].Task() == nil || h[0].Task().ResponsibleID != "6065" || !h[0].Task().Reminder {
		t.Fatalf("history: %+v", h)
	}
	if due := h[0].Task().DueAt; due == nil || due.UTC().Format("2006-01-02 15:04") != "2024-03-19 17:00" {
		t.Fatalf("due at 14:00 in São Paulo: %v", due)
	}
	// The same result again without a key: no second entry.
	ans, _ = postTask(t, f.cbs, context.Background(), f.tok, taskBody, "", app.Idempotent{})
	if a := answerOf(t, ans); a.Duplicates != 1 || len(f.history(t)) != 1 {
		t.Fatalf("duplicate: %+v, %d entries", ans, len(f.history(t)))
	}
}

func TestCallbackCorrelatesByIdligacao(t *testing.T) {
	f := newCallbacksFixture(t)
	ctx := context.Background()
	call, err := f.calls.Place(ctx, "acme", "l1", "b1", "")
	if err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	body := `{"permitir_alteracao": true, "nome": "Teste audio 8", "email": "testeaudio8@teste.com",
	  "interacoes": [{"tipo": "L", "descricao": "Teste de Ligação", "audio_base64": "data:audio/mpeg;base64,` + base64.StdEncoding.EncodeToString(mp3) + `"}]}`
	ans, err := postLead(t, f.cbs, ctx, f.tok, body, call.ID(), app.Idempotent{})
	if err != nil {
		t.Fatal(err)
	}
	a := answerOf(t, ans)
	if a.CallID != call.ID() || a.CallStatus != domain.CallCompleted || len(a.RecordingIDs) != 1 {
		t.Fatalf("answer: %+v", ans)
	}
	lead, _ := f.config.GetLead(ctx, "acme", "l1")
	if lead.Name() != "Teste audio 8" || lead.Email() != "testeaudio8@teste.com" {
		t.Fatalf("permitir_alteracao must update the lead: %s %s", lead.Name(), lead.Email())
	}
	rec, obj, err := f.cbs.Recording(ctx, "acme", a.RecordingIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if rec.ContentType() != domain.AudioMPEG || obj.Size != int64(len(mp3)) || rec.CallID() != call.ID() {
		t.Fatalf("recording: %+v size %d", rec.Input(), obj.Size)
	}
	if _, _, err := f.cbs.Recording(ctx, "other", a.RecordingIDs[0]); err == nil {
		t.Fatal("another environment must not read the recording")
	}
}

func TestLeadCallbackByEmailKeepsTheLeadWithoutPermission(t *testing.T) {
	f := newCallbacksFixture(t)
	ctx := context.Background()
	body := `{"permitir_alteracao": false, "nome": "Outro Nome", "email": "LEAD.teste@example.COM", "interacoes": [{"tipo": "L", "descricao": "x"}]}`
	if _, err := postLead(t, f.cbs, ctx, f.tok, body, "", app.Idempotent{}); err != nil {
		t.Fatal(err)
	}
	lead, _ := f.config.GetLead(ctx, "acme", "l1")
	if lead.Name() != "Lead do Teste" || len(f.history(t)) != 1 {
		t.Fatalf("lead changed without permission: %s", lead.Name())
	}
}

func TestResultCallback(t *testing.T) {
	f := newCallbacksFixture(t)
	ctx := context.Background()
	call, _ := f.calls.Place(ctx, "acme", "l1", "b1", "")
	f.drain(t)
	ans, err := postResult(t, f.cbs, ctx, f.tok, call.ID(), "", `{"status": "nao_realizada", "motivo": "Não atendida"}`, app.Idempotent{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := f.calls.GetCall(ctx, "acme", call.ID())
	if got.Status() != domain.CallNotCompleted || got.Reason() != "no_answer" {
		t.Fatalf("call: %+v %s (%+v)", got.Status(), got.Reason(), ans)
	}
	// A different result for a settled call is a conflict; the same one is not.
	if _, err := postResult(t, f.cbs, ctx, f.tok, call.ID(), "", `{"status": "nao_realizada", "motivo": "nao_atendida"}`, app.Idempotent{}); err != nil {
		t.Fatalf("the same result again: %v", err)
	}
	_, err = postResult(t, f.cbs, ctx, f.tok, call.ID(), "", `{"status": "realizada"}`, app.Idempotent{})
	if de, ok := domain.AsError(err); !ok || de.Kind != domain.KindConflict {
		t.Fatalf("another result for a settled call: %v", err)
	}
	_, err = postResult(t, f.cbs, ctx, f.tok, "nope", "", `{"status": "realizada"}`, app.Idempotent{})
	if de, ok := domain.AsError(err); !ok || de.Code != domain.CodeCallNotFound {
		t.Fatalf("unknown call: %v", err)
	}
}

func TestIdempotencyKey(t *testing.T) {
	f := newCallbacksFixture(t)
	ctx := context.Background()
	idem := app.Idempotent{Key: "k1", RequestHash: "h1"}
	first, err := postTask(t, f.cbs, ctx, f.tok, taskBody, "", idem)
	if err != nil {
		t.Fatal(err)
	}
	again, err := postTask(t, f.cbs, ctx, f.tok, taskBody, "", idem)
	if err != nil || !reflect.DeepEqual(again, first) {
		t.Fatalf("replay: %+v vs %+v (%v)", again, first, err)
	}
	_, err = postTask(t, f.cbs, ctx, f.tok, taskBody, "", app.Idempotent{Key: "k1", RequestHash: "h2"})
	if de, ok := domain.AsError(err); !ok || de.Code != app.CodeIdempotencyKeyReused {
		t.Fatalf("same key, other request: %v", err)
	}
	if len(f.history(t)) != 1 {
		t.Fatalf("%d history entries", len(f.history(t)))
	}
	_, err = postTask(t, f.cbs, ctx, f.tok, taskBody, "", app.Idempotent{Key: "bad\x00key", RequestHash: "h"})
	if de, ok := domain.AsError(err); !ok || de.Field != "Idempotency-Key" {
		t.Fatalf("a control character in the key: %v", err)
	}
}

func TestBadAudioWritesNothing(t *testing.T) {
	f := newCallbacksFixture(t)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		audio []byte
		code  string
	}{
		"not audio": {[]byte("%PDF-1.7 definitely not a recording"), domain.CodeUnsupportedAudio},
		"too large": {append(append([]byte{}, mp3...), make([]byte, 8192)...), domain.CodeAudioTooLarge},
	} {
		body := `{"email": "lead.teste@example.com", "interacoes": [{"tipo": "L", "descricao": "x", "audio_base64": "` + base64.StdEncoding.EncodeToString(tc.audio) + `"}]}`
		_, err := postLead(t, f.cbs, ctx, f.tok, body, "", app.Idempotent{})
		if de, ok := domain.AsError(err); !ok || de.Code != tc.code || de.Field != "interacoes[0].audio_base64" {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Stored audio whose row never commits (the call is unknown) is removed.
	body := `{"status": "realizada", "audio_base64": "` + base64.StdEncoding.EncodeToString(mp3) + `"}`
	if _, err := postResult(t, f.cbs, ctx, f.tok, "nope", "", body, app.Idempotent{}); err == nil {
		t.Fatal("unknown call accepted")
	}
	var objects int
	_ = f.audio.List(ctx, func(string, time.Time) error { objects++; return nil })
	if objects != 0 || len(f.history(t)) != 0 {
		t.Fatalf("%d objects and %d history entries left behind", objects, len(f.history(t)))
	}
}

// vanishingAudio loses each object right after it is first stored, as when
// a failed request with the same audio (or the sweep) deletes it before
// this request's row commits.
type vanishingAudio struct {
	ports.AudioStore
	vanished map[string]bool
}

func (v *vanishingAudio) Spool(ctx context.Context) (ports.AudioSpool, error) {
	sp, err := v.AudioStore.Spool(ctx)
	return &vanishingSpool{AudioSpool: sp, v: v}, err
}

type vanishingSpool struct {
	ports.AudioSpool
	v *vanishingAudio
}

func (s *vanishingSpool) Store(ctx context.Context, ct string) (string, int64, error) {
	key, size, err := s.AudioSpool.Store(ctx, ct)
	if err != nil {
		return "", 0, err
	}
	if !s.v.vanished[key] {
		s.v.vanished[key] = true
		return key, size, s.v.AudioStore.Delete(ctx, key)
	}
	return key, size, nil
}

func TestRecordingDeletedBeforeItsRowCommitsIsStoredAgain(t *testing.T) {
	f := newCallbacksFixture(t)
	ctx := context.Background()
	audio := &vanishingAudio{AudioStore: f.audio, vanished: map[string]bool{}}
	cbs := app.NewCallbacks(f.store, f.clock, memory.NewRandom(13), audio, cvio.Receipts{}, app.CallbacksConfig{MaxAudioBytes: 4096}, nil)
	body := `{"email": "lead.teste@example.com", "interacoes": [{"tipo": "L", "descricao": "x", "audio_base64": "` + base64.StdEncoding.EncodeToString(mp3) + `"}]}`
	ans, err := postLead(t, cbs, ctx, f.tok, body, "", app.Idempotent{})
	if err != nil {
		t.Fatal(err)
	}
	_, obj, err := cbs.Recording(ctx, "acme", answerOf(t, ans).RecordingIDs[0])
	if err != nil {
		t.Fatalf("the committed recording must have its audio: %v", err)
	}
	got, _ := io.ReadAll(obj)
	obj.Close()
	if string(got) != string(mp3) {
		t.Fatal("the audio differs")
	}
}

// A partner may post the call's result before the 2xx of the request that
// announced the call comes back: the call stays completed, and the attempt
// still lands on its timeline with its exchange.
func TestResultBeforeTheDeliveryAnswerKeepsTheAttempt(t *testing.T) {
	ctx := context.Background()
	f := newCallbacksFixture(t)
	call, err := f.calls.Place(ctx, "acme", "l1", "b1", "")
	if err != nil {
		t.Fatal(err)
	}
	f.partner.onCall = func() {
		if _, err := postResult(t, f.cbs, ctx, f.tok, call.ID(), "", `{"status": "nao_realizada", "motivo": "Não atendida"}`, app.Idempotent{}); err != nil {
			t.Errorf("result while on the wire: %v", err)
		}
	}
	f.drain(t)
	got, err := f.calls.GetCall(ctx, "acme", call.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got.Status() != domain.CallNotCompleted {
		t.Fatalf("status %s, want %s", got.Status(), domain.CallNotCompleted)
	}
	if a := got.Attempts(); len(a) != 1 || a[0].StatusCode != 200 || a[0].Error != "" {
		t.Fatalf("attempts %+v, want the one 200", a)
	}
	if len(f.partner.got) != 1 {
		t.Fatalf("%d requests to the partner, want 1", len(f.partner.got))
	}
}

// countingSpools counts the spools an audio store opens, and those still
// open.
type countingSpools struct {
	ports.AudioStore
	opened, open int
}

func (c *countingSpools) Spool(ctx context.Context) (ports.AudioSpool, error) {
	sp, err := c.AudioStore.Spool(ctx)
	if err != nil {
		return nil, err
	}
	c.opened++
	c.open++
	return &countedSpool{AudioSpool: sp, c: c}, nil
}

type countedSpool struct {
	ports.AudioSpool
	c      *countingSpools
	closed bool
}

func (s *countedSpool) Close() error {
	if !s.closed {
		s.closed = true
		s.c.open--
	}
	return s.AudioSpool.Close()
}

// manyRecordings is a task callback with n interactions, each with a tiny
// recording.
func manyRecordings(n int) string {
	return `{"telefone": "48999476359", "interacoes": [` +
		strings.TrimSuffix(strings.Repeat(`{"audio_base64": "AAAA"},`, n), ",") + `]}`
}

// spoolFiles lists the spools' temporary files left in dir.
func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".spool") {
			left = append(left, e.Name())
		}
	}
	return left
}

// A small body of thousands of tiny recordings must not open a spool (a
// file) for each: it is refused as soon as it has more recordings than a
// callback may carry, and the spools opened until then are gone.
func TestTooManyRecordingsAreRefusedAsRead(t *testing.T) {
	f := newCallbacksFixture(t)
	dir := t.TempDir()
	fs, err := audiostore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	audio := &countingSpools{AudioStore: fs}
	cbs := app.NewCallbacks(f.store, f.clock, memory.NewRandom(13), audio, cvio.Receipts{}, app.CallbacksConfig{MaxAudioBytes: 4096}, nil)
	sp := cbs.NewSpools(t.Context())
	_, err = cvio.ReadCallbackBody(strings.NewReader(manyRecordings(5000)), cbs.MaxAudioBytes(), sp.Open)
	sp.Close()
	if de, ok := domain.AsError(err); !ok || de.Kind != domain.KindInvalid || de.Field != "interacoes" {
		t.Fatalf("ReadCallbackBody: %v, want an invalid interacoes", err)
	}
	if audio.opened > cvio.MaxCallbackRecordings {
		t.Fatalf("%d spools opened for a callback that may carry %d recordings", audio.opened, cvio.MaxCallbackRecordings)
	}
	if audio.open != 0 {
		t.Fatalf("%d spools still open after the refusal", audio.open)
	}
	if left := spoolFiles(t, dir); len(left) != 0 {
		t.Fatalf("spool files left: %v", left)
	}
	var objects int
	_ = fs.List(t.Context(), func(string, time.Time) error { objects++; return nil })
	if objects != 0 || len(f.history(t)) != 0 {
		t.Fatalf("%d objects and %d history entries written", objects, len(f.history(t)))
	}

	// As many recordings as interactions allowed are read.
	sp2 := cbs.NewSpools(t.Context())
	defer sp2.Close()
	if _, err := cvio.ReadCallbackBody(strings.NewReader(manyRecordings(domain.MaxInteractions)), cbs.MaxAudioBytes(), sp2.Open); err != nil {
		t.Fatalf("ReadCallbackBody of %d recordings: %v", domain.MaxInteractions, err)
	}
}

// The recording of an interaction left out as a duplicate was stored before
// the transaction could tell: once it commits, the object goes unless a row
// refers to it. (The history outlives the recordings it mentions, so the
// interaction repeated may be one whose recording row is gone.)
func TestDuplicateLeavesNoUnreferencedAudio(t *testing.T) {
	f := newCallbacksFixture(t)
	ctx := context.Background()
	key := domain.AudioKey(mp3)
	past, err := domain.NewInteraction(domain.InteractionInput{ID: "i-past", EnvID: "acme", LeadID: "l1", Type: domain.InteractionTypeCall,
		Description: "x", RecordingID: "r-gone", RecordingSHA256: key, OccurredAt: f.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error { return r.AddInteraction(ctx, past) }); err != nil {
		t.Fatal(err)
	}
	objects := func() (n int) {
		_ = f.audio.List(ctx, func(string, time.Time) error { n++; return nil })
		return n
	}
	body := `{"email": "lead.teste@example.com", "interacoes": [{"tipo": "L", "descricao": "x", "audio_base64": "` + base64.StdEncoding.EncodeToString(mp3) + `"}]}`
	ans, err := postLead(t, f.cbs, ctx, f.tok, body, "", app.Idempotent{})
	if err != nil {
		t.Fatal(err)
	}
	if a := answerOf(t, ans); a.Duplicates != 1 || len(a.RecordingIDs) != 0 {
		t.Fatalf("answer %+v, want the interaction left out as a duplicate", a)
	}
	if n := objects(); n != 0 {
		t.Fatalf("%d objects left that no recording refers to", n)
	}

	// A duplicate whose content a row does refer to keeps it.
	body2 := `{"email": "lead.teste@example.com", "interacoes": [{"tipo": "L", "descricao": "y", "audio_base64": "` + base64.StdEncoding.EncodeToString(mp3) + `"}]}`
	if _, err := postLead(t, f.cbs, ctx, f.tok, body2, "", app.Idempotent{}); err != nil {
		t.Fatal(err)
	}
	ans, err = postLead(t, f.cbs, ctx, f.tok, body2, "", app.Idempotent{})
	if err != nil {
		t.Fatal(err)
	}
	if a := answerOf(t, ans); a.Duplicates != 1 {
		t.Fatalf("answer %+v, want a duplicate", a)
	}
	if n := objects(); n != 1 {
		t.Fatalf("%d objects, want the one a recording refers to", n)
	}
}

// A callback without a result on a call past its result deadline writes
// the call down as no_result, and answers it so; a result still settles it.
func TestCallbackOnAnOverdueCall(t *testing.T) {
	f := newCallbacksFixture(t)
	ctx := context.Background()
	call, err := f.calls.Place(ctx, "acme", "l1", "b1", "")
	if err != nil {
		t.Fatal(err)
	}
	f.drain(t)
	f.clock.Advance(domain.DefaultResultDeadline + time.Minute)
	ans, err := postTask(t, f.cbs, ctx, f.tok, `{"interacoes": [{"descricao": "Retornar amanhã"}]}`, call.ID(), app.Idempotent{})
	if err != nil || ans.CallStatus != domain.CallNoResult {
		t.Fatalf("answer %+v, %v; want the call no_result", ans, err)
	}
	got, err := f.calls.GetCall(ctx, "acme", call.ID())
	if err != nil || got.Status() != domain.CallNoResult {
		t.Fatalf("stored call %v, %v", got.Status(), err)
	}
	ans, err = postTask(t, f.cbs, ctx, f.tok, `{"interacoes": [{"descricao": "Ligação não atendida"}]}`, call.ID(), app.Idempotent{})
	if err != nil || ans.CallStatus != domain.CallNotCompleted {
		t.Fatalf("late result: %+v, %v", ans, err)
	}
}
