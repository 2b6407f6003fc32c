package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"callconnect/adapters/postgres/pgtest"
	"callconnect/ports"
)

func TestDeleteIdempotencyKeysBefore(t *testing.T) {
	t.Parallel()
	s := newStore(t, pgtest.NewPool(t), testKey)
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		for key, at := range map[string]time.Time{"old": t0.Add(-25 * time.Hour), "edge": t0.Add(-24 * time.Hour), "new": t0} {
			a := ports.IdempotentAnswer{Scope: "env-a/lead", Key: key, RequestHash: "h", StatusCode: 200, CreatedAt: at}
			if err := r.PutIdempotentAnswer(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteIdempotencyKeysBefore(t.Context(), t0.Add(-ports.IdempotencyRetention))
	if err != nil || n != 1 {
		t.Fatalf("DeleteIdempotencyKeysBefore: %d, %v; want 1 deleted", n, err)
	}
	for key, want := range map[string]error{"old": ports.ErrNotFound, "edge": nil, "new": nil} {
		err := s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			_, err := r.GetIdempotentAnswer(ctx, "env-a/lead", key)
			return err
		})
		if !errors.Is(err, want) {
			t.Errorf("GetIdempotentAnswer(%s) after the clean-up: %v, want %v", key, err, want)
		}
	}
}
