package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// The newcomer's path of the README, as HTTP calls: an environment, users, a
// lead, Call Connect configured and activated, and a button decision for
// every row of rule 5 (single and batch). It runs on the in-memory adapters
// and, in e2e_test.go, on PostgreSQL over a real connection.

const env = "/v1/environments/acme"

// Users of the walk, one per row of rule 5.
var newcomerUsers = map[string]map[string]any{
	"admin":    {"name": "Admin", "role": "manager", "can_manage_integrations": true},
	"gestor":   {"name": "Gestor de teste", "role": "manager", "phone": "+55 (48) 99947-6359"},
	"gestor2":  {"name": "Outro gestor", "role": "manager", "phone": "48999476359"},
	"corretor": {"name": "Corretor de teste", "role": "broker", "phone": "48 99947 6359"},
	"stranger": {"name": "Corretor de fora", "role": "broker", "phone": "48999476350"},
	"imob":     {"name": "Imobiliária Bem Viver", "role": "agency", "phone": "4830303030", "extension": "10"},
	"agente":   {"name": "Usuária da imobiliária", "role": "agency_user", "agency_id": "imob", "extension": "1234"},
}

var newcomerLead = map[string]any{
	"name": "Lead do Teste", "email": "lead.teste@example.com", "phone": "48999476359", "score": 27,
	"registered_at": "2020-02-04T16:49:57-03:00", "origin": "Painel Gestor",
	"stage":        map[string]any{"id": "16", "name": "Em Atendimento"},
	"developments": []any{map[string]any{"id": "3", "name": "1 - Empreendimento de teste"}},
	"manager_id":   "gestor", "broker_id": "corretor", "agency_id": "imob",
}

// button is one expected decision.
type button struct {
	visible, enabled bool
	reason           any // nil when enabled
}

func wantButton(t testing.TB, got map[string]any, who string, want button) {
	t.Helper()
	if got["visible"] != want.visible || got["enabled"] != want.enabled || got["reason"] != want.reason {
		t.Fatalf("%s: want visible=%v enabled=%v reason=%v, got %v", who, want.visible, want.enabled, want.reason, got)
	}
	if _, ok := got["reason"]; !ok {
		t.Fatalf("%s: reason must always be present (null when enabled): %v", who, got)
	}
}

// checkButtons asks for every user's decision on lead 1, one by one and in
// one batch (with an unknown lead thrown in), and compares with want.
func checkButtons(t testing.TB, c *client, want map[string]button) {
	t.Helper()
	for user, w := range want {
		got := c.ok(c.get(env + "/leads/1/call-button?user_id=" + user))
		wantButton(t, got, user, w)

		var batch struct {
			Buttons []map[string]any `json:"buttons"`
		}
		r := c.post(env+"/call-buttons", map[string]any{"user_id": user, "lead_ids": []string{"nope", "1"}})
		c.ok(r)
		r.decode(t, &batch)
		if len(batch.Buttons) != 2 || batch.Buttons[0]["lead_id"] != "nope" || batch.Buttons[1]["lead_id"] != "1" {
			t.Fatalf("%s: batch must answer in the order asked: %v", user, batch.Buttons)
		}
		wantButton(t, batch.Buttons[0], user+" (unknown lead)", button{false, false, "lead_not_found"})
		wantButton(t, batch.Buttons[1], user+" (batch)", w)
	}
}

