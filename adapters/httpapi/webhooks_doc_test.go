package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"callconnect/adapters/cvio"
	"callconnect/adapters/httpapi"
	"callconnect/domain"
)

// partnerGuide is the partner documentation, whose example call must be
// what the encoder sends.
const partnerGuide = "../../docs/partners.md"

// encodedCalls are bodies the real encoder makes: a call on a lead with
// every field set, the same call made as a test call, and a call on a lead
// with nothing but a name (every absent value null).
func encodedCalls(t *testing.T) map[string][]byte {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "acme", Name: "Acme", PublicBaseURL: "https://acme.crm.example.com",
		TimeZone: "America/Sao_Paulo", CallConnectEnabled: true})
	must(err)
	score := 27
	reg := time.Date(2020, 2, 4, 19, 49, 57, 0, time.UTC)
	full, err := domain.NewLead(domain.LeadInput{EnvID: "acme", ID: "1", Name: "Lead do Teste", Email: "lead.teste@example.com",
		Phone: "+55 (48) 99947-6357", Score: &score, RegisteredAt: &reg, MainMedia: "Instagram", Origin: "Painel Gestor",
		Stage: &domain.Ref{ID: "16", Name: "Em Atendimento"}, Developments: []domain.Ref{{ID: "3", Name: "1 - Empreendimento de teste"}},
		ManagerID: "10", BrokerID: "20", AgencyID: "30"})
	must(err)
	bare, err := domain.NewLead(domain.LeadInput{EnvID: "acme", ID: "2", Name: "Bare", ManagerID: "99", BrokerID: "20"})
	must(err)
	user := func(id, name, role, phone, ext string) domain.User {
		u, err := domain.NewUser(domain.UserInput{EnvID: "acme", ID: id, Name: name, Role: role, Phone: phone, Extension: ext})
		must(err)
		return u
	}
	owners := map[string]domain.User{
		"10": user("10", "Gestor de teste", "manager", "48999476359", "1234"),
		"20": user("20", "Corretor de teste", "broker", "(48) 99947-6358", "1235"),
		"30": user("30", "Imobiliária Bem Viver", "agency", "+1 415 555 0123", "10"),
	}
	clicked := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	encode := func(lead domain.Lead, callID string, mode domain.DialMode, test bool) []byte {
		t.Helper()
		b, err := cvio.PartnerPayload(domain.PartnerPayloadInput{Env: env, Lead: lead, Actor: owners["20"], Owners: owners,
			CallID: callID, ClickedAt: clicked, DialMode: mode, Test: test})
		must(err)
		return b
	}
	return map[string][]byte{
		"a call":                        encode(full, "01JDQ4T5Z8M6V9W3X2Y1Z0A7BC", domain.DialByPhone, false),
		"a test call":                   encode(full, "teste_01JDQ4T5Z8M6V9W3X2Y1Z0A7BC", domain.DialByExtension, true),
		"a call on a lead bare of data": encode(bare, "01JDQ4T5Z8M6V9W3X2Y1Z0A7BD", domain.DialByPhone, false),
	}
}

// openAPIDoc is the served OpenAPI document, decoded.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	b, err := httpapi.OpenAPI(httpapi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// partnerCallOperation is webhooks.callConnectCall.post.
func partnerCallOperation(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	op := obj(obj(obj(doc["webhooks"])["callConnectCall"])["post"])
	if op == nil {
		t.Fatalf("the OpenAPI document has no webhooks.callConnectCall.post: webhooks = %v", doc["webhooks"])
	}
	return op
}

func partnerCallSchema(t *testing.T, doc map[string]any) map[string]any {
	t.Helper()
	s := obj(obj(obj(obj(partnerCallOperation(t, doc)["requestBody"])["content"])["application/json"])["schema"])
	if s == nil {
		t.Fatal("webhooks.callConnectCall.post has no application/json request body schema")
	}
	return s
}

// Every key the encoder sends, nested ones too, is in the webhook's schema,
// with a value the schema allows; and every key of a real call is required
// (an absent value is null, not a missing key), teste alone being optional.
func TestPartnerWebhookSchemaHasEveryKeyTheEncoderSends(t *testing.T) {
	doc := openAPIDoc(t)
	schema := partnerCallSchema(t, doc)
	calls := encodedCalls(t)
	for name, body := range calls {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, problem := range conform(doc, schema, v, "body") {
			t.Errorf("%s: %s\n%s", name, problem, body)
		}
	}

	required := map[string]bool{}
	for _, k := range resolve(doc, schema)["required"].([]any) {
		required[k.(string)] = true
	}
	for _, k := range orderedKeys(t, calls["a call"]) {
		if !required[k] {
			t.Errorf("key %q is always sent but the schema does not require it", k)
		}
	}
	if required["teste"] {
		t.Error("teste is sent on test calls only: it must not be required")
	}
	var test, real map[string]any
	_ = json.Unmarshal(calls["a test call"], &test)
	_ = json.Unmarshal(calls["a call"], &real)
	if test["teste"] != true || !strings.HasPrefix(test["idligacao"].(string), "teste_") {
		t.Errorf("a test call carries teste=true and an idligacao starting teste_: %v, %v", test["teste"], test["idligacao"])
	}
	if _, ok := real["teste"]; ok {
		t.Error("a real call must not carry teste")
	}
}

