package app

import (
	"context"
	"errors"
	"fmt"

	"callconnect/domain"
	"callconnect/ports"
)

// PartnerTokens issues, lists and revokes the tokens partners post callbacks
// with, and authenticates them.
type PartnerTokens struct {
	store  unitOfWork[partnerTokenRepos]
	clock  ports.Clock
	random ports.Random
}

// partnerTokenRepos is what managing partner tokens reads and writes.
type partnerTokenRepos interface {
	GetEnvironment(ctx context.Context, id string) (domain.Environment, error)
	ports.PartnerTokens
}

// NewPartnerTokens builds the service.
func NewPartnerTokens(store ports.Store, clock ports.Clock, random ports.Random) *PartnerTokens {
	return &PartnerTokens{store: narrow(store, func(r ports.Repositories) partnerTokenRepos { return r }), clock: clock, random: random}
}

// partnerSecretBytes is the entropy behind a token (256 bits).
const partnerSecretBytes = 32

// Create issues a token for email; the plaintext is returned only now.
func (s *PartnerTokens) Create(ctx context.Context, envID, email, description string) (domain.PartnerToken, string, error) {
	var (
		tok   domain.PartnerToken
		plain string
	)
	err := s.store.Tx(ctx, func(ctx context.Context, r partnerTokenRepos) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		var err error
		tok, plain, err = domain.NewPartnerToken(envID, s.random.NewID(), email, description, s.random.Bytes(partnerSecretBytes), s.clock.Now())
		if err != nil {
			return err
		}
		return r.PutPartnerToken(ctx, tok)
	})
	return tok, plain, err
}

// List returns the environment's tokens, newest first, without secrets.
func (s *PartnerTokens) List(ctx context.Context, envID string) ([]domain.PartnerToken, error) {
	var out []domain.PartnerToken
	err := s.store.Read(ctx, func(ctx context.Context, r partnerTokenRepos) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		var err error
		out, err = r.ListPartnerTokens(ctx, envID)
		return err
	})
	return out, err
}

// Revoke ends a token: callbacks with it get 401 from now on. Revoking twice
// keeps the first time.
func (s *PartnerTokens) Revoke(ctx context.Context, envID, tokenID string) (domain.PartnerToken, error) {
	var tok domain.PartnerToken
	err := s.store.Tx(ctx, func(ctx context.Context, r partnerTokenRepos) error {
		if _, err := r.GetEnvironment(ctx, envID); err != nil {
			return envNotFound(err, envID)
		}
		var err error
		tok, err = r.GetPartnerToken(ctx, tokenID)
		if errors.Is(err, ports.ErrNotFound) || err == nil && tok.EnvID() != envID {
			return domain.NotFound(CodePartnerTokenNotFound, "token_id", fmt.Sprintf("partner token %q not found", tokenID))
		} else if err != nil {
			return err
		}
		tok.Revoke(s.clock.Now())
		return r.PutPartnerToken(ctx, tok)
	})
	return tok, err
}

// CodePartnerTokenNotFound: no such token in the environment.
const CodePartnerTokenNotFound = "partner_token_not_found"

// CodeUnauthorized: the partner's email and token do not authenticate.
const CodeUnauthorized = "unauthorized"

// Authenticate checks a partner's email and token headers and returns the
// token, whose environment the request then acts in. Any failure (missing,
// malformed, unknown, revoked, wrong email or secret) is the same
// unauthorized error, so nothing tells a guesser which part was wrong.
func (s *PartnerTokens) Authenticate(ctx context.Context, email, token string) (domain.PartnerToken, error) {
	unauthorized := &domain.Error{Kind: domain.KindUnauthenticated, Code: CodeUnauthorized, Field: "token",
		Message: "the email and token headers do not match an active partner token"}
	id, secret, ok := domain.ParsePartnerTokenString(token)
	if !ok || email == "" {
		return domain.PartnerToken{}, unauthorized
	}
	var tok domain.PartnerToken
	err := s.store.Read(ctx, func(ctx context.Context, r partnerTokenRepos) error {
		var err error
		tok, err = r.GetPartnerToken(ctx, id)
		return err
	})
	if errors.Is(err, ports.ErrNotFound) {
		// Spend the comparison anyway, so an unknown id costs what a wrong secret does.
		domain.RestorePartnerToken("x", "x", "x@x", "", [32]byte{}, s.clock.Now(), nil).Matches(email, secret)
		return domain.PartnerToken{}, unauthorized
	}
	if err != nil {
		return domain.PartnerToken{}, err
	}
	if !tok.Matches(email, secret) {
		return domain.PartnerToken{}, unauthorized
	}
	return tok, nil
}

// EnvironmentOf names the environment of the token whose id a refused
// token string carries, so that the refusal is kept in that environment's
// monitor; "" when it names no token. It authenticates nothing: the id part
// of a token is not secret.
func (s *PartnerTokens) EnvironmentOf(ctx context.Context, token string) string {
	id, _, ok := domain.ParsePartnerTokenString(token)
	if !ok {
		return ""
	}
	var tok domain.PartnerToken
	err := s.store.Read(ctx, func(ctx context.Context, r partnerTokenRepos) error {
		var err error
		tok, err = r.GetPartnerToken(ctx, id)
		return err
	})
	if err != nil {
		return ""
	}
	return tok.EnvID()
}
