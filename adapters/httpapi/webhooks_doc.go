package httpapi

import (
	"encoding/json"
	"slices"

	"github.com/danielgtaylor/huma/v2"
)

// The request a partner receives when Ligar is pressed is not served here
// but sent from here: it is documented under the OpenAPI document's
// webhooks, so that a partner can read (or generate code from) the exact
// keys, headers and answers of the call it must accept.
const (
	webhookCallConnectCall = "callConnectCall"
	tagPartnerWebhook      = "Partner webhook"

	schemaPartnerCall       = "PartnerCall"
	schemaPartnerCallPerson = "PartnerCallPerson"
	schemaPartnerCallRef    = "PartnerCallRef"
	schemaPartnerCallActor  = "PartnerCallActor"
)

// partnerCallExample is a call as a partner receives it (the partner guide,
// docs/partners.md, shows the same one).
const partnerCallExample = `{
  "idlead": "1",
  "gestor": {"id": "10", "nome": "Gestor de teste", "telefone": "48999476359", "ramal": "1234"},
  "imobiliaria": {"id": "30", "nome": "Imobiliária Bem Viver", "telefone": "4830303030", "ramal": "10"},
  "corretor": {"id": "20", "nome": "Corretor de teste", "telefone": "48999476358", "ramal": "1235"},
  "situacao": {"id": "16", "nome": "Em Atendimento"},
  "nome": "Lead do Teste",
  "email": "lead.teste@example.com",
  "telefone": "48999476357",
  "score": "27",
  "data_cad": "2020-02-04 16:49:57",
  "midia_principal": null,
  "origem": "Painel Gestor",
  "empreendimento": [{"id": "3", "nome": "1 - Empreendimento de teste"}, {"id": "4", "nome": "Torre & Jardim"}],
  "data": "2026-11-27 09:00:00",
  "call-back do lead": "https://acme.crm.example.com/api/cvio/lead?idligacao=01JDQ4T5Z8M6V9W3X2Y1Z0A7BC",
  "call-back da tarefa": "https://acme.crm.example.com/api/cvio/lead_tarefas/cadastrar?idligacao=01JDQ4T5Z8M6V9W3X2Y1Z0A7BC",
  "idligacao": "01JDQ4T5Z8M6V9W3X2Y1Z0A7BC",
  "acionador": {"tipo": "corretor", "id": "20"},
  "modo_discagem": "telefone"
}`

// registerPartnerWebhook documents the outbound call under webhooks, with
// its body's schemas among the components.
func registerPartnerWebhook(api huma.API) {
	doc := api.OpenAPI()
	schemas := doc.Components.Schemas.Map()
	for name, s := range partnerCallSchemas() {
		schemas[name] = s
	}
	doc.Tags = append(doc.Tags, &huma.Tag{Name: tagPartnerWebhook,
		Description: "What Call Connect sends to the partner's URL when a user presses Ligar: a signed POST the partner " +
			"accepts with a 2xx, then reports on through the partner callbacks. The partner guide, in Portuguese, is " +
			"docs/partners.md in the repository."})
	if doc.Webhooks == nil {
		doc.Webhooks = map[string]*huma.PathItem{}
	}
	doc.Webhooks[webhookCallConnectCall] = &huma.PathItem{Post: partnerCallOperation()}
}

