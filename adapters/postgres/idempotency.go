package postgres

import (
	"context"
	"fmt"
	"math"
	"time"

	"callconnect/adapters/postgres/gen"
	"callconnect/ports"
)

func (r *repositories) GetIdempotentAnswer(ctx context.Context, scope, key string) (ports.IdempotentAnswer, error) {
	row, err := r.q.GetIdempotentAnswer(ctx, gen.GetIdempotentAnswerParams{Scope: scope, Key: key})
	if err != nil {
		return ports.IdempotentAnswer{}, notFound(err, fmt.Sprintf("idempotency key %q of %q", key, scope))
	}
	return ports.IdempotentAnswer{Scope: row.Scope, Key: row.Key, RequestHash: row.RequestHash,
		StatusCode: int(row.StatusCode), Body: row.Body, CreatedAt: row.CreatedAt.UTC()}, nil
}

// PutIdempotentAnswer inserts the answer, or replaces an expired one; a kept
// answer under the key (committed by another transaction, which a concurrent
// first use waits for) makes it ports.ErrIdempotencyConflict.
func (r *repositories) PutIdempotentAnswer(ctx context.Context, a ports.IdempotentAnswer) error {
	if err := checkIdempotentAnswer(a); err != nil {
		return err
	}
	body := a.Body
	if body == nil {
		body = []byte{} // pgx sends a nil slice as NULL
	}
	params := gen.PutIdempotentAnswerParams{
		Scope:         a.Scope,
		Key:           a.Key,
		RequestHash:   a.RequestHash,
		StatusCode:    int32(a.StatusCode),
		Body:          body,
		CreatedAt:     a.CreatedAt,
		ExpiredBefore: a.CreatedAt.Add(-ports.IdempotencyRetention),
	}
	var n int64
	err := r.write(ctx, func(q *gen.Queries) (err error) {
		n, err = q.PutIdempotentAnswer(ctx, params)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: writing the answer to idempotency key %q of %q: %w", a.Key, a.Scope, err)
	}
	if n == 0 {
		return fmt.Errorf("idempotency key %q of %q: %w", a.Key, a.Scope, ports.ErrIdempotencyConflict)
	}
	return nil
}

// checkIdempotentAnswer refuses what the table's CHECKs would, before the
// status code is narrowed to int32.
func checkIdempotentAnswer(a ports.IdempotentAnswer) error {
	switch {
	case a.Scope == "" || a.Key == "":
		return fmt.Errorf("postgres: an idempotent answer needs a scope and a key, got %q and %q", a.Scope, a.Key)
	case a.StatusCode < 100 || a.StatusCode > 999:
		return fmt.Errorf("postgres: idempotency key %q: status code %d out of range", a.Key, a.StatusCode)
	case a.CreatedAt.IsZero():
		return fmt.Errorf("postgres: idempotency key %q: the answer has no time", a.Key)
	}
	return nil
}

var _ ports.IdempotencyExpiry = (*Store)(nil)

// DeleteIdempotencyKeysBefore deletes up to limit answers stored before
// cutoff, the oldest first, in one statement (its own transaction), and says
// how many.
func (s *Store) DeleteIdempotencyKeysBefore(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("postgres: deleting expired idempotency keys: the limit must be positive, got %d", limit)
	}
	n, err := gen.New(s.pool).DeleteIdempotencyKeysBefore(ctx, gen.DeleteIdempotencyKeysBeforeParams{
		Cutoff: cutoff, MaxRows: int32(min(limit, math.MaxInt32)),
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: deleting expired idempotency keys: %w", err)
	}
	return n, nil
}
