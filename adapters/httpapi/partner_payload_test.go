package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with what the tests produce")

const (
	goldenPartnerCall = "testdata/partner_call.golden.json"
	// contractExample is the example of the request a partner receives,
	// as the source article gives it.
	contractExample = "testdata/contract_example.json"
)

// TestPartnerCallGolden pins the JSON the partner receives when Ligar is
// pressed on a fully populated lead: the body the partner client was handed,
// indented (whitespace is the only change), against the golden file. The
// clock is fixed and ids are deterministic, so the bytes are stable; run
// `go test -run TestPartnerCallGolden -update` to rewrite the file after an
// intended change, and review the diff.
func TestPartnerCallGolden(t *testing.T) {
	body := fullyPopulatedCallBody(t)
	if bytes.Contains(body, []byte(`\u00`)) {
		t.Fatalf("the body escapes characters it should send as written: %s", body)
	}
	if !json.Valid(body) || bytes.ContainsAny(body, "\n\t") {
		t.Fatalf("the body must be compact JSON: %s", body)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, body, "", "  "); err != nil {
		t.Fatal(err)
	}
	indented.WriteByte('\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenPartnerCall), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPartnerCall, indented.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s", goldenPartnerCall)
	}
	want, err := os.ReadFile(goldenPartnerCall)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(indented.Bytes(), want) {
		t.Fatalf("the partner JSON differs from %s (run with -update if the change is intended):\ngot:\n%s\nwant:\n%s",
			goldenPartnerCall, indented.Bytes(), want)
	}

	// What the golden file says, spelled out.
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	const callID = firstCallID
	for key, want := range map[string]any{
		"idlead":              "1",
		"score":               "27",
		"data":                "2026-11-27 09:00:00", // t0 is 12:00 UTC; America/Sao_Paulo is UTC-3
		"data_cad":            "2020-02-04 16:49:57",
		"call-back do lead":   "https://acme.crm.example.com/api/cvio/lead?idligacao=" + callID,
		"call-back da tarefa": "https://acme.crm.example.com/api/cvio/lead_tarefas/cadastrar?idligacao=" + callID,
		"idligacao":           callID,
		"modo_discagem":       "telefone",
	} {
		if got[key] != want {
			t.Errorf("%s: got %v, want %v", key, got[key], want)
		}
	}
	if a := got["acionador"].(map[string]any); a["tipo"] != "corretor" || a["id"] != "20" {
		t.Errorf("acionador: %v", a)
	}
	// Fully populated: every leaf is a string, none is null or a number.
	walkLeaves(t, "", got, func(path string, v any) {
		if _, ok := v.(string); !ok {
			t.Errorf("%s: want a string, got %T %v", path, v, v)
		}
	})
}

// TestPartnerCallMatchesTheContract compares the golden file's key set and
// nesting with the contract's example: every key of the example is present,
// in the example's order and nesting, with the same JSON type, except that
// a value the example shows as null may be a string and vice versa (null
// means absent). Keys the contract adds in prose (idligacao, acionador,
// modo_discagem) come after the example's.
func TestPartnerCallMatchesTheContract(t *testing.T) {
	contract := parseOrderedFile(t, contractExample)
	golden := parseOrderedFile(t, goldenPartnerCall)
	sameShape(t, "$", contract, golden)

	extra := golden.keys[len(golden.keys)-3:]
	if !reflect.DeepEqual(extra, []string{"idligacao", "acionador", "modo_discagem"}) {
		t.Errorf("the keys beyond the example: got %v", extra)
	}
	if len(golden.keys) != len(contract.keys)+3 {
		t.Errorf("the golden file has keys neither the example nor the contract's prose names: %v", golden.keys)
	}
	if a := golden.fields["acionador"]; a == nil || !reflect.DeepEqual(a.keys, []string{"tipo", "id"}) {
		t.Errorf("acionador must be {tipo, id}: %+v", a)
	}
}

