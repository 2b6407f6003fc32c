package cvio_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"callconnect/adapters/cvio"
	"callconnect/domain"
)

// contractExample is the article's example of the request a partner
// receives, with the callback URLs as the service writes them.
const contractExample = `{
  "idlead": "1",
  "gestor":      {"id": "1", "nome": "Gestor de teste",  "telefone": "48999476359", "ramal": "1234"},
  "imobiliaria": {"id": "1", "nome": "Imobiliária Bem Viver", "telefone": "48999476359", "ramal": "1234"},
  "corretor":    {"id": "1", "nome": "Corretor de teste", "telefone": "48999476359", "ramal": "1234"},
  "situacao": {"id": "16", "nome": "Em Atendimento"},
  "nome": "Lead do Teste",
  "email": "lead.teste@example.com",
  "telefone": "48999476359",
  "score": "27",
  "data_cad": "2020-02-04 16:49:57",
  "midia_principal": null,
  "origem": "Painel Gestor",
  "empreendimento": [{"id": "3", "nome": "1 - Empreendimento de teste"}],
  "data": "2020-02-04 20:00:00",
  "call-back do lead": "https://acme.example.com/api/cvio/lead",
  "call-back da tarefa": "https://acme.example.com/api/cvio/lead_tarefas/cadastrar"
}`

func payloadFixture(t *testing.T, actorRole string) []byte {
	t.Helper()
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "acme", Name: "Acme", PublicBaseURL: "https://acme.example.com/", CallConnectEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	score := 27
	reg := time.Date(2020, 2, 4, 19, 49, 57, 0, time.UTC) // 16:49:57 in São Paulo (UTC-3)
	lead, err := domain.NewLead(domain.LeadInput{EnvID: "acme", ID: "1", Name: "Lead do Teste", Email: "lead.teste@example.com",
		Phone: "(48) 99947-6359", Score: &score, RegisteredAt: &reg, Origin: "Painel Gestor",
		Stage: &domain.Ref{ID: "16", Name: "Em Atendimento"}, Developments: []domain.Ref{{ID: "3", Name: "1 - Empreendimento de teste"}},
		ManagerID: "g1", BrokerID: "c1", AgencyID: "i1"})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(id, name, role, agency string) domain.User {
		u, err := domain.NewUser(domain.UserInput{EnvID: "acme", ID: id, Name: name, Role: role, Phone: "48999476359", Extension: "1234", AgencyID: agency})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	owners := map[string]domain.User{
		"g1": mk("g1", "Gestor de teste", "manager", ""),
		"c1": mk("c1", "Corretor de teste", "broker", ""),
		"i1": mk("i1", "Imobiliária Bem Viver", "agency", ""),
	}
	actor := owners["c1"]
	if actorRole == "agency_user" {
		actor = mk("iu7", "Usuária da imobiliária", "agency_user", "i1")
	}
	b, err := cvio.PartnerPayload(domain.PartnerPayloadInput{Env: env, Lead: lead, Actor: actor, Owners: owners,
		CallID: "01JABC", ClickedAt: time.Date(2020, 2, 4, 23, 0, 0, 0, time.UTC), DialMode: domain.DialByPhone})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keysInOrder returns the top-level keys of a JSON object in document order.
func keysInOrder(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytesReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v", err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestPartnerPayloadMatchesTheContract(t *testing.T) {
	got := payloadFixture(t, "broker")
	var gotMap, wantMap map[string]any
	if err := json.Unmarshal(got, &gotMap); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(contractExample), &wantMap); err != nil {
		t.Fatal(err)
	}
	// Every key of the contract, in its order, then the additions.
	wantKeys := append(keysInOrder(t, []byte(contractExample)), "idligacao", "acionador", "modo_discagem")
	if gotKeys := keysInOrder(t, got); !reflect.DeepEqual(gotKeys, wantKeys) {
		t.Fatalf("keys:\n got %v\nwant %v", gotKeys, wantKeys)
	}
	// The contract numbers every owner "1"; the fixture's users are g1 and i1.
	wantMap["gestor"].(map[string]any)["id"] = "g1"
	wantMap["imobiliaria"].(map[string]any)["id"] = "i1"
	for _, k := range []string{"idlead", "nome", "email", "telefone", "score", "data_cad", "midia_principal", "origem", "data", "situacao", "empreendimento", "gestor", "imobiliaria"} {
		if !reflect.DeepEqual(gotMap[k], wantMap[k]) {
			t.Errorf("%s: got %#v, want %#v", k, gotMap[k], wantMap[k])
		}
	}
	// The broker pressed the button: the corretor slot carries them.
	if c := gotMap["corretor"].(map[string]any); c["id"] != "c1" || c["nome"] != "Corretor de teste" || c["ramal"] != "1234" {
		t.Errorf("corretor: %v", c)
	}
	if gotMap["call-back do lead"] != "https://acme.example.com/api/cvio/lead?idligacao=01JABC" ||
		gotMap["call-back da tarefa"] != "https://acme.example.com/api/cvio/lead_tarefas/cadastrar?idligacao=01JABC" {
		t.Errorf("callbacks: %v / %v", gotMap["call-back do lead"], gotMap["call-back da tarefa"])
	}
	if gotMap["idligacao"] != "01JABC" || gotMap["modo_discagem"] != "telefone" ||
		!reflect.DeepEqual(gotMap["acionador"], map[string]any{"tipo": "corretor", "id": "c1"}) {
		t.Errorf("additions: %v %v %v", gotMap["idligacao"], gotMap["modo_discagem"], gotMap["acionador"])
	}
}

func TestPartnerPayloadAgencyUserFillsTheAgencySlot(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal(payloadFixture(t, "agency_user"), &m); err != nil {
		t.Fatal(err)
	}
	if i := m["imobiliaria"].(map[string]any); i["id"] != "iu7" || i["nome"] != "Usuária da imobiliária" {
		t.Errorf("imobiliaria: %v", i)
	}
	if !reflect.DeepEqual(m["acionador"], map[string]any{"tipo": "imobiliaria", "id": "iu7"}) {
		t.Errorf("acionador: %v", m["acionador"])
	}
}

func TestPartnerPayloadAbsentValuesAreNull(t *testing.T) {
	env, _ := domain.NewEnvironment(domain.EnvironmentInput{ID: "acme", Name: "Acme", PublicBaseURL: "https://acme.example.com", TimeZone: "UTC"})
	lead, _ := domain.NewLead(domain.LeadInput{EnvID: "acme", ID: "9", Name: "Bare", ManagerID: "g1", BrokerID: "ghost"})
	actor, _ := domain.NewUser(domain.UserInput{EnvID: "acme", ID: "g1", Name: "G", Role: "manager", Extension: "7"})
	b, err := cvio.PartnerPayload(domain.PartnerPayloadInput{Env: env, Lead: lead, Actor: actor, Owners: map[string]domain.User{"g1": actor},
		CallID: "x&y", ClickedAt: time.Date(2024, 3, 19, 14, 0, 5, 0, time.UTC), DialMode: domain.DialByExtension})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"imobiliaria", "situacao", "email", "telefone", "score", "data_cad", "midia_principal", "origem"} {
		if v, ok := m[k]; !ok || v != nil {
			t.Errorf("%s: want null, got %#v (present %v)", k, v, ok)
		}
	}
	if e, ok := m["empreendimento"].([]any); !ok || len(e) != 0 {
		t.Errorf("empreendimento: want [], got %#v", m["empreendimento"])
	}
	// An owner the CRM never sent: its id, nothing invented.
	if c := m["corretor"].(map[string]any); c["id"] != "ghost" || c["nome"] != nil {
		t.Errorf("unknown owner: %v", c)
	}
	if g := m["gestor"].(map[string]any); g["telefone"] != nil || g["ramal"] != "7" {
		t.Errorf("gestor: %v", g)
	}
	if m["data"] != "2024-03-19 14:00:05" || m["modo_discagem"] != "ramal" {
		t.Errorf("data/modo: %v %v", m["data"], m["modo_discagem"])
	}
	if m["call-back do lead"] != "https://acme.example.com/api/cvio/lead?idligacao=x%26y" {
		t.Errorf("call id must be escaped in the URL: %v", m["call-back do lead"])
	}
}

