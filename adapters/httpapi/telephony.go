package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"callconnect/app"
	"callconnect/domain"
)

// ProviderPath names a telephony integration of an environment.
type ProviderPath struct {
	EnvPath
	Provider string `path:"provider" pattern:"^[a-z0-9][a-z0-9-]{0,63}$" doc:"Provider slug: call-connect is this integration; any other slug names another telephony integration of the environment, which only has an active flag." example:"call-connect"`
}

// ActorBody names the user who makes a change; they need the
// integration-management permission (rule 4).
type ActorBody struct {
	ActorID string `json:"actor_id" pattern:"^[A-Za-z0-9._~-]{1,64}$" doc:"The user making the change; must have can_manage_integrations." example:"1"`
}

// IntegrationSettings is the body of PUT /v1/environments/{env}/telephony/{provider}.
type IntegrationSettings struct {
	ActorID    string `json:"actor_id" pattern:"^[A-Za-z0-9._~-]{1,64}$" doc:"The user making the change; must have can_manage_integrations." example:"1"`
	PartnerURL string `json:"partner_url,omitempty" maxLength:"2048" doc:"call-connect only, required there: where calls are posted. https; loopback, private and other special-purpose addresses are refused unless the deployment allows them. The URL as the integration shows it (secret query values redacted) sent back leaves the stored URL as it is." example:"https://partner.example.com/calls"`
	DialMode   string `json:"dial_mode,omitempty" enum:"phone,extension" doc:"call-connect only, required there: the partner dials the user's phone or their extension (ramal), never both." example:"phone"`
}

// Integration is a telephony integration of an environment.
type Integration struct {
	Provider      string `json:"provider" example:"call-connect"`
	Active        bool   `json:"active"`
	PartnerURL    string `json:"partner_url,omitempty" doc:"call-connect only. The values of query parameters whose names say token, key, secret, signature, password or authorization read [redacted]; calls go to the URL as configured." example:"https://partner.example.com/calls"`
	DialMode      string `json:"dial_mode,omitempty" enum:"phone,extension" doc:"call-connect only." example:"phone"`
	SigningSecret string `json:"signing_secret,omitempty" doc:"call-connect only, and only in the answer that created or rotated it: the Standard Webhooks secret (whsec_…) partner requests are signed with. It is never shown again." example:"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`
}

// IntegrationList is every telephony integration of an environment, without secrets.
type IntegrationList struct {
	Items []Integration `json:"items" nullable:"false"`
}

type putIntegrationInput struct {
	ProviderPath
	Body IntegrationSettings
}

type changeIntegrationInput struct {
	ProviderPath
	Body ActorBody
}

type rotateSecretInput struct {
	EnvPath
	Body ActorBody
}

type testCallInput struct {
	EnvPath
	Body ActorBody
}

// TestCallResult is what the partner made of a test call.
type TestCallResult struct {
	StatusCode  int    `json:"status_code" minimum:"0" maximum:"999" doc:"The partner's HTTP status; 0 when no answer came back (error says why). Any 2xx is what a real call needs." example:"200"`
	DurationMS  int64  `json:"duration_ms" minimum:"0" doc:"How long the request took, in milliseconds." example:"120"`
	BodyExcerpt string `json:"body_excerpt" doc:"The start of the partner's answer (its first 500 bytes, as UTF-8 text); empty when it had no body or none came back." example:"{\"ok\": true}"`
	WebhookID   string `json:"webhook_id" doc:"The webhook-id header the request was signed and sent with." example:"msg_teste_01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"`
	Error       string `json:"error" doc:"Why no HTTP answer came back: refused connection, timeout, or a partner URL the delivery policy refuses (a loopback, private or internal address), as a real delivery would report it. Empty on any HTTP answer, whatever its status."`
	CallID      string `json:"call_id" doc:"The test call's idligacao: teste_ and a new id. No call is stored under it; the monitor's exchanges are (call_id filter)." example:"teste_01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"`
	ExchangeID  string `json:"exchange_id" doc:"The monitor's record of the request and answer (GET …/monitor/exchanges/{id})." example:"01JDQ4T5Z8M6V9W3X2Y1Z0A7BD"`
}