// The check above bites: a key the schema lacks, and a value of the wrong
// type, are reported.
func TestPartnerWebhookSchemaCheckCatchesAnUndocumentedKey(t *testing.T) {
	doc := openAPIDoc(t)
	schema := partnerCallSchema(t, doc)
	var v map[string]any
	_ = json.Unmarshal(encodedCalls(t)["a call"], &v)
	v["nova chave"] = "x"
	v["gestor"].(map[string]any)["celular"] = "48999476359"
	v["score"] = 27.0
	got := strings.Join(conform(doc, schema, v, "body"), "\n")
	for _, want := range []string{"body.nova chave", "body.gestor.celular", "body.score"} {
		if !strings.Contains(got, want+":") {
			t.Errorf("not reported: %s (got:\n%s)", want, got)
		}
	}
}

// The webhook names its three signature headers, and the answers a partner
// may give.
func TestPartnerWebhookDocumentsHeadersAndAnswers(t *testing.T) {
	op := partnerCallOperation(t, openAPIDoc(t))
	params := map[string]map[string]any{}
	for _, p := range op["parameters"].([]any) {
		params[obj(p)["name"].(string)] = obj(p)
	}
	for _, h := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		if p := params[h]; p == nil || p["in"] != "header" || p["required"] != true {
			t.Errorf("header %s: %v", h, p)
		}
	}
	for _, r := range []string{"2XX", "4XX", "5XX"} {
		if d, _ := obj(obj(op["responses"])[r])["description"].(string); d == "" {
			t.Errorf("response %s is not described", r)
		}
	}
}

// The example call of the partner guide, and the OpenAPI document's, are
// calls as the encoder makes them: its keys in its order, values the schema
// allows.
func TestPartnerCallExamplesMatchTheEncoder(t *testing.T) {
	doc := openAPIDoc(t)
	schema := partnerCallSchema(t, doc)
	want := orderedKeys(t, encodedCalls(t)["a call"])

	guide, err := os.ReadFile(partnerGuide)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- example: partner-call -->\\s*```json\\n(.*?)\\n```").FindSubmatch(guide)
	if m == nil {
		t.Fatalf("%s has no ```json block after <!-- example: partner-call -->", partnerGuide)
	}
	op := partnerCallOperation(t, doc)
	openapiExample, err := json.Marshal(obj(obj(obj(op["requestBody"])["content"])["application/json"])["example"])
	if err != nil {
		t.Fatal(err)
	}
	for name, example := range map[string][]byte{partnerGuide: m[1], "the OpenAPI example": openapiExample} {
		var v any
		if err := json.Unmarshal(example, &v); err != nil {
			t.Fatalf("%s: the example is not JSON: %v", name, err)
		}
		got := orderedKeys(t, example)
		sameKeys := slices.Equal(got, want)
		if name != partnerGuide {
			// Decoded from the document into a map, the example lost its key order.
			sameKeys = sameSet(got, want)
		}
		if !sameKeys {
			t.Errorf("%s: keys\n got %q\nwant %q", name, got, want)
		}
		for _, problem := range conform(doc, schema, v, "body") {
			t.Errorf("%s: %s", name, problem)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// orderedKeys returns the top-level keys of a JSON object in document order.
func orderedKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", b)
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

// resolve follows a $ref into the document's components.
func resolve(doc, s map[string]any) map[string]any {
	for s != nil {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		name, found := strings.CutPrefix(ref, "#/components/schemas/")
		if !found {
			return nil
		}
		s = obj(obj(obj(doc["components"])["schemas"])[name])
	}
	return s
}

// conform checks v against the JSON Schema s, for what the webhook's schema
// uses (type, enum, pattern, properties, required, items, anyOf), and says
// where v does not fit. An object key the schema has no property for is a
// problem: every key sent must be documented.
func conform(doc, s map[string]any, v any, at string) []string {
	s = resolve(doc, s)
	if s == nil {
		return []string{at + ": no schema"}
	}
	if anyOf, ok := s["anyOf"].([]any); ok {
		var all []string
		for _, alt := range anyOf {
			problems := conform(doc, obj(alt), v, at)
			if len(problems) == 0 {
				return nil
			}
			all = append(all, problems...)
		}
		return all
	}
	if types := schemaTypes(s["type"]); len(types) > 0 && !slices.Contains(types, jsonType(v)) {
		return []string{fmt.Sprintf("%s: a %s, where the schema says %v", at, jsonType(v), types)}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		return []string{fmt.Sprintf("%s: %v is not one of %v", at, v, enum)}
	}
	var problems []string
	switch x := v.(type) {
	case string:
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x) {
			problems = append(problems, fmt.Sprintf("%s: %q does not match %s", at, x, p))
		}
	case map[string]any:
		props := obj(s["properties"])
		for k, kv := range x {
			ps := obj(props[k])
			if ps == nil {
				problems = append(problems, fmt.Sprintf("%s.%s: not in the schema", at, k))
				continue
			}
			problems = append(problems, conform(doc, ps, kv, at+"."+k)...)
		}
		for _, r := range asSlice(s["required"]) {
			if _, ok := x[r.(string)]; !ok {
				problems = append(problems, fmt.Sprintf("%s.%s: required, not sent", at, r))
			}
		}
	case []any:
		for i, item := range x {
			problems = append(problems, conform(doc, obj(s["items"]), item, fmt.Sprintf("%s[%d]", at, i))...)
		}
	}
	return problems
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func schemaTypes(t any) []string {
	switch x := t.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, e.(string))
		}
		return out
	}
	return nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
