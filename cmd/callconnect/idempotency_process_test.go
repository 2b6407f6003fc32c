package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"callconnect/adapters/postgres/pgtest"
)

// rawPost posts body with an Idempotency-Key and returns the answer as sent.
func (p *process) rawPost(t testing.TB, path, key, body string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// Two service processes on one database, a Ligar pressed again and again
// with one Idempotency-Key, the presses spread over both: one call is
// placed, every success answers it, and a later retry on either process
// gets the first answer byte for byte. The calls list shows the one call.
func TestDoubleClickAcrossProcessesPlacesOneCall(t *testing.T) {
	pool := pgtest.NewEmptyPool(t)
	url := pool.Config().ConnString()
	fake := newPartner(t)
	a := startServiceEnv(t, url, deliveryEnv)
	configure(t, a, fake.srv.URL+"/calls", 1)
	b := startServiceEnv(t, url, deliveryEnv)

	const presses = 10
	type answer struct {
		status int
		body   []byte
	}
	answers := make([]answer, presses)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for n := range presses {
		wg.Go(func() {
			<-start
			p := []*process{a, b}[n%2]
			status, _, body := p.rawPost(t, "/v1/environments/acme/leads/l0/calls", "press-1", `{"user_id":"c1"}`)
			answers[n] = answer{status, body}
		})
	}
	close(start)
	wg.Wait()
	var first []byte
	for n, r := range answers {
		switch {
		case r.status == http.StatusAccepted && first == nil:
			first = r.body
		case r.status == http.StatusAccepted && !bytes.Equal(r.body, first):
			t.Errorf("press %d answered another call: %s, first %s", n, r.body, first)
		case r.status == http.StatusConflict && bytes.Contains(r.body, []byte(`"code":"idempotency_key_in_use"`)):
		case r.status != http.StatusAccepted:
			t.Errorf("press %d: %d %s", n, r.status, r.body)
		}
	}
	if first == nil {
		t.Fatal("no press was answered 202")
	}
	for _, p := range []*process{a, b} {
		status, header, body := p.rawPost(t, "/v1/environments/acme/leads/l0/calls", "press-1", `{"user_id":"c1"}`)
		if status != http.StatusAccepted || !bytes.Equal(body, first) || header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("a retry: %d %s (replayed %q), want the first answer %s", status, body, header.Get("Idempotent-Replayed"), first)
		}
	}
	code, list := a.do(t, http.MethodGet, "/v1/environments/acme/calls", "")
	items, _ := list["items"].([]any)
	var placed struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(first, &placed)
	if code != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["id"] != placed.ID {
		t.Fatalf("the calls list: %d %v; want the one call %s", code, list, placed.ID)
	}
}