type testCallOutput struct {
	Body TestCallResult
}

type listIntegrationsInput struct {
	EnvPath
}

type integrationOutput struct {
	Body Integration
}

type integrationListOutput struct {
	Body IntegrationList
}

// integrationOf shows an integration; secret is set only by the answer that
// created or rotated it.
func integrationOf(i domain.Integration, secret string) Integration {
	return Integration{Provider: i.Provider(), Active: i.Active(), PartnerURL: i.ShownPartnerURL(), DialMode: string(i.DialMode()),
		SigningSecret: secret}
}

func integrationResult(r app.IntegrationResult) *integrationOutput {
	return &integrationOutput{Body: integrationOf(r.Integration, r.NewSecret)}
}

// registerTelephony registers the telephony integrations' operations.
func (h *handlers) registerTelephony(api huma.API) {
	h.registerPutTelephonyIntegration(api)
	h.registerActivateTelephonyIntegration(api)
	h.registerDeactivateTelephonyIntegration(api)
	h.registerRotateCallConnectSecret(api)
	h.registerTestCallConnect(api)
	h.registerListTelephonyIntegrations(api)
}

// registerPutTelephonyIntegration registers PUT /v1/environments/{env}/telephony/{provider}.
func (h *handlers) registerPutTelephonyIntegration(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "putTelephonyIntegration",
		Method:      http.MethodPut,
		Path:        "/v1/environments/{env}/telephony/{provider}",
		Summary:     "Create or replace a telephony integration's settings",
		Description: "For call-connect: sets the partner URL and the dial mode (both required), and on creation " +
			"answers the new signing secret once. Other providers take no settings. The active flag is left as it is " +
			"(see activate and deactivate). The actor needs the integration-management permission and, for call-connect, " +
			"support must have enabled Call Connect for the environment.",
		Tags:   []string{tagTelephony},
		Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *putIntegrationInput) (*integrationOutput, error) {
		res, err := h.svc.Telephony.PutIntegration(ctx, in.Env, in.Provider, in.Body.ActorID,
			domain.IntegrationSettings{PartnerURL: in.Body.PartnerURL, DialMode: in.Body.DialMode})
		if err != nil {
			return nil, err
		}
		return integrationResult(res), nil
	})
}

// registerActivateTelephonyIntegration registers POST /v1/environments/{env}/telephony/{provider}/activate.
func (h *handlers) registerActivateTelephonyIntegration(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "activateTelephonyIntegration",
		Method:      http.MethodPost,
		Path:        "/v1/environments/{env}/telephony/{provider}/activate",
		Summary:     "Activate a telephony integration",
		Description: "Switches the integration on. Refused with 409 integration_active_elsewhere while another telephony " +
			"integration of the environment is active (rule 1), and with 409 integration_incomplete when call-connect lacks " +
			"its partner URL or dial mode. Needs the permission and, for call-connect, the support switch.",
		Tags:   []string{tagTelephony},
		Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *changeIntegrationInput) (*integrationOutput, error) {
		i, err := h.svc.Telephony.Activate(ctx, in.Env, in.Provider, in.Body.ActorID)
		if err != nil {
			return nil, err
		}
		return &integrationOutput{Body: integrationOf(i, "")}, nil
	})
}

// registerDeactivateTelephonyIntegration registers POST /v1/environments/{env}/telephony/{provider}/deactivate.
func (h *handlers) registerDeactivateTelephonyIntegration(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "deactivateTelephonyIntegration",
		Method:      http.MethodPost,
		Path:        "/v1/environments/{env}/telephony/{provider}/deactivate",
		Summary:     "Deactivate a telephony integration",
		Description: "Switches the integration off. Needs the integration-management permission, not the support switch: " +
			"turning a feature off is always allowed.",
		Tags:   []string{tagTelephony},
		Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *changeIntegrationInput) (*integrationOutput, error) {
		i, err := h.svc.Telephony.Deactivate(ctx, in.Env, in.Provider, in.Body.ActorID)
		if err != nil {
			return nil, err
		}
		return &integrationOutput{Body: integrationOf(i, "")}, nil
	})
}

