package postgres

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"callconnect/adapters/postgres/gen"
	"callconnect/domain"
)

// PutPartnerToken inserts the token or replaces it (a revocation) in its
// environment. An id that another environment's token holds is refused: ids
// are global, since a token is looked up before its environment is known.
func (r *repositories) PutPartnerToken(ctx context.Context, t domain.PartnerToken) error {
	hash := t.Hash()
	params := gen.PutPartnerTokenParams{
		ID:          t.ID(),
		EnvID:       t.EnvID(),
		Email:       t.Email(),
		Description: optional(t.Description()),
		SecretHash:  hash[:],
		CreatedAt:   t.CreatedAt(),
		RevokedAt:   t.RevokedAt(),
	}
	var n int64
	err := r.write(ctx, func(q *gen.Queries) (err error) {
		n, err = q.PutPartnerToken(ctx, params)
		return err
	})
	if err != nil {
		return writeError(err, t.EnvID(), "partner token")
	}
	if n == 0 {
		return fmt.Errorf("postgres: partner token id %q is taken by another environment's token", t.ID())
	}
	return nil
}

func (r *repositories) GetPartnerToken(ctx context.Context, id string) (domain.PartnerToken, error) {
	row, err := r.q.GetPartnerToken(ctx, id)
	if err != nil {
		return domain.PartnerToken{}, notFound(err, fmt.Sprintf("partner token %q", id))
	}
	return partnerTokenFromRow(row)
}

func (r *repositories) ListPartnerTokens(ctx context.Context, envID string) ([]domain.PartnerToken, error) {
	rows, err := r.q.ListPartnerTokens(ctx, envID)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the partner tokens of environment %q: %w", envID, err)
	}
	out := make([]domain.PartnerToken, 0, len(rows))
	for _, row := range rows {
		t, err := partnerTokenFromRow(row)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func partnerTokenFromRow(row gen.PartnerToken) (domain.PartnerToken, error) {
	var hash [sha256.Size]byte
	if len(row.SecretHash) != len(hash) {
		return domain.PartnerToken{}, fmt.Errorf("postgres: stored partner token %q: secret hash of %d bytes", row.ID, len(row.SecretHash))
	}
	copy(hash[:], row.SecretHash)
	return domain.RestorePartnerToken(row.EnvID, row.ID, row.Email, deref(row.Description), hash,
		row.CreatedAt.UTC(), utc(row.RevokedAt)), nil
}

// utc returns a copy of *t in UTC (pgx answers in time.Local), or nil.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