// TestContractExampleIsCurrent checks testdata's copy of the example against
// fullyPopulatedCallBody presses Ligar as the broker on a lead with every
// field set, owners with phone and extension, in an environment in
// America/Sao_Paulo, and returns the body the partner client received.
// The phones are typed as a CRM's users type them (+55, a carrier code, a
// trunk 0, punctuation): the golden file has each in the one form partners
// receive, area code and number.
func fullyPopulatedCallBody(t *testing.T) []byte {
	t.Helper()
	return partnerBodyOf(t, map[string]map[string]any{
		"10": {"name": "Gestor de teste", "role": "manager", "phone": "+55 (48) 99947-6359", "extension": "1234"},
		"20": {"name": "Corretor de teste", "role": "broker", "phone": "0 21 (48) 99947-6358", "extension": "1235"},
		"30": {"name": "Imobiliária Bem Viver", "role": "agency", "phone": "048 3030-3030", "extension": "10"},
	}, map[string]any{
		"name": "Lead do Teste", "email": "lead.teste@example.com", "phone": "55 48 99947-6357", "score": 27,
		"registered_at": "2020-02-04T16:49:57-03:00", "main_media": "Instagram", "origin": "Painel Gestor",
		"stage":        map[string]any{"id": "16", "name": "Em Atendimento"},
		"developments": []any{map[string]any{"id": "3", "name": "1 - Empreendimento de teste"}, map[string]any{"id": "4", "name": "Torre & Jardim"}},
		"manager_id":   "10", "broker_id": "20", "agency_id": "30",
	}, "20")
}

// partnerBodyOf makes an environment in America/Sao_Paulo dialing by phone
// with users and lead 1, has presser press Ligar on it, delivers the call
// and returns the body the partner client received.
func partnerBodyOf(t *testing.T, users map[string]map[string]any, lead map[string]any, presser string) []byte {
	t.Helper()
	rig := newCallsRig(t)
	c := rig.client
	c.ok(c.put(env, map[string]any{"name": "Acme Imóveis", "public_base_url": "https://acme.crm.example.com/",
		"time_zone": "America/Sao_Paulo", "call_connect_enabled": true}))
	c.ok(c.put(env+"/users/admin", map[string]any{"name": "Admin", "role": "manager", "can_manage_integrations": true}))
	for id, u := range users {
		c.ok(c.put(env+"/users/"+id, u))
	}
	c.ok(c.put(env+"/leads/1", lead))
	c.ok(c.put(env+"/telephony/call-connect", map[string]any{"actor_id": "admin",
		"partner_url": "https://partner.example.com/calls", "dial_mode": "phone"}))
	c.ok(c.post(env+"/telephony/call-connect/activate", map[string]any{"actor_id": "admin"}))

	accepted(t, c.post(env+"/leads/1/calls", map[string]any{"user_id": presser}))
	rig.drain()
	reqs := rig.partner.received()
	if len(reqs) != 1 {
		t.Fatalf("want one partner request, got %d", len(reqs))
	}
	return reqs[0].Body
}

// A lead with nothing but a name still sends every key of the contract:
// absent values are null (an owner the CRM never sent is its id alone),
// the developments an empty array.
func TestPartnerCallOfASparseLead(t *testing.T) {
	body := partnerBodyOf(t, map[string]map[string]any{
		"20": {"name": "Corretor de teste", "role": "broker", "phone": "48999476358"},
	}, map[string]any{"name": "Lead", "manager_id": "99", "broker_id": "20"}, "20")

	sparse := parseOrdered(t, "the sparse body", body)
	golden := parseOrderedFile(t, goldenPartnerCall)
	if !slices.Equal(sparse.keys, golden.keys) {
		t.Fatalf("keys: got %q, want those of the golden file %q", sparse.keys, golden.keys)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"imobiliaria", "situacao", "email", "telefone", "score", "data_cad", "midia_principal", "origem"} {
		if got[k] != nil {
			t.Errorf("%s: want null, got %v", k, got[k])
		}
	}
	if e, ok := got["empreendimento"].([]any); !ok || len(e) != 0 {
		t.Errorf("empreendimento: want [], got %v", got["empreendimento"])
	}
	wantPerson := func(key string, want map[string]any) {
		t.Helper()
		if p, ok := got[key].(map[string]any); !ok || !reflect.DeepEqual(p, want) {
			t.Errorf("%s: got %v, want %v", key, got[key], want)
		}
	}
	wantPerson("gestor", map[string]any{"id": "99", "nome": nil, "telefone": nil, "ramal": nil})
	wantPerson("corretor", map[string]any{"id": "20", "nome": "Corretor de teste", "telefone": "48999476358", "ramal": nil})
}

