package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"callconnect/domain"
)

// PartnerTokenRequest is the body of POST /v1/environments/{env}/partner-tokens.
type PartnerTokenRequest struct {
	Email       string `json:"email" maxLength:"254" doc:"The partner's e-mail: it sends it in the email header with every callback." example:"integracao@parceiro.example.com"`
	Description string `json:"description,omitempty" maxLength:"200" doc:"What the token is for, for people." example:"Parceiro de telefonia, produção"`
}

// PartnerToken is a token partners authenticate callbacks with, without its secret.
type PartnerToken struct {
	ID          string     `json:"id" doc:"The token's id (also the part after cct_ of the token)." example:"01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"`
	Email       string     `json:"email" example:"integracao@parceiro.example.com"`
	Description string     `json:"description"`
	CreatedAt   time.Time  `json:"created_at"`
	RevokedAt   *time.Time `json:"revoked_at" doc:"When the token was revoked; null while it is active."`
}

// NewPartnerToken is a token as created: the only time its secret is shown.
type NewPartnerToken struct {
	PartnerToken
	Token string `json:"token" doc:"The token to send in the token header. Shown only now: only its hash is kept." example:"cct_01JDQ4T5Z8M6V9W3X2Y1Z0A7BC_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"`
}

// PartnerTokenList is the environment's tokens, newest first.
type PartnerTokenList struct {
	Items []PartnerToken `json:"items" nullable:"false"`
}

type createPartnerTokenInput struct {
	EnvPath
	Body PartnerTokenRequest
}

type createPartnerTokenOutput struct {
	Body NewPartnerToken
}

type listPartnerTokensInput struct {
	EnvPath
}

type listPartnerTokensOutput struct {
	Body PartnerTokenList
}

type revokePartnerTokenInput struct {
	EnvPath
	TokenID string `path:"token_id" pattern:"^[A-Za-z0-9-]{1,32}$" maxLength:"32" doc:"The token's id." example:"01JDQ4T5Z8M6V9W3X2Y1Z0A7BC"`
}

type partnerTokenOutput struct {
	Body PartnerToken
}

func partnerTokenOf(t domain.PartnerToken) PartnerToken {
	return PartnerToken{ID: t.ID(), Email: t.Email(), Description: t.Description(), CreatedAt: t.CreatedAt(), RevokedAt: t.RevokedAt()}
}

func (h *handlers) registerPartnerTokens(api huma.API) {
	register(api, h, huma.Operation{
		OperationID:   "createPartnerToken",
		Method:        http.MethodPost,
		Path:          "/v1/environments/{env}/partner-tokens",
		DefaultStatus: http.StatusCreated,
		Summary:       "Issue a partner token",
		Description: "Issues a token for the partner at `email`: the partner sends both, as the `email` and `token` headers, " +
			"with every callback to /api/cvio, and the token says which environment the callback is for. The token (256 " +
			"random bits) is in this answer only; Call Connect keeps its hash.",
		Tags:   []string{tagPartnerTokens},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *createPartnerTokenInput) (*createPartnerTokenOutput, error) {
		t, plain, err := h.svc.PartnerTokens.Create(ctx, in.Env, in.Body.Email, in.Body.Description)
		if err != nil {
			return nil, err
		}
		return &createPartnerTokenOutput{Body: NewPartnerToken{PartnerToken: partnerTokenOf(t), Token: plain}}, nil
	})

	register(api, h, huma.Operation{
		OperationID: "listPartnerTokens",
		Method:      http.MethodGet,
		Path:        "/v1/environments/{env}/partner-tokens",
		Summary:     "List partner tokens",
		Description: "Returns the environment's partner tokens, newest first, revoked ones included, without their secrets.",
		Tags:        []string{tagPartnerTokens},
		Errors:      []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *listPartnerTokensInput) (*listPartnerTokensOutput, error) {
		ts, err := h.svc.PartnerTokens.List(ctx, in.Env)
		if err != nil {
			return nil, err
		}
		out := &listPartnerTokensOutput{Body: PartnerTokenList{Items: make([]PartnerToken, 0, len(ts))}}
		for _, t := range ts {
			out.Body.Items = append(out.Body.Items, partnerTokenOf(t))
		}
		return out, nil
	})

	register(api, h, huma.Operation{
		OperationID: "revokePartnerToken",
		Method:      http.MethodDelete,
		Path:        "/v1/environments/{env}/partner-tokens/{token_id}",
		Summary:     "Revoke a partner token",
		Description: "Revokes the token: callbacks sent with it get 401 from now on. Answers the revoked token; revoking " +
			"again is harmless and keeps the first revocation time. An unknown token is 404 `partner_token_not_found`.",
		Tags:   []string{tagPartnerTokens},
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *revokePartnerTokenInput) (*partnerTokenOutput, error) {
		t, err := h.svc.PartnerTokens.Revoke(ctx, in.Env, in.TokenID)
		if err != nil {
			return nil, err
		}
		return &partnerTokenOutput{Body: partnerTokenOf(t)}, nil
	})
}
