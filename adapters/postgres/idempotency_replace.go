package postgres

import (
	"context"
	"fmt"

	"callconnect/adapters/postgres/gen"
	"callconnect/ports"
)

// ReplaceIdempotentAnswer updates the row only if it still holds old; no
// row affected is ports.ErrIdempotencyConflict.
func (r *repositories) ReplaceIdempotentAnswer(ctx context.Context, old, a ports.IdempotentAnswer) error {
	if err := checkIdempotentAnswer(a); err != nil {
		return err
	}
	if old.Scope != a.Scope || old.Key != a.Key {
		return fmt.Errorf("postgres: replacing the answer to idempotency key %q of %q with one of key %q of %q",
			old.Key, old.Scope, a.Key, a.Scope)
	}
	body := a.Body
	if body == nil {
		body = []byte{} // pgx sends a nil slice as NULL
	}
	params := gen.ReplaceIdempotentAnswerParams{
		RequestHash: a.RequestHash, StatusCode: int32(a.StatusCode), Body: body, CreatedAt: a.CreatedAt,
		Scope: a.Scope, Key: a.Key,
		OldRequestHash: old.RequestHash, OldStatusCode: int32(old.StatusCode), OldCreatedAt: old.CreatedAt,
	}
	var n int64
	err := r.write(ctx, func(q *gen.Queries) (err error) {
		n, err = q.ReplaceIdempotentAnswer(ctx, params)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: replacing the answer to idempotency key %q of %q: %w", a.Key, a.Scope, err)
	}
	if n == 0 {
		return fmt.Errorf("idempotency key %q of %q no longer holds the answer replaced: %w", a.Key, a.Scope, ports.ErrIdempotencyConflict)
	}
	return nil
}

// DeleteIdempotentAnswer deletes the row only if it still holds a.
func (r *repositories) DeleteIdempotentAnswer(ctx context.Context, a ports.IdempotentAnswer) error {
	if err := checkIdempotentAnswer(a); err != nil {
		return err
	}
	err := r.write(ctx, func(q *gen.Queries) error {
		return q.DeleteIdempotentAnswer(ctx, gen.DeleteIdempotentAnswerParams{Scope: a.Scope, Key: a.Key,
			RequestHash: a.RequestHash, StatusCode: int32(a.StatusCode), CreatedAt: a.CreatedAt})
	})
	if err != nil {
		return fmt.Errorf("postgres: deleting the answer to idempotency key %q of %q: %w", a.Key, a.Scope, err)
	}
	return nil
}
