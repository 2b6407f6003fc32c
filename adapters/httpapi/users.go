package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"callconnect/domain"
)

// UserPath names a user of an environment.
type UserPath struct {
	EnvPath
	UserID string `path:"user_id" pattern:"^[A-Za-z0-9._~-]{1,64}$" maxLength:"64" doc:"User id, chosen by the CRM." example:"6065"`
}

// UserSettings is the body of PUT /v1/environments/{env}/users/{user_id}.
type UserSettings struct {
	Name                  string `json:"name" maxLength:"200" doc:"Display name." example:"Corretor de teste"`
	Role                  string `json:"role" enum:"manager,broker,agency,agency_user" doc:"manager (gestor), broker (corretor), agency (imobiliária) or agency_user (a user of an agency, acting for it)." example:"broker"`
	Phone                 string `json:"phone,omitempty" maxLength:"40" doc:"Phone number: digits with an optional leading +, spaces, dots, dashes or parentheses (8 to 15 digits). Absent: no phone." example:"+55 (48) 99947-6359"`
	Extension             string `json:"extension,omitempty" maxLength:"10" doc:"PBX extension (ramal), 1 to 10 digits. Absent: none." example:"1234"`
	AgencyID              string `json:"agency_id,omitempty" pattern:"^[A-Za-z0-9._~-]{0,64}$" doc:"The agency an agency_user belongs to (required for agency_user; an agency is its own agency)." example:"1"`
	CanManageIntegrations bool   `json:"can_manage_integrations,omitempty" doc:"The integration-management permission (rule 4). Absent means false."`
}

// User is a person (or agency) of an environment who may press the call button.
type User struct {
	ID                    string `json:"id" example:"6065"`
	Name                  string `json:"name" example:"Corretor de teste"`
	Role                  string `json:"role" enum:"manager,broker,agency,agency_user" example:"broker"`
	Phone                 string `json:"phone" doc:"Digits only; empty when none." example:"5548999476359"`
	Extension             string `json:"extension" doc:"Empty when none." example:"1234"`
	AgencyID              string `json:"agency_id" doc:"Empty unless the user is an agency or belongs to one."`
	CanManageIntegrations bool   `json:"can_manage_integrations"`
}

type putUserInput struct {
	UserPath
	Body UserSettings
}

type getUserInput struct {
	UserPath
}

type userOutput struct {
	Body User
}

func userOf(u domain.User) User {
	return User{ID: u.ID(), Name: u.Name(), Role: string(u.Role()), Phone: u.Phone().String(), Extension: u.Extension().String(),
		AgencyID: u.AgencyID(), CanManageIntegrations: u.CanManageIntegrations()}
}

func (h *handlers) registerUsers(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "putUser",
		Method:      http.MethodPut,
		Path:        "/v1/environments/{env}/users/{user_id}",
		Summary:     "Create or replace a user",
		Description: "Creates the user or replaces all its fields; optional fields left out become empty " +
			"(a PUT without phone leaves the user without a phone). Idempotent. The environment must exist.",
		Tags:   []string{tagUsers},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *putUserInput) (*userOutput, error) {
		u, err := h.svc.Configuration.PutUser(ctx, domain.UserInput{
			EnvID: in.Env, ID: in.UserID, Name: in.Body.Name, Role: in.Body.Role, Phone: in.Body.Phone,
			Extension: in.Body.Extension, AgencyID: in.Body.AgencyID, CanManageIntegrations: in.Body.CanManageIntegrations,
		})
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: userOf(u)}, nil
	})

	register(api, h, huma.Operation{
		OperationID: "getUser",
		Method:      http.MethodGet,
		Path:        "/v1/environments/{env}/users/{user_id}",
		Summary:     "Read a user",
		Description: "Returns the user as stored (phone normalised to digits).",
		Tags:        []string{tagUsers},
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *getUserInput) (*userOutput, error) {
		u, err := h.svc.Configuration.GetUser(ctx, in.Env, in.UserID)
		if err != nil {
			return nil, err
		}
		return &userOutput{Body: userOf(u)}, nil
	})
}
