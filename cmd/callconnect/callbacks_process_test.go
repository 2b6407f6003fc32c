package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/postgres/pgtest"
)

// The whole path through the real binary: a click reaches the partner, the
// partner posts the result with the recording, and the lead's history and
// the recording show it.
func TestCallResultWithRecordingThroughTheBinary(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewEmptyPool(t)
	fake := newPartner(t)
	p := startServiceEnv(t, pool.Config().ConnString(), deliveryEnv)
	configure(t, p, fake.srv.URL+"/calls", 1)
	id := p.click(t, "l0")
	waitFor(t, 20*time.Second, "the call is delivered", func() bool { s, _ := p.callStatus(t, id); return s == "delivered" })

	token := partnerToken(t, p)
	mp3 := append([]byte("ID3\x03\x00\x00\x00\x00\x00\x39TPE1"), make([]byte, 4096)...)
	body := `{"status":"realizada","descricao":"Ligação realizada","audio_base64":"` + base64.StdEncoding.EncodeToString(mp3) + `"}`
	req, _ := http.NewRequest("POST", "http://"+p.addr+"/api/cvio/ligacoes/"+id+"/resultado", strings.NewReader(body))
	req.Header.Set("EMAIL", "parceiro@example.com")
	req.Header.Set("Token", token)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("result: %d %s", resp.StatusCode, answer)
	}
	if s, _ := p.callStatus(t, id); s != "completed" {
		t.Fatalf("call is %s", s)
	}
	_, call := p.do(t, "GET", "/v1/environments/acme/calls/"+id, "")
	code, lead := p.do(t, "GET", "/v1/environments/acme/leads/l0", "")
	history, _ := lead["history"].([]any)
	if code != 200 || len(history) != 1 {
		t.Fatalf("lead history: %d %v", code, lead)
	}
	item := history[0].(map[string]any)
	url, _ := item["recording_url"].(string)
	if item["call_id"] != id || url == "" {
		t.Fatalf("history item: %v", item)
	}
	if call["recording_url"] != url {
		t.Fatalf("the call's recording_url %v must be the history's %s", call["recording_url"], url)
	}
	req, _ = http.NewRequest("GET", "http://"+p.addr+url, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Range", "bytes=0-2")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || string(got) != "ID3" || resp.Header.Get("Content-Type") != "audio/mpeg" {
		t.Fatalf("recording range: %d %q %s", resp.StatusCode, got, resp.Header.Get("Content-Type"))
	}
	p.stop(t)
}
