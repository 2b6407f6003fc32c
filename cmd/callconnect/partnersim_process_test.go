package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/postgres/pgtest"
)

// startSim runs `callconnect partner-sim args…` in this process until the
// test ends or stop is called.
func startSim(t *testing.T, args ...string) (logs *logSink, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = newLogSink()
	ready, done := make(chan string, 1), make(chan int, 1)
	go func() {
		done <- runPartnerSim(ctx, args, envOf(nil), io.Discard, logs, func(a string) { ready <- a })
	}()
	select {
	case <-ready:
	case code := <-done:
		cancel()
		t.Fatalf("partner-sim exited %d before serving:\n%s", code, logs)
	case <-time.After(10 * time.Second):
		t.Fatalf("partner-sim did not serve within 10s:\n%s", logs)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("partner-sim exited %d", code)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("partner-sim did not stop within 10s")
		}
	}
	t.Cleanup(stop)
	return logs, stop
}

// The whole loop against the real service: an environment whose partner
// URL is partner-sim, the partner's test call, a click on Ligar that
// reaches realizada with a recording the API serves as a playable WAV, then
// (with every call não realizada, and the callbacks sent to --callback-base)
// a click that reaches not_completed with its reason.
func TestPartnerSimAgainstTheService(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewEmptyPool(t)
	svc := startServiceEnv(t, pool.Config().ConnString(), deliveryEnv)
	simAddr := freeAddr(t)
	must := func(method, path, body string) map[string]any {
		t.Helper()
		code, out := svc.do(t, method, path, body)
		if code >= 300 {
			t.Fatalf("%s %s: %d %v", method, path, code, out)
		}
		return out
	}
	// The callbacks the calls carry point at the service itself.
	must("PUT", "/v1/environments/acme", `{"name":"Acme","public_base_url":"http://`+svc.addr+`","call_connect_enabled":true}`)
	must("PUT", "/v1/environments/acme/users/g1", `{"name":"Gestora","role":"manager","can_manage_integrations":true}`)
	must("PUT", "/v1/environments/acme/users/c1", `{"name":"Corretor","role":"broker","phone":"48999476359"}`)
	for _, lead := range []string{"l0", "l1"} {
		must("PUT", "/v1/environments/acme/leads/"+lead, `{"name":"Lead","phone":"48999476357","manager_id":"g1","broker_id":"c1"}`)
	}
	integ := must("PUT", "/v1/environments/acme/telephony/call-connect",
		`{"actor_id":"g1","partner_url":"http://`+simAddr+`/calls","dial_mode":"phone"}`)
	secret, _ := integ["signing_secret"].(string)
	must("POST", "/v1/environments/acme/telephony/call-connect/activate", `{"actor_id":"g1"}`)
	token, _ := must("POST", "/v1/environments/acme/partner-tokens", `{"email":"telefonia@parceiro.example.com","description":"partner-sim"}`)["token"].(string)
	if !strings.HasPrefix(secret, "whsec_") || token == "" {
		t.Fatalf("secret %q token %q", secret, token)
	}
	simArgs := []string{"--addr", simAddr, "--secret", secret, "--token", token, "--email", "telefonia@parceiro.example.com", "--delay", "100ms"}

	logs, stop := startSim(t, append(simArgs, "--completed-share", "1", "--style", "fields")...)
	// The operator's test call: answered 2xx, nothing dialled.
	test := must("POST", "/v1/environments/acme/telephony/call-connect/test", `{"actor_id":"g1"}`)
	if test["status_code"] != float64(202) || !strings.Contains(test["body_excerpt"].(string), "teste") {
		t.Fatalf("test call: %v", test)
	}

	id := svc.click(t, "l0")
	waitFor(t, 30*time.Second, "the call reaches completed", func() bool { s, _ := svc.callStatus(t, id); return s == "completed" })
	call := must("GET", "/v1/environments/acme/calls/"+id, "")
	recording, _ := call["recording_url"].(string)
	if recording == "" {
		t.Fatalf("a completed call without a recording: %v", call)
	}
	if strings.HasPrefix(recording, "/") {
		recording = "http://" + svc.addr + recording
	}
	req, _ := http.NewRequest(http.MethodGet, recording, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wav, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "audio/wav" {
		t.Fatalf("recording: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	checkPlayableWAV(t, wav)
	// The call is completed by the lead callback with the recording; the
	// task callback follows it, and the simulator logs "reported" once
	// both are answered.
	logs.waitFor(t, "reported", `"outcome":"realizada"`, `"error":""`)
	lead := must("GET", "/v1/environments/acme/leads/l0", "")
	var tasks []string
	for _, item := range lead["history"].([]any) {
		if task, ok := item.(map[string]any)["task"].(map[string]any); ok {
			tasks = append(tasks, task["name"].(string))
		}
	}
	if !slices.Contains(tasks, "Ligação realizada") {
		t.Fatalf("the lead's history has tasks %q, want Ligação realizada", tasks)
	}
	stop()

	// Callbacks the service's public URL would not bring back to it: the
	// simulator is pointed at the service with --callback-base.
	must("PUT", "/v1/environments/acme", `{"name":"Acme","public_base_url":"https://acme.example.com","call_connect_enabled":true}`)
	logs, _ = startSim(t, append(simArgs, "--completed-share", "0", "--style", "words", "--callback-base", "http://"+svc.addr)...)
	id = svc.click(t, "l1")
	waitFor(t, 30*time.Second, "the call reaches not_completed", func() bool { s, _ := svc.callStatus(t, id); return s == "not_completed" })
	call = must("GET", "/v1/environments/acme/calls/"+id, "")
	if reason, _ := call["reason"].(string); !slices.Contains([]string{"no_answer", "not_completed", "busy", "invalid_number", "cancelled", "other"}, reason) {
		t.Fatalf("a não realizada with reason %q: %v", reason, call)
	}
	logs.waitFor(t, "reported", `"outcome":"nao_realizada"`, `"error":""`)
	svc.stop(t)
}
