package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/postgres"
	"callconnect/adapters/system"
	"callconnect/domain"
)

// TestLeadCallbackWithAudioOnPostgres posts the contract's lead callback with
// a recording over a real HTTP connection, PostgreSQL and the filesystem
// audio store behind the API, and follows it to the call, the history, the
// recording's bytes and the monitor.
func TestLeadCallbackWithAudioOnPostgres(t *testing.T) {
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
	callID := r.placeCall("1")

	// Refused first: a wrong token, then text as audio; nothing is written.
	wantProblem(t, r.partner("/api/cvio/lead", contractLeadBody("x@example.com", testMP3Base64), "token", r.token+"x"),
		http.StatusUnauthorized, "unauthorized", "header.token")
	wantProblem(t, r.partner("/api/cvio/lead?idligacao="+callID, contractLeadBody("novo@example.com", "dGV4dCwgbm90IGF1ZGlv")),
		http.StatusUnsupportedMediaType, domain.CodeUnsupportedAudio, "body.interacoes[0].audio_base64")
	r.noHistory("1")

	res := r.partner("/api/cvio/lead?idligacao="+callID, contractLeadBody("novo@example.com", testMP3Base64),
		"Content-Type", "application/json; charset=utf-8", "Idempotency-Key", "pg-1")
	ans := r.ok(res)
	if ans["call_id"] != callID || ans["call_status"] != "completed" || ans["lead_id"] != "1" || len(ans["recording_ids"].([]any)) != 1 {
		t.Fatalf("answer: %v", ans)
	}
	// A retry gets the same answer and writes nothing.
	if again := r.partner("/api/cvio/lead?idligacao="+callID, contractLeadBody("novo@example.com", testMP3Base64), "Idempotency-Key", "pg-1"); !bytes.Equal(again.Body, res.Body) {
		t.Fatalf("replay: %s", again)
	}

	lead := r.ok(c.get(env + "/leads/1"))
	if lead["name"] != "Teste audio 8" || lead["email"] != "novo@example.com" {
		t.Fatalf("permitir_alteracao with the call: %v", lead)
	}
	h := lead["history"].([]any)
	if len(h) != 1 {
		t.Fatalf("history: %v", h)
	}
	url, _ := h[0].(map[string]any)["recording_url"].(string)
	if h[0].(map[string]any)["call_id"] != callID || !strings.HasPrefix(url, env+"/recordings/") {
		t.Fatalf("entry: %v", h[0])
	}
	if call := r.ok(c.get(env + "/calls/" + callID)); call["status"] != "completed" {
		t.Fatalf("call: %v", call)
	}

	got := c.get(url)
	if got.Status != http.StatusOK || !bytes.Equal(got.Body, testMP3) || got.Header.Get("Content-Type") != domain.AudioMPEG {
		t.Fatalf("recording: %d %v", got.Status, got.Header)
	}
	part := c.do(http.MethodGet, url, nil, "Range", "bytes=100-199")
	if part.Status != http.StatusPartialContent || !bytes.Equal(part.Body, testMP3[100:200]) ||
		part.Header.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", len(testMP3)) {
		t.Fatalf("range: %d %v", part.Status, part.Header)
	}

	var n, refused int
	var body string
	rows, err := pool.Query(context.Background(), `SELECT status_code, coalesce(request_body, '') FROM exchanges WHERE env_id = 'acme' AND direction = 'in'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var status int
		var b string
		if err := rows.Scan(&status, &b); err != nil {
			t.Fatal(err)
		}
		n++
		if status >= 400 {
			refused++
		}
		if status == http.StatusOK {
			body = b
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 4 || refused != 2 || strings.Contains(body, testMP3Base64[:40]) || !strings.Contains(body, "[audio: ") {
		t.Fatalf("monitor: %d exchanges, %d refused, body %q", n, refused, body)
	}
}
