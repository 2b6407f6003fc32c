package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/postgres"
	"callconnect/adapters/system"
)

// newPGCallbackRig is the API over real HTTP on PostgreSQL and the
// filesystem audio store, with seedCalls' environment and a partner token.
// Calls placed stay queued: nothing delivers them.
func newPGCallbackRig(t *testing.T) *callbackRig {
	t.Helper()
	store, pool, _ := pgStore(t, 0, postgres.WithEnqueuer(tableEnqueuer{}))
	if _, err := pool.Exec(context.Background(),
		`CREATE TABLE test_deliveries (id bigserial PRIMARY KEY, env_id text NOT NULL, call_id text NOT NULL, trace_parent text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	audio, err := audiostore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := callbackServices(store, audio, system.Clock{}, system.NewRandom(), 0)
	c := overHTTP(t, httpapi.New(httpapi.Config{AdminToken: adminToken}, svc, httpapi.Ops{}))
	seedCalls(t, c, env)
	r := &callbackRig{client: c, audio: audio}
	tok := r.created(c.post(env+"/partner-tokens", map[string]any{"email": partnerEmail}))
	r.token = tok["token"].(string)
	return r
}

// taskBody is the article's task body with another description and, when
// extra is not empty, more members in its interaction.
func taskBody(descricao, extra string) string {
	body := strings.Replace(contractTaskBody, "Ligação realizada com sucesso para o lead", descricao, 1)
	if extra != "" {
		body = strings.Replace(body, `"tipo": "L",`, `"tipo": "L", `+extra+`,`, 1)
	}
	return body
}

// callStatus reads the call as the CRM does.
func (r *callbackRig) callStatus(callID string) (status string, reason any) {
	r.t.Helper()
	c := r.ok(r.get(env + "/calls/" + callID))
	return c["status"].(string), c["reason"]
}

// A partner that codes from the article alone reports "não realizada" in
// words: the article's task body, sent to the task URL as given (with
// ?idligacao=), with "Ligação não atendida", ends the call.
func TestArticleTaskBodySaysNotAnswered(t *testing.T) {
	r := newPGCallbackRig(t)
	callID := r.placeCall("1")
	// PHP's curl sends JSON labelled as a form unless told otherwise.
	ans := r.ok(r.partner("/api/cvio/lead_tarefas/cadastrar?idligacao="+callID, taskBody("Ligação não atendida", ""),
		"Content-Type", "application/x-www-form-urlencoded"))
	if ans["call_id"] != callID || ans["call_status"] != "not_completed" {
		t.Fatalf("answer: %v", ans)
	}
	if status, reason := r.callStatus(callID); status != "not_completed" || reason != "no_answer" {
		t.Fatalf("call: %s %v", status, reason)
	}
	h := r.history("1")
	if len(h) != 1 || h[0].(map[string]any)["description"] != "Ligação não atendida" {
		t.Fatalf("history: %v", h)
	}
}

// status and motivo on an interaction of either callback end the call with
// every reason; the words of the description do not count beside them.
func TestInteractionStatusAndMotivo(t *testing.T) {
	r := newPGCallbackRig(t)
	reasons := []struct{ motivo, reason string }{
		{"nao_atendida", "no_answer"}, {"Não completada", "not_completed"}, {"ocupado", "busy"},
		{"número inválido", "invalid_number"}, {"cancelada", "cancelled"}, {"outro", "other"}, {"caixa postal", "other"},
	}
	for i, tc := range reasons {
		callID := r.placeCall("1")
		extra := fmt.Sprintf(`"status": "nao_realizada", "motivo": %q`, tc.motivo)
		// The description says realizada: the explicit fields win.
		body := taskBody(fmt.Sprintf("Ligação realizada %d", i), extra)
		r.ok(r.partner("/api/cvio/lead_tarefas/cadastrar?idligacao="+callID, body, "Content-Type", "text/plain"))
		if status, reason := r.callStatus(callID); status != "not_completed" || reason != tc.reason {
			t.Errorf("motivo %q: call %s %v, want not_completed %s", tc.motivo, status, reason, tc.reason)
		}
	}

	// The lead callback reads them too, on an interaction without a recording.
	callID := r.placeCall("1")
	body := fmt.Sprintf(`{"idligacao": %q, "interacoes": [{"tipo": "L", "descricao": "x", "status": "nao_realizada", "motivo": "ocupado"}]}`, callID)
	r.ok(r.partner("/api/cvio/lead", body, "Content-Type", "text/json"))
	if status, reason := r.callStatus(callID); status != "not_completed" || reason != "busy" {
		t.Fatalf("lead callback: call %s %v", status, reason)
	}
	callID = r.placeCall("1")
	body = fmt.Sprintf(`{"idligacao": %q, "interacoes": [{"descricao": "ok", "status": "Realizada"}]}`, callID)
	r.ok(r.partner("/api/cvio/lead", body))
	if status, reason := r.callStatus(callID); status != "completed" || reason != nil {
		t.Fatalf("lead callback, realizada: call %s %v", status, reason)
	}

	// A status that is not one is refused where it is, and nothing changes.
	callID = r.placeCall("1")
	wantProblem(t, r.partner("/api/cvio/lead_tarefas/cadastrar?idligacao="+callID, taskBody("x", `"status": "talvez"`)),
		http.StatusUnprocessableEntity, "invalid_field", "body.interacoes[0].status")
	if status, _ := r.callStatus(callID); status != "queued" {
		t.Fatalf("a refused callback changed the call: %s", status)
	}
}

// The descriptions' words: the first in the text wins, whole words only; a
// description without them changes nothing; words never overturn a result.
func TestDescriptionWordsOverHTTP(t *testing.T) {
	r := newPGCallbackRig(t)
	cases := []struct {
		descricao      string
		status, reason any
	}{
		{"Ligação realizada; cliente não atendeu a segunda", "completed", nil},
		{"Ligação não atendida, depois realizada", "not_completed", "no_answer"},
		{"NÃO   COMPLETADA", "not_completed", "not_completed"},
		{"Linha ocupada", "not_completed", "busy"},
		{"Numero invalido!", "not_completed", "invalid_number"},
		{"Chamada cancelada pelo corretor", "not_completed", "cancelled"},
		{"Ligação não foi realizada", "not_completed", "other"},
		{"Ligações realizadas ontem", "queued", nil}, // not whole words
		{"Retornar amanhã", "queued", nil},
	}
	for _, tc := range cases {
		callID := r.placeCall("1")
		r.ok(r.partner("/api/cvio/lead_tarefas/cadastrar?idligacao="+callID, taskBody(tc.descricao, "")))
		if status, reason := r.callStatus(callID); status != tc.status || reason != tc.reason {
			t.Errorf("%q: call %s %v, want %v %v", tc.descricao, status, reason, tc.status, tc.reason)
		}
		if tc.status == "queued" {
			// Settled, so that the next click is not refused as a second
			// click while this call is under way.
			r.ok(r.partner("/api/cvio/ligacoes/"+callID+"/resultado", `{"status": "nao_realizada", "motivo": "outro"}`))
		}
	}

	callID := r.placeCall("1")
	r.ok(r.partner("/api/cvio/ligacoes/"+callID+"/resultado", `{"status": "realizada"}`))
	r.ok(r.partner("/api/cvio/lead_tarefas/cadastrar?idligacao="+callID, taskBody("Ligação não atendida", "")))
	if status, _ := r.callStatus(callID); status != "completed" {
		t.Fatalf("a description overturned a result: %s", status)
	}
}

// The lead callback finds its lead by idligacao, then email, then telefone.
func TestLeadCallbackLookup(t *testing.T) {
	r := newPGCallbackRig(t)
	callID := r.placeCall("1")
	// An e-mail no lead has, but the lead's phone (written another way).
	body := `{"email": "antigo@example.com", "telefone": "+55 (48) 99947-6359", "interacoes": [{"descricao": "Ligação não atendida"}]}`
	ans := r.ok(r.partner("/api/cvio/lead", body))
	if ans["lead_id"] != "1" || ans["call_id"] != callID || ans["call_status"] != "not_completed" {
		t.Fatalf("found by phone: %v", ans)
	}
	// An unknown e-mail without a phone is reported at the e-mail, not at
	// the credentials.
	wantProblem(t, r.partner("/api/cvio/lead", `{"email": "antigo@example.com", "interacoes": [{"descricao": "x"}]}`),
		http.StatusNotFound, "lead_not_found", "body.email")
	wantProblem(t, r.partner("/api/cvio/lead", `{"email": "não é e-mail", "interacoes": [{"descricao": "x"}]}`),
		http.StatusUnprocessableEntity, "invalid_field", "body.email")
	wantProblem(t, r.partner("/api/cvio/lead", `{"telefone": "11 3333-4444", "interacoes": [{"descricao": "x"}]}`),
		http.StatusNotFound, "lead_not_found", "body.telefone")

	// Several leads with the phone: 409 saying how many.
	for _, id := range []string{"2", "3"} {
		r.ok(r.put(env+"/leads/"+id, map[string]any{"name": "Lead " + id, "phone": "(21) 98888-7777", "manager_id": "gestor"}))
	}
	res := r.partner("/api/cvio/lead", `{"telefone": "21988887777", "interacoes": [{"descricao": "x"}]}`)
	wantProblem(t, res, http.StatusConflict, "lead_ambiguous", "body.telefone")
	if !strings.Contains(string(res.Body), "2 leads") {
		t.Fatalf("the conflict does not say how many: %s", res.Body)
	}
	r.noHistory("2", "3")
}

// Any Content-Type, or none, is taken when the body is JSON; malformed JSON
// is 400 whatever the label, a wrong field 422.
func TestCallbackContentTypes(t *testing.T) {
	r := newPGCallbackRig(t)
	for i, ct := range []string{"application/x-www-form-urlencoded", "text/plain; charset=utf-8", "text/json", "", "application/octet-stream"} {
		body := strings.Replace(contractTaskBody, "Ligação realizada com sucesso para o lead", fmt.Sprintf("Nota %d", i), 1)
		ans := r.ok(r.partner("/api/cvio/lead_tarefas/cadastrar", body, "Content-Type", ct))
		if ans["lead_id"] != "1" {
			t.Fatalf("%q: %v", ct, ans)
		}
	}
	for _, ct := range []string{"application/json", "application/x-www-form-urlencoded", "text/plain"} {
		wantProblem(t, r.partner("/api/cvio/lead", `{"email": "x@example.com",, }`, "Content-Type", ct),
			http.StatusBadRequest, "malformed_json", "body")
	}
	if h := r.history("1"); len(h) != 5 {
		t.Fatalf("history: %d entries", len(h))
	}
}
