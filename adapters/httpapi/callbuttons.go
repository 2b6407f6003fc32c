package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"callconnect/app"
	"callconnect/domain"
)

// ButtonReason is why a call button is hidden or disabled; null when it is
// enabled (an empty reason never travels: clients test for null).
type ButtonReason string

// MarshalJSON writes null for "no reason".
func (r ButtonReason) MarshalJSON() ([]byte, error) {
	if r == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(r))
}

// buttonReasons are the values of ButtonReason, in the order rule 5 tests them.
var buttonReasons = []domain.ButtonReason{domain.ReasonNotOwner, domain.ReasonIntegrationInactive,
	domain.ReasonMissingPhone, domain.ReasonMissingExtension, app.ReasonLeadNotFound}

// Schema documents ButtonReason as a nullable enum.
func (ButtonReason) Schema(huma.Registry) *huma.Schema {
	enum := make([]any, 0, len(buttonReasons)+1)
	for _, r := range buttonReasons {
		enum = append(enum, string(r))
	}
	enum = append(enum, nil)
	return &huma.Schema{
		Type:     huma.TypeString,
		Nullable: true,
		Enum:     enum,
		Description: "null when the button is enabled; otherwise the first rule that fails, in this order: " +
			"not_owner (the user is not an owner: hidden, or shown disabled to a manager), integration_inactive " +
			"(no active Call Connect integration), missing_phone (dial mode phone, user without phone), " +
			"missing_extension (dial mode extension, user without extension). In a batch, lead_not_found marks a lead " +
			"that does not exist (hidden).",
	}
}

// CallButton is the decision for one (lead, user) pair.
type CallButton struct {
	Visible bool         `json:"visible" doc:"Whether the button is shown."`
	Enabled bool         `json:"enabled" doc:"Whether pressing it places a call."`
	Reason  ButtonReason `json:"reason"`
}

// LeadCallButton is one decision of a batch.
type LeadCallButton struct {
	LeadID  string       `json:"lead_id" example:"1"`
	Visible bool         `json:"visible"`
	Enabled bool         `json:"enabled"`
	Reason  ButtonReason `json:"reason"`
}

// CallButtonsRequest is the body of POST /v1/environments/{env}/call-buttons.
type CallButtonsRequest struct {
	UserID  string   `json:"user_id" pattern:"^[A-Za-z0-9._~-]{1,64}$" doc:"The user looking at the leads." example:"6065"`
	LeadIDs []string `json:"lead_ids" maxItems:"500" nullable:"false" doc:"Up to 500 lead ids; more is refused with 422 too_many_leads." example:"[\"1\",\"2\"]"`
}

// CallButtons is one decision per asked lead, in the order asked.
type CallButtons struct {
	Buttons []LeadCallButton `json:"buttons" nullable:"false"`
}

type getCallButtonInput struct {
	LeadPath
	UserID string `query:"user_id" required:"true" pattern:"^[A-Za-z0-9._~-]{1,64}$" doc:"The user looking at the lead." example:"6065"`
}

type callButtonOutput struct {
	Body CallButton
}

type postCallButtonsInput struct {
	EnvPath
	Body CallButtonsRequest
}

type callButtonsOutput struct {
	Body CallButtons
}

func (h *handlers) registerCallButtons(api huma.API) {
	register(api, h, huma.Operation{
		OperationID: "getCallButton",
		Method:      http.MethodGet,
		Path:        "/v1/environments/{env}/leads/{lead_id}/call-button",
		Summary:     "Decide the call button for a lead and a user",
		Description: "Whether the call button (Ligar) is shown and enabled for the user on the lead, and why not (rule 5).",
		Tags:        []string{tagCallButtons},
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *getCallButtonInput) (*callButtonOutput, error) {
		b, err := h.svc.CallButtons.Decide(ctx, in.Env, in.LeadID, in.UserID)
		if err != nil {
			return nil, err
		}
		return &callButtonOutput{Body: CallButton{Visible: b.Visible, Enabled: b.Enabled, Reason: ButtonReason(b.Reason)}}, nil
	})

	register(api, h, huma.Operation{
		OperationID: "decideCallButtons",
		Method:      http.MethodPost,
		Path:        "/v1/environments/{env}/call-buttons",
		Summary:     "Decide the call buttons of many leads",
		Description: "One decision per lead for one user, in the order asked, computed with a fixed number of database " +
			"round trips however many leads are asked (up to 500). A lead that does not exist gets a hidden button " +
			"with reason lead_not_found.",
		Tags:   []string{tagCallButtons},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
		Metadata: map[string]any{
			metaMaxItemsCodes: map[string]string{"body.lead_ids": domain.CodeTooManyLeads},
		},
	}, func(ctx context.Context, in *postCallButtonsInput) (*callButtonsOutput, error) {
		decisions, err := h.svc.CallButtons.DecideMany(ctx, in.Env, in.Body.UserID, in.Body.LeadIDs)
		if err != nil {
			return nil, err
		}
		out := &callButtonsOutput{Body: CallButtons{Buttons: make([]LeadCallButton, 0, len(decisions))}}
		for _, d := range decisions {
			out.Body.Buttons = append(out.Body.Buttons, LeadCallButton{LeadID: d.LeadID, Visible: d.Visible, Enabled: d.Enabled,
				Reason: ButtonReason(d.Reason)})
		}
		return out, nil
	})
}
