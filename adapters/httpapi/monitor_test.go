package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
)

// newMonitorRig is the callback rig with its Calls at hand, to deliver.
func newMonitorRig(t *testing.T, cfg ...rigConfig) (*callbackRig, *app.Calls) {
	t.Helper()
	var c rigConfig
	if len(cfg) > 0 {
		c = cfg[0]
	}
	store := memory.NewStore()
	audio, err := audiostore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := callbackServices(store, audio, memory.NewClock(t0), memory.NewRandom(7), c.maxAudio)
	h := httpapi.New(httpapi.Config{AdminToken: adminToken, MaxCallbackBytes: c.maxCallback, PartnerRateLimit: c.rateLimit}, svc, httpapi.Ops{})
	r := &callbackRig{client: &client{t: t, handler: h, token: adminToken}, store: store, audio: audio}
	r.setUp()
	return r, svc.Calls
}

// exchanges lists the monitor with the query, failing unless it answers 200.
func (r *callbackRig) exchanges(query string) ([]map[string]any, string) {
	r.t.Helper()
	body := r.ok(r.get(env + "/monitor/exchanges?" + query))
	var items []map[string]any
	for _, it := range body["items"].([]any) {
		items = append(items, it.(map[string]any))
	}
	next, _ := body["next_cursor"].(string)
	return items, next
}

func summaries(items []map[string]any) string {
	var parts []string
	for _, it := range items {
		code := "null"
		if c, ok := it["status_code"].(float64); ok {
			code = strconv.Itoa(int(c))
		}
		parts = append(parts, it["direction"].(string)+" "+code)
	}
	return strings.Join(parts, ", ")
}

// TestMonitorShowsBothDirections: a delivery (out) and callbacks (in),
// accepted and refused, are in the monitor with their secrets redacted, in
// their environment only.
func TestMonitorShowsBothDirections(t *testing.T) {
	r, calls := newMonitorRig(t)
	callID := r.placeCall("1")
	for _, d := range r.store.TakeDeliveries() {
		if _, err := calls.Deliver(context.Background(), d.EnvID, d.CallID); err != nil {
			t.Fatal(err)
		}
	}
	wrongSecret := r.token[:len(r.token)-2] + "xx"
	wantProblem(t, r.partner("/api/cvio/lead_tarefas/cadastrar", contractTaskBody, "token", wrongSecret), http.StatusUnauthorized, "unauthorized", "header.token")
	wantProblem(t, r.partner("/api/cvio/lead", `{"interacoes": [{"descricao": "x"}]}`), http.StatusUnprocessableEntity, app.CodeLeadNotIdentified, "")
	r.ok(r.partner("/api/cvio/lead_tarefas/cadastrar?idligacao="+callID, contractTaskBody))

	items, next := r.exchanges("")
	if got, want := summaries(items), "in 200, in 422, in 401, out 200"; got != want || next != "" {
		t.Fatalf("monitor: [%s] next %q, want [%s] and no next page", got, next, want)
	}
	out := items[3]
	if out["call_id"] != callID || out["lead_id"] != "1" || out["method"] != "POST" || out["error"] != nil ||
		out["url"] != "https://partner.example.com/calls" || out["duration_ms"] != float64(120) {
		t.Errorf("the delivery: %v", out)
	}
	for _, k := range []string{"request_headers", "request_body", "response_body"} {
		if _, ok := items[0][k]; ok {
			t.Errorf("a listed exchange shows %s: %v", k, items[0])
		}
	}

	// One exchange whole: the delivery's signature and the refused
	// callback's credentials are redacted.
	detail := r.ok(r.get(env + "/monitor/exchanges/" + out["id"].(string)))
	headers := detail["request_headers"].(map[string]any)
	if sig := headers["Webhook-Signature"].([]any); len(sig) != 1 || sig[0] != domain.Redacted {
		t.Errorf("delivery's signature: %v", headers)
	}
	if !strings.Contains(detail["request_body"].(string), callID) || detail["response_body"] != `{"ok":true}` {
		t.Errorf("delivery's bodies: %v", detail)
	}
	refused := r.ok(r.get(env + "/monitor/exchanges/" + items[2]["id"].(string)))
	raw := r.get(env + "/monitor/exchanges/" + items[2]["id"].(string)).Body
	if strings.Contains(string(raw), wrongSecret) || strings.Contains(string(raw), partnerEmail) {
		t.Errorf("the refused callback shows its credentials: %s", raw)
	}
	// Refused, it keeps only the safe headers: not even the credentials' names.
	rh := refused["request_headers"].(map[string]any)
	for _, name := range []string{"Token", "Email"} {
		if v, ok := rh[name]; ok {
			t.Errorf("refused callback's %s header: %v", name, v)
		}
	}
	if refused["status_code"] != float64(http.StatusUnauthorized) || refused["url"] != "/api/cvio/lead_tarefas/cadastrar" {
		t.Errorf("refused callback: %v", refused)
	}

	// Another environment sees none of it.
	if other := r.ok(r.get("/v1/environments/other/monitor/exchanges"))["items"].([]any); len(other) != 0 {
		t.Errorf("exchanges leak across environments: %v", other)
	}
	wantProblem(t, r.get("/v1/environments/other/monitor/exchanges/"+out["id"].(string)), http.StatusNotFound, app.CodeExchangeNotFound, "path.id")
	wantProblem(t, r.get("/v1/environments/nowhere/monitor/exchanges"), http.StatusNotFound, "environment_not_found", "path.env")
}