// registerRotateCallConnectSecret registers POST /v1/environments/{env}/telephony/call-connect/rotate-secret.
func (h *handlers) registerRotateCallConnectSecret(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "rotateCallConnectSecret",
		Method:      http.MethodPost,
		Path:        "/v1/environments/{env}/telephony/call-connect/rotate-secret",
		Summary:     "Rotate the Call Connect signing secret",
		Description: "Gives the call-connect integration a new signing secret, answered once in signing_secret. " +
			"The previous secret keeps signing for 24 hours so that the partner can switch without missing a request.",
		Tags:   []string{tagTelephony},
		Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *rotateSecretInput) (*integrationOutput, error) {
		res, err := h.svc.Telephony.RotateSecret(ctx, in.Env, in.Body.ActorID)
		if err != nil {
			return nil, err
		}
		return integrationResult(res), nil
	})
}

// registerTestCallConnect registers POST /v1/environments/{env}/telephony/call-connect/test.
func (h *handlers) registerTestCallConnect(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "testCallConnect",
		Method:      http.MethodPost,
		Path:        "/v1/environments/{env}/telephony/call-connect/test",
		Summary:     "Send a test call to the partner",
		Description: "Posts a sample call to the partner URL now and answers what the partner said, so that a partner can try " +
			"its endpoint and its signature check, and an operator can see why calls do not arrive. The body has the shape of " +
			"a real call (see the callConnectCall webhook) with sample values — a sample lead and owners, the actor as " +
			"acionador, the integration's dial mode — plus `\"teste\": true`, and an idligacao starting with `teste_`. " +
			"It is signed with the integration's secrets and sent by the same client, with the same address checks and " +
			"timeouts, as a real delivery; it is sent once, never retried, and no call is stored. The integration may be " +
			"active or not (a partner tries its endpoint before it is switched on), but it must be configured " +
			"(404 integration_not_found otherwise). The actor needs the permission configuring it takes, and support must " +
			"have enabled Call Connect. The request and answer land in the integration monitor as an outbound exchange " +
			"under call_id. A partner that does not answer, or a URL the delivery policy refuses, is a 200 whose error says " +
			"why, with status_code 0.",
		Tags:   []string{tagTelephony},
		Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *testCallInput) (*testCallOutput, error) {
		res, err := h.svc.Calls.SendTestCall(ctx, in.Env, in.Body.ActorID)
		if err != nil {
			return nil, err
		}
		return &testCallOutput{Body: TestCallResult{StatusCode: res.StatusCode, DurationMS: res.Duration.Milliseconds(),
			BodyExcerpt: res.BodyExcerpt, WebhookID: res.WebhookID, Error: res.Error, CallID: res.CallID, ExchangeID: res.ExchangeID}}, nil
	})
}

// registerListTelephonyIntegrations registers GET /v1/environments/{env}/telephony.
func (h *handlers) registerListTelephonyIntegrations(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "listTelephonyIntegrations",
		Method:      http.MethodGet,
		Path:        "/v1/environments/{env}/telephony",
		Summary:     "List telephony integrations",
		Description: "Every telephony integration of the environment, ordered by provider. Signing secrets are never listed.",
		Tags:        []string{tagTelephony},
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *listIntegrationsInput) (*integrationListOutput, error) {
		all, err := h.svc.Telephony.ListIntegrations(ctx, in.Env)
		if err != nil {
			return nil, err
		}
		out := &integrationListOutput{Body: IntegrationList{Items: make([]Integration, 0, len(all))}}
		for _, i := range all {
			out.Body.Items = append(out.Body.Items, integrationOf(i, ""))
		}
		return out, nil
	})
}
