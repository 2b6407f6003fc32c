package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"callconnect/adapters/postgres/pgtest"
	"callconnect/ports"
)

// TestDeleteIdempotencyKeysBeforeSparesAReplacedAnswer: the clean-up picks
// an expired answer while a callback is replacing it with a fresh one under
// the same key. The DELETE waits for the callback's transaction and, once
// it commits, finds the row no longer expired: the fresh answer stays.
func TestDeleteIdempotencyKeysBeforeSparesAReplacedAnswer(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	s := newStore(t, pool, testKey)
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	cutoff := now.Add(-ports.IdempotencyRetention)
	old := ports.IdempotentAnswer{Scope: "env-a/lead", Key: "k", RequestHash: "h1", StatusCode: 200, Body: []byte("old"), CreatedAt: cutoff.Add(-time.Hour)}
	fresh := ports.IdempotentAnswer{Scope: "env-a/lead", Key: "k", RequestHash: "h2", StatusCode: 201, Body: []byte("fresh"), CreatedAt: now}
	if err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutIdempotentAnswer(ctx, old) }); err != nil {
		t.Fatal(err)
	}

	replaced, commit, callbackDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	release := sync.OnceFunc(func() { close(commit) })
	defer release() // a failing test lets the callback's transaction end
	go func() {
		callbackDone <- s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			if err := r.PutIdempotentAnswer(ctx, fresh); err != nil {
				return err
			}
			close(replaced)
			<-commit
			return nil
		})
	}()
	select {
	case <-replaced:
	case err := <-callbackDone:
		t.Fatalf("the callback's transaction: %v", err)
	}
	type result struct {
		n   int64
		err error
	}
	deleted := make(chan result, 1)
	go func() {
		n, err := s.DeleteIdempotencyKeysBefore(t.Context(), cutoff, 10)
		deleted <- result{n, err}
	}()
	// The DELETE must be waiting for the callback's row lock before the
	// callback commits, or the test proves nothing.
	for waiting := 0; waiting == 0; {
		err := pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%DELETE FROM idempotency_keys%'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-deleted:
			t.Fatalf("DeleteIdempotencyKeysBefore did not wait for the callback's transaction: %d, %v", r.n, r.err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	release()
	if err := <-callbackDone; err != nil {
		t.Fatalf("the callback's transaction: %v", err)
	}
	if r := <-deleted; r.err != nil || r.n != 0 {
		t.Errorf("DeleteIdempotencyKeysBefore: %d, %v; want 0 deleted", r.n, r.err)
	}
	var got ports.IdempotentAnswer
	err := s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) (err error) {
		got, err = r.GetIdempotentAnswer(ctx, "env-a/lead", "k")
		return err
	})
	if err != nil || got.RequestHash != "h2" || string(got.Body) != "fresh" {
		t.Errorf("after the clean-up: %+v, %v; want the fresh answer", got, err)
	}
}