func partnerCallOperation() *huma.Operation {
	header := func(name, desc, pattern, example string) *huma.Param {
		return &huma.Param{Name: name, In: "header", Required: true, Description: desc,
			Schema: &huma.Schema{Type: huma.TypeString, Pattern: pattern}, Example: example}
	}
	return &huma.Operation{
		OperationID: webhookCallConnectCall,
		Summary:     "A call to place (sent to the partner)",
		Description: "Sent to the integration's partner URL when a user presses Ligar on a lead, and by the test call " +
			"(`POST /v1/environments/{env}/telephony/call-connect/test`, with `\"teste\": true`).\n\n" +
			"**Signature** (Standard Webhooks): `webhook-signature` holds `v1,` and the base64 HMAC-SHA256 of " +
			"`{webhook-id}.{webhook-timestamp}.{raw body}`, keyed with the bytes the base64 after `whsec_` in the " +
			"integration's signing secret decodes to; during a secret rotation, one signature per secret, separated " +
			"by spaces. Verify against the raw body, reject a timestamp more than 5 minutes from your clock, and " +
			"remember each `webhook-id` accepted (24 h): every attempt for one call carries the same id, with a fresh " +
			"timestamp and signature.\n\n" +
			"**Answers**: a 2xx accepts the call; 5xx, 408, 425, 429 and timeouts (5 s to connect, 15 s in all) are " +
			"retried with exponential, fully jittered backoff (honouring `Retry-After`) until " +
			"`CALLCONNECT_DISPATCH_DEADLINE` (2 min after the click by default); any other status gives up at once " +
			"(the call is undeliverable). Redirects are not followed. Once accepted, the call's result is expected " +
			"through the partner callbacks within `CALLCONNECT_RESULT_DEADLINE` (2 h by default), after which the " +
			"call is no_result; a late result still settles it.",
		Tags:     []string{tagPartnerWebhook},
		Security: publicSecurity,
		Parameters: []*huma.Param{
			header("webhook-id", "The message id: the same on every attempt for one call, so a repeat can be recognised.",
				`^\S+$`, "msg_01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"),
			header("webhook-timestamp", "When this attempt was sent, in Unix seconds; signed with the body.",
				`^[0-9]+$`, "1795780800"),
			header("webhook-signature", "One or more space-separated `v1,<base64 HMAC-SHA256>` signatures.",
				`^v1,\S+( v1,\S+)*$`, "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="),
		},
		RequestBody: &huma.RequestBody{
			Required:    true,
			Description: "The lead, its owners and who pressed Ligar, as the partner contract writes them.",
			Content: map[string]*huma.MediaType{"application/json": {
				Schema:  &huma.Schema{Ref: schemaRef(schemaPartnerCall)},
				Example: json.RawMessage(partnerCallExample),
			}},
		},
		Responses: map[string]*huma.Response{
			"2XX": {Description: "Accepted: the partner has the call (any 2xx; the body is kept in the monitor, not read). " +
				"Answer at once and dial afterwards; answer 2xx again, without dialling, to a webhook-id already accepted."},
			"4XX": {Description: "Refused for good: 401 for a signature that does not verify, or any other 4xx except 408, " +
				"425 and 429 (those are retried, 429 after its Retry-After). No further attempt is made."},
			"5XX": {Description: "Retried, as timeouts and refused connections are, until the dispatch deadline."},
		},
	}
}

func schemaRef(name string) string { return "#/components/schemas/" + name }

// nullableRef is the schema of an object that may be null (huma marks
// only scalars nullable).
func nullableRef(s *huma.Schema, desc string) *huma.Schema {
	return &huma.Schema{AnyOf: []*huma.Schema{s, {Type: "null"}}, Description: desc}
}

// partnerCallSchemas are the schemas of the body, by component name. Every
// key is required: an absent value is sent as null (teste alone is left
// out unless true).
func partnerCallSchemas() map[string]*huma.Schema {
	return map[string]*huma.Schema{
		schemaPartnerCall:       partnerCallBodySchema(),
		schemaPartnerCallPerson: partnerCallPersonSchema(),
		schemaPartnerCallRef:    partnerCallRefSchema(),
		schemaPartnerCallActor:  partnerCallActorSchema(),
	}
}

const (
	partnerLocalTime   = "`YYYY-MM-DD HH:MM:SS`, in the environment's local time"
	partnerPhoneDoc    = "Area code and number, digits only; a foreign number as its E.164 digits, country code included."
	partnerTimePattern = `^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$`
)

