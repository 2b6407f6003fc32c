package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"callconnect/domain"
)

// Ids in paths are 1 to 64 URL-safe characters (domain.ValidID); the
// pattern tags below say so to clients and to huma's validation.

// EnvPath names the environment of an operation.
type EnvPath struct {
	Env string `path:"env" pattern:"^[A-Za-z0-9._~-]{1,64}$" maxLength:"64" doc:"Environment id, chosen by the CRM." example:"acme"`
}

// EnvironmentSettings is the body of PUT /v1/environments/{env}.
type EnvironmentSettings struct {
	Name               string   `json:"name" maxLength:"200" doc:"Display name." example:"Acme Imóveis"`
	PublicBaseURL      string   `json:"public_base_url" maxLength:"2048" doc:"Base URL partners post callbacks to (absolute http(s), no query or fragment)." example:"https://acme.crm.example.com"`
	TimeZone           string   `json:"time_zone,omitempty" maxLength:"64" doc:"IANA time zone the environment's local times are in. Default America/Sao_Paulo." example:"America/Sao_Paulo"`
	CallConnectEnabled bool     `json:"call_connect_enabled,omitempty" doc:"The support switch (rule 4): Call Connect may only be configured and activated while it is true. Absent means false."`
	WidgetOrigins      []string `json:"widget_origins,omitempty" maxItems:"20" doc:"The web origins (scheme://host[:port], no path) whose pages may embed <call-connect-button> and call the API with its widget tokens: CORS preflights are answered for them alone, never with *. Absent means none." example:"[\"https://crm.example.com\"]"`
}

// Environment is a customer environment (tenant).
type Environment struct {
	ID                 string   `json:"id" example:"acme"`
	Name               string   `json:"name" example:"Acme Imóveis"`
	PublicBaseURL      string   `json:"public_base_url" example:"https://acme.crm.example.com"`
	TimeZone           string   `json:"time_zone" example:"America/Sao_Paulo"`
	CallConnectEnabled bool     `json:"call_connect_enabled"`
	WidgetOrigins      []string `json:"widget_origins" nullable:"false" doc:"The origins allowed to embed <call-connect-button>, as browsers send them in Origin." example:"[\"https://crm.example.com\"]"`
}

type putEnvironmentInput struct {
	EnvPath
	Body EnvironmentSettings
}

type getEnvironmentInput struct {
	EnvPath
}

type environmentOutput struct {
	Body Environment
}

func environmentOf(e domain.Environment) Environment {
	return Environment{ID: e.ID(), Name: e.Name(), PublicBaseURL: e.PublicBaseURL(), TimeZone: e.TimeZone().String(),
		CallConnectEnabled: e.CallConnectEnabled(), WidgetOrigins: e.WidgetOrigins()}
}

func (h *handlers) registerEnvironments(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "putEnvironment",
		Method:      http.MethodPut,
		Path:        "/v1/environments/{env}",
		Summary:     "Create or replace an environment",
		Description: "Creates the environment or replaces all its settings; optional fields left out become empty " +
			"(call_connect_enabled false, time_zone America/Sao_Paulo). Idempotent.",
		Tags:   []string{tagEnvironments},
		Errors: []int{http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *putEnvironmentInput) (*environmentOutput, error) {
		env, err := h.svc.Configuration.PutEnvironment(ctx, domain.EnvironmentInput{
			ID: in.Env, Name: in.Body.Name, PublicBaseURL: in.Body.PublicBaseURL, TimeZone: in.Body.TimeZone,
			CallConnectEnabled: in.Body.CallConnectEnabled, WidgetOrigins: in.Body.WidgetOrigins,
		})
		if err != nil {
			return nil, err
		}
		return &environmentOutput{Body: environmentOf(env)}, nil
	})

	register(api, h, huma.Operation{
		OperationID: "getEnvironment",
		Method:      http.MethodGet,
		Path:        "/v1/environments/{env}",
		Summary:     "Read an environment",
		Description: "Returns the environment's settings.",
		Tags:        []string{tagEnvironments},
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *getEnvironmentInput) (*environmentOutput, error) {
		env, err := h.svc.Configuration.GetEnvironment(ctx, in.Env)
		if err != nil {
			return nil, err
		}
		return &environmentOutput{Body: environmentOf(env)}, nil
	})
}