// Every telefone the partner receives is in one form, however the CRM
// typed it: area code and number, digits only; a foreign number keeps its
// country code.
func TestPartnerPayloadPhonesInOneForm(t *testing.T) {
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "acme", Name: "Acme", PublicBaseURL: "https://acme.example.com", CallConnectEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	lead, err := domain.NewLead(domain.LeadInput{EnvID: "acme", ID: "1", Name: "Lead", Phone: "+55 (48) 99947-6359",
		ManagerID: "g1", BrokerID: "c1", AgencyID: "i1"})
	if err != nil {
		t.Fatal(err)
	}
	typed := map[string]string{"g1": "48 99947-6359", "c1": "5548999476351", "i1": "+1 (415) 555-0100"}
	roles := map[string]string{"g1": "manager", "c1": "broker", "i1": "agency"}
	owners := map[string]domain.User{}
	for id, phone := range typed {
		u, err := domain.NewUser(domain.UserInput{EnvID: "acme", ID: id, Name: id, Role: roles[id], Phone: phone})
		if err != nil {
			t.Fatal(err)
		}
		owners[id] = u
	}
	b, err := cvio.PartnerPayload(domain.PartnerPayloadInput{Env: env, Lead: lead, Actor: owners["g1"], Owners: owners,
		CallID: "c", ClickedAt: time.Unix(0, 0), DialMode: domain.DialByPhone})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Telefone    string
		Gestor      struct{ Telefone string }
		Corretor    struct{ Telefone string }
		Imobiliaria struct{ Telefone string }
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := [4]string{"48999476359", "48999476359", "48999476351", "14155550100"}
	if g := [4]string{got.Telefone, got.Gestor.Telefone, got.Corretor.Telefone, got.Imobiliaria.Telefone}; g != want {
		t.Fatalf("telefones %v, want %v", g, want)
	}
}