func walkNewcomerPath(t *testing.T, c *client) {
	// The environment.
	got := c.ok(c.put(env, map[string]any{"name": "Acme Imóveis", "public_base_url": "https://acme.crm.example.com/",
		"call_connect_enabled": true}))
	if got["id"] != "acme" || got["time_zone"] != "America/Sao_Paulo" || got["public_base_url"] != "https://acme.crm.example.com" ||
		got["call_connect_enabled"] != true {
		t.Fatalf("environment: %v", got)
	}
	if again := c.ok(c.get(env)); again["name"] != "Acme Imóveis" {
		t.Fatalf("GET environment: %v", again)
	}

	// The users.
	for id, u := range newcomerUsers {
		got := c.ok(c.put(env+"/users/"+id, u))
		if got["id"] != id || got["role"] != u["role"] {
			t.Fatalf("user %s: %v", id, got)
		}
	}
	if u := c.ok(c.get(env + "/users/gestor")); u["phone"] != "5548999476359" || u["extension"] != "" {
		t.Fatalf("phone must be normalised to digits: %v", u)
	}
	if u := c.ok(c.get(env + "/users/imob")); u["agency_id"] != "imob" {
		t.Fatalf("an agency is its own agency: %v", u)
	}

	// The lead.
	lead := c.ok(c.put(env+"/leads/1", newcomerLead))
	if lead["score"] != float64(27) || lead["manager_id"] != "gestor" {
		t.Fatalf("lead: %v", lead)
	}
	lead = c.ok(c.get(env + "/leads/1"))
	if h, ok := lead["history"].([]any); !ok || len(h) != 0 {
		t.Fatalf("history must be an empty array: %v", lead)
	}
	if st, _ := lead["stage"].(map[string]any); st["id"] != "16" || lead["registered_at"] == nil {
		t.Fatalf("lead read back: %v", lead)
	}

	// Rows 1-3 of rule 5 hold before any integration exists.
	notOwner := button{false, false, "not_owner"}
	managerNotLinked := button{true, false, "not_owner"}
	inactive := button{true, false, "integration_inactive"}
	checkButtons(t, c, map[string]button{"stranger": notOwner, "gestor2": managerNotLinked, "corretor": inactive, "agente": inactive})

	// Call Connect, dialing by phone: the secret is shown once.
	cc := c.ok(c.put(env+"/telephony/call-connect", map[string]any{"actor_id": "admin",
		"partner_url": "https://partner.example.com/calls", "dial_mode": "phone"}))
	secret, _ := cc["signing_secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || cc["active"] != false || cc["dial_mode"] != "phone" {
		t.Fatalf("created integration: %v", cc)
	}
	list := c.get(env + "/telephony")
	if strings.Contains(string(list.Body), "whsec_") || strings.Contains(string(list.Body), "signing_secret") {
		t.Fatalf("the list must not show secrets: %s", list.Body)
	}
	var items struct {
		Items []map[string]any `json:"items"`
	}
	c.ok(list)
	list.decode(t, &items)
	if len(items.Items) != 1 || items.Items[0]["provider"] != "call-connect" || items.Items[0]["partner_url"] != "https://partner.example.com/calls" {
		t.Fatalf("list: %s", list.Body)
	}
	// Configured but inactive: still row 3.
	checkButtons(t, c, map[string]button{"corretor": inactive})

	act := c.ok(c.post(env+"/telephony/call-connect/activate", map[string]any{"actor_id": "admin"}))
	if act["active"] != true || act["signing_secret"] != nil {
		t.Fatalf("activated: %v", act)
	}

	// Rows 4 and 6 (phone mode).
	enabled := button{true, true, nil}
	checkButtons(t, c, map[string]button{
		"stranger": notOwner, "gestor2": managerNotLinked,
		"corretor": enabled, "gestor": enabled, "imob": enabled,
		"agente": {true, false, "missing_phone"},
	})

	// Row 5 (extension mode), and row 6 for the agency user.
	c.ok(c.put(env+"/telephony/call-connect", map[string]any{"actor_id": "admin",
		"partner_url": "https://partner.example.com/calls", "dial_mode": "extension"}))
	checkButtons(t, c, map[string]button{
		"corretor": {true, false, "missing_extension"},
		"agente":   enabled, "imob": enabled,
	})

	// Rule 1: another provider cannot be activated while Call Connect is.
	c.ok(c.put(env+"/telephony/other-pbx", map[string]any{"actor_id": "admin"}))
	wantProblem(t, c.post(env+"/telephony/other-pbx/activate", map[string]any{"actor_id": "admin"}),
		http.StatusConflict, "integration_active_elsewhere", "path.provider")
	c.ok(list)
	list = c.get(env + "/telephony")
	list.decode(t, &items)
	for _, i := range items.Items {
		if i["provider"] == "other-pbx" && i["active"] != false {
			t.Fatalf("refused activation must store nothing: %s", list.Body)
		}
	}

	// A new secret, shown once.
	rot := c.ok(c.post(env+"/telephony/call-connect/rotate-secret", map[string]any{"actor_id": "admin"}))
	if s, _ := rot["signing_secret"].(string); !strings.HasPrefix(s, "whsec_") || s == secret {
		t.Fatalf("rotated: %v (created with %s)", rot, secret)
	}
	if b := c.get(env + "/telephony"); strings.Contains(string(b.Body), "whsec_") {
		t.Fatalf("the list must not show secrets: %s", b.Body)
	}

	// Deactivated: back to row 3; and the other provider may now be activated.
	c.ok(c.post(env+"/telephony/call-connect/deactivate", map[string]any{"actor_id": "admin"}))
	checkButtons(t, c, map[string]button{"agente": inactive})
	if o := c.ok(c.post(env+"/telephony/other-pbx/activate", map[string]any{"actor_id": "admin"})); o["active"] != true {
		t.Fatalf("other provider: %v", o)
	}
	wantProblem(t, c.post(env+"/telephony/call-connect/activate", map[string]any{"actor_id": "admin"}),
		http.StatusConflict, "integration_active_elsewhere", "path.provider")
}

func TestNewcomerPathInMemory(t *testing.T) {
	walkNewcomerPath(t, newMemoryClient(t))
}