func TestMonitorFiltersAndPages(t *testing.T) {
	r, calls := newMonitorRig(t)
	callID := r.placeCall("1")
	for _, d := range r.store.TakeDeliveries() {
		if _, err := calls.Deliver(context.Background(), d.EnvID, d.CallID); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		r.ok(r.partner("/api/cvio/lead_tarefas/cadastrar?idligacao="+callID, contractTaskBody))
	}
	wantProblem(t, r.partner("/api/cvio/lead", `{"interacoes": [{"descricao": "x"}]}`), http.StatusUnprocessableEntity, app.CodeLeadNotIdentified, "")

	for query, want := range map[string]string{
		"direction=out":              "out 200",
		"direction=in&status=4xx":    "in 422",
		"status=200&direction=in":    "in 200, in 200, in 200",
		"call_id=" + callID:          "in 200, in 200, in 200, out 200",
		"lead_id=2":                  "",
		"since=2026-11-27T12:00:00Z": "in 422, in 200, in 200, in 200, out 200",
		"until=2026-11-27T12:00:00Z": "",
		"since=2026-11-27T09:00:00-03:00&until=2026-11-27T12:00:01Z&status=5XX": "",
	} {
		items, _ := r.exchanges(query)
		if got := summaries(items); got != want {
			t.Errorf("?%s: [%s], want [%s]", query, got, want)
		}
	}

	// Pages of 2 follow next_cursor to the end, each exchange once.
	all, _ := r.exchanges("")
	var seen []string
	query := "limit=2"
	for range 10 {
		items, next := r.exchanges(query)
		for _, it := range items {
			seen = append(seen, it["id"].(string))
		}
		if next == "" {
			break
		}
		query = "limit=2&cursor=" + url.QueryEscape(next)
	}
	var want []string
	for _, it := range all {
		want = append(want, it["id"].(string))
	}
	if strings.Join(seen, " ") != strings.Join(want, " ") || len(want) != 5 {
		t.Errorf("pages of 2: %v, want %v", seen, want)
	}

	for _, c := range []struct{ query, code, location string }{
		{"direction=sideways", "validation_failed", "query.direction"},
		{"status=4x", "validation_failed", "query.status"},
		{"status=6xx", "validation_failed", "query.status"},
		{"status=1000", "validation_failed", "query.status"},
		{"since=yesterday", "validation_failed", "query.since"},
		{"until=2026-11-27", "validation_failed", "query.until"},
		{"since=2026-11-28T00:00:00Z&until=2026-11-27T00:00:00Z", "invalid_field", "query.until"},
		{"limit=0", "validation_failed", "query.limit"},
		{"limit=201", "validation_failed", "query.limit"},
		{"cursor=garbage", "invalid_field", "query.cursor"},
		{"call_id=a%20b", "validation_failed", "query.call_id"},
	} {
		t.Run(c.query, func(t *testing.T) {
			wantProblem(t, r.get(env+"/monitor/exchanges?"+c.query), http.StatusUnprocessableEntity, c.code, c.location)
		})
	}
}

// TestMonitorKeepsRefusedCallbacks: a body over the limit (413) and a
// callback over the token's rate (429) are in the monitor too, without
// their credentials.
func TestMonitorKeepsRefusedCallbacks(t *testing.T) {
	r, _ := newMonitorRig(t, rigConfig{maxAudio: 4096, maxCallback: 64 << 10, rateLimit: 2})
	big := `{"telefone": "48999476359", "interacoes": [{"descricao": "` + strings.Repeat("x", 70<<10) + `"}]}`
	wantProblem(t, r.partner("/api/cvio/lead_tarefas/cadastrar", big), http.StatusRequestEntityTooLarge, "body_too_large", "")
	r.ok(r.partner("/api/cvio/lead_tarefas/cadastrar", contractTaskBody))
	res := r.partner("/api/cvio/lead_tarefas/cadastrar", contractTaskBody)
	if res.Status != http.StatusTooManyRequests {
		t.Fatalf("third callback within the minute at 2 a minute: %s", res)
	}
	items, _ := r.exchanges("direction=in&status=4xx")
	if got := summaries(items); got != "in 429, in 413" {
		t.Fatalf("refused callbacks in the monitor: [%s], want [in 429, in 413]", got)
	}
	for _, it := range items {
		d := r.ok(r.get(env + "/monitor/exchanges/" + it["id"].(string)))
		h := d["request_headers"].(map[string]any)
		if tok, ok := h["Token"]; ok {
			t.Errorf("exchange %v: token header %v", it["status_code"], tok)
		}
		if body := d["request_body"].(string); len(body) > domain.MaxExchangeBody+len(domain.TruncatedMarker) {
			t.Errorf("exchange %v keeps a body of %d bytes", it["status_code"], len(body))
		}
	}
}