// orderedJSON is a parsed JSON value that remembers the order of object keys.
type orderedJSON struct {
	Kind   string // object, array, string, number, bool, null
	keys   []string
	fields map[string]*orderedJSON
	elems  []*orderedJSON
}

func parseOrderedFile(t *testing.T, name string) *orderedJSON {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return parseOrdered(t, name, b)
}

func parseOrdered(t *testing.T, name string, b []byte) *orderedJSON {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := readOrdered(dec)
	if err == nil {
		if _, err = dec.Token(); err == io.EOF {
			err = nil
		} else if err == nil {
			err = errors.New("trailing data")
		}
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func readOrdered(dec *json.Decoder) (*orderedJSON, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			o := &orderedJSON{Kind: "object", fields: map[string]*orderedJSON{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key := kt.(string)
				if _, dup := o.fields[key]; dup {
					return nil, fmt.Errorf("duplicate key %q", key)
				}
				child, err := readOrdered(dec)
				if err != nil {
					return nil, err
				}
				o.keys = append(o.keys, key)
				o.fields[key] = child
			}
			_, err := dec.Token()
			return o, err
		case '[':
			a := &orderedJSON{Kind: "array"}
			for dec.More() {
				child, err := readOrdered(dec)
				if err != nil {
					return nil, err
				}
				a.elems = append(a.elems, child)
			}
			_, err := dec.Token()
			return a, err
		}
		return nil, fmt.Errorf("unexpected %v", v)
	case string:
		return &orderedJSON{Kind: "string"}, nil
	case json.Number:
		return &orderedJSON{Kind: "number"}, nil
	case bool:
		return &orderedJSON{Kind: "bool"}, nil
	case nil:
		return &orderedJSON{Kind: "null"}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// sameShape reports where got does not have want's keys, order, nesting and types.
func sameShape(t *testing.T, path string, want, got *orderedJSON) {
	t.Helper()
	if want.Kind != got.Kind {
		absent := (want.Kind == "null" && got.Kind == "string") || (want.Kind == "string" && got.Kind == "null")
		if !absent {
			t.Errorf("%s: the contract has a %s, got a %s", path, want.Kind, got.Kind)
		}
		return
	}
	switch want.Kind {
	case "object":
		for _, k := range want.keys {
			if child, ok := got.fields[k]; ok {
				sameShape(t, path+"."+k, want.fields[k], child)
			} else {
				t.Errorf("%s: missing key %q", path, k)
			}
		}
		var order []string // got's keys that the contract has, in got's order
		for _, k := range got.keys {
			if _, ok := want.fields[k]; ok {
				order = append(order, k)
			}
		}
		if len(order) == len(want.keys) && !slices.Equal(order, want.keys) {
			t.Errorf("%s: keys out of the contract's order:\ngot  %q\nwant %q", path, order, want.keys)
		}
	case "array":
		if len(want.elems) > 0 && len(got.elems) == 0 {
			t.Errorf("%s: want elements shaped like the contract's, got an empty array", path)
		}
		for i, e := range got.elems {
			for _, w := range want.elems {
				sameShape(t, fmt.Sprintf("%s[%d]", path, i), w, e)
			}
		}
	}
}

func walkLeaves(t *testing.T, path string, v any, fn func(path string, v any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			walkLeaves(t, path+"."+k, c, fn)
		}
	case []any:
		for i, c := range x {
			walkLeaves(t, fmt.Sprintf("%s[%d]", path, i), c, fn)
		}
	default:
		fn(path, v)
	}
}