// partnerCallBodySchema is the call itself.
func partnerCallBodySchema() *huma.Schema {
	data := docString("When Ligar was pressed: "+partnerLocalTime+".", "2026-11-27 09:00:00")
	data.Pattern = partnerTimePattern
	dataCad := docNullString("When the lead was registered: "+partnerLocalTime+".", "2020-02-04 16:49:57")
	dataCad.Pattern = partnerTimePattern
	return docObject("The call to place, with the keys, nesting and types of the partner contract: ids and numbers are "+
		"strings, absent values null, times "+partnerLocalTime+". Keys with spaces are part of the contract. New keys may be "+
		"added: ignore those you do not know.", map[string]*huma.Schema{
		"idlead":              docString("The lead's id.", "1"),
		"gestor":              nullableRef(&huma.Schema{Ref: schemaRef(schemaPartnerCallPerson)}, "The lead's manager (gestor)."),
		"imobiliaria":         nullableRef(&huma.Schema{Ref: schemaRef(schemaPartnerCallPerson)}, "The lead's agency (imobiliária), or the agency user who pressed Ligar."),
		"corretor":            nullableRef(&huma.Schema{Ref: schemaRef(schemaPartnerCallPerson)}, "The lead's broker (corretor)."),
		"situacao":            nullableRef(&huma.Schema{Ref: schemaRef(schemaPartnerCallRef)}, "The lead's stage."),
		"nome":                docString("The lead's name.", "Lead do Teste"),
		"email":               docNullString("The lead's e-mail.", "lead.teste@example.com"),
		"telefone":            docPhone("The lead's phone. "+partnerPhoneDoc, "48999476357"),
		"score":               docNullString("The lead's score, as a string.", "27"),
		"data_cad":            dataCad,
		"midia_principal":     docNullString("The lead's main media.", "Instagram"),
		"origem":              docNullString("The lead's origin.", "Painel Gestor"),
		"empreendimento":      {Type: huma.TypeArray, Items: &huma.Schema{Ref: schemaRef(schemaPartnerCallRef)}, Description: "The developments the lead is interested in; empty when none."},
		"data":                data,
		"call-back do lead":   {Type: huma.TypeString, Format: "uri", Description: "The lead callback (POST /api/cvio/lead) on the environment's public URL, with `?idligacao=<call id>`.", Examples: []any{"https://acme.crm.example.com/api/cvio/lead?idligacao=01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"}},
		"call-back da tarefa": {Type: huma.TypeString, Format: "uri", Description: "The task callback (POST /api/cvio/lead_tarefas/cadastrar) on the environment's public URL, with `?idligacao=<call id>`.", Examples: []any{"https://acme.crm.example.com/api/cvio/lead_tarefas/cadastrar?idligacao=01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"}},
		"idligacao":           {Type: huma.TypeString, Pattern: "^[A-Za-z0-9._~-]{1,64}$", Description: "The call's id, which the callbacks name it by; on a test call it starts with `teste_`.", Examples: []any{"01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"}},
		"acionador":           {Ref: schemaRef(schemaPartnerCallActor)},
		"modo_discagem":       {Type: huma.TypeString, Enum: []any{"telefone", "ramal"}, Description: "Dial the presser's phone (telefone) or extension (ramal): the integration uses one.", Examples: []any{"telefone"}},
		"teste":               {Type: huma.TypeBoolean, Enum: []any{true}, Description: "Present, and true, on a test call only: do not dial."},
	}, "teste")
}

// partnerCallPersonSchema is an owner of the lead.
func partnerCallPersonSchema() *huma.Schema {
	return docObject("An owner of the lead. When the one who pressed Ligar has this slot's role, it is that person; "+
		"an owner the CRM never described carries its id alone.", map[string]*huma.Schema{
		"id":       docString("The user's id.", "20"),
		"nome":     docNullString("Name.", "Corretor de teste"),
		"telefone": docPhone(partnerPhoneDoc, "48999476358"),
		"ramal":    {Type: huma.TypeString, Nullable: true, Pattern: `^[0-9]{1,10}$`, Description: "Extension (PBX), digits.", Examples: []any{"1235"}},
	})
}

// partnerCallRefSchema is an id and a name.
func partnerCallRefSchema() *huma.Schema {
	return docObject("An id and a name.", map[string]*huma.Schema{
		"id":   docString("Id.", "16"),
		"nome": docNullString("Name.", "Em Atendimento"),
	})
}

// partnerCallActorSchema is who pressed Ligar.
func partnerCallActorSchema() *huma.Schema {
	return docObject("Who pressed Ligar.", map[string]*huma.Schema{
		"tipo": {Type: huma.TypeString, Enum: []any{"gestor", "corretor", "imobiliaria"},
			Description: "Their role: gestor, corretor, or imobiliaria (an agency or one of its users).", Examples: []any{"corretor"}},
		"id": docString("The user's id.", "20"),
	})
}

func docString(desc string, examples ...any) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, Description: desc, Examples: examples}
}

func docNullString(desc string, examples ...any) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, Nullable: true, Description: desc, Examples: examples}
}

// docObject is an object of props, every one required but the optional.
func docObject(desc string, props map[string]*huma.Schema, optional ...string) *huma.Schema {
	s := &huma.Schema{Type: huma.TypeObject, Description: desc, Properties: props}
	for name := range props {
		required := true
		for _, o := range optional {
			required = required && o != name
		}
		if required {
			s.Required = append(s.Required, name)
		}
	}
	slices.Sort(s.Required)
	return s
}

// docPhone is a phone number, or null.
func docPhone(desc string, example string) *huma.Schema {
	s := docNullString(desc, example)
	s.Pattern = `^[0-9]{8,15}$`
	return s
}
