package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/domain"
	"callconnect/ports"
)

// TestNoResultMigrationKnowsWhenCallsWereDelivered: the calls delivered
// before delivered_at existed get it from their attempts (the end of the
// last one the partner answered 2xx), or, lacking one, from when the row
// was last written; calls in other statuses get none; and no_result is
// then a status the table takes.
func TestNoResultMigrationKnowsWhenCallsWereDelivered(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool := pgtest.NewEmptyPool(t)
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { db.Close() })
	p := provider(t, db)
	if _, err := p.UpTo(ctx, 8); err != nil {
		t.Fatalf("up to 8: %v", err)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO environments (id, name, public_base_url, time_zone) VALUES ('env-1', 'Env', 'https://crm.example.com', 'America/Sao_Paulo')`)
	written := time.Date(2026, 3, 19, 17, 0, 0, 0, time.UTC)
	insert := func(id, status, attempts string) {
		t.Helper()
		exec(`INSERT INTO calls (env_id, id, lead_id, user_id, status, clicked_at, deadline, payload, attempts, updated_at)
			VALUES ('env-1', $1, 'l1', 'u1', $2, '2026-03-19T14:00:00Z', '2026-03-19T14:02:00Z', '\x7b7d', $3::jsonb, $4)`,
			id, status, attempts, written)
	}
	// A 503, then the 202 that delivered it; a redelivered call whose
	// second 2xx is the one that counts; one without any attempt kept.
	insert("retried", "delivered", `[{"at":"2026-03-19T14:00:01.5Z","status_code":503,"duration_ms":120},
		{"at":"2026-03-19T14:00:03.25Z","status_code":202,"duration_ms":1500}]`)
	insert("redelivered", "delivered", `[{"at":"2026-03-19T14:00:01Z","status_code":200,"duration_ms":10},
		{"at":"2026-03-19T15:00:00Z","status_code":204,"duration_ms":20}]`)
	insert("bare", "delivered", `[]`)
	insert("done", "completed", `[{"at":"2026-03-19T14:00:01Z","status_code":200,"duration_ms":10}]`)
	insert("waiting", "queued", `[]`)

	if _, err := p.UpTo(ctx, 9); err != nil {
		t.Fatalf("up to 9: %v", err)
	}
	want := map[string]*time.Time{
		"retried":     new(time.Date(2026, 3, 19, 14, 0, 4, 750_000_000, time.UTC)),
		"redelivered": new(time.Date(2026, 3, 19, 15, 0, 0, 20_000_000, time.UTC)),
		"bare":        &written,
		"done":        nil,
		"waiting":     nil,
	}
	for id, w := range want {
		var got *time.Time
		if err := pool.QueryRow(ctx, `SELECT delivered_at FROM calls WHERE env_id = 'env-1' AND id = $1`, id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		switch {
		case w == nil && got != nil:
			t.Errorf("%s: delivered_at %s, want none", id, got.UTC())
		case w != nil && (got == nil || !got.Equal(*w)):
			t.Errorf("%s: delivered_at %v, want %s", id, got, w)
		}
	}

	// The store reads the backfilled time, and the call can now be marked.
	store, err := postgres.NewStore(pool, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	err = store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		calls, err := r.LockCallsAwaitingResult(ctx, written, 10)
		if err != nil {
			return err
		}
		if len(calls) != 3 || calls[0].ID() != "retried" || calls[1].ID() != "redelivered" || calls[2].ID() != "bare" {
			t.Fatalf("calls awaiting a result after the migration: %v", calls)
		}
		for _, c := range calls {
			if err := c.MarkNoResult(written.Add(2*time.Hour), 2*time.Hour); err != nil {
				return err
			}
			if err := r.PutCall(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM calls WHERE status = 'no_result'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("no_result calls: %d (%v), want 3", n, err)
	}

	// Down again, they wait for their result as before.
	if _, err := p.DownTo(ctx, 8); err != nil {
		t.Fatalf("down to 8: %v", err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM calls WHERE status = 'delivered'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("delivered calls after down: %d (%v), want 3", n, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE calls SET status = 'no_result' WHERE id = 'bare'`); err == nil {
		t.Error("no_result accepted after the migration was undone")
	}
}

// TestLockCallsAwaitingResultDoesNotWait: a call held by a transaction
// recording its result is skipped at once, not waited for, so the job
// never queues behind partners' callbacks.
func TestLockCallsAwaitingResultDoesNotWait(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	store, err := postgres.NewStore(pgtest.NewPool(t), make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "env-1", Name: "Env", PublicBaseURL: "https://crm.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	accepted := time.Date(2026, 3, 19, 14, 0, 0, 0, time.UTC)
	call := func(id string) domain.Call {
		return domain.RestoreCall("env-1", id, "l1", "u1", domain.CallDelivered, "", accepted, accepted.Add(time.Minute), []byte(`{}`), nil).
			WithDeliveredAt(accepted)
	}
	err = store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutEnvironment(ctx, env); err != nil {
			return err
		}
		if err := r.PutCall(ctx, call("held")); err != nil {
			return err
		}
		return r.PutCall(ctx, call("free"))
	})
	if err != nil {
		t.Fatal(err)
	}
	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
			if _, err := r.LockCall(ctx, "env-1", "held"); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	var ids []string
	err = store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		calls, err := r.LockCallsAwaitingResult(ctx, accepted, 10)
		for _, c := range calls {
			ids = append(ids, c.ID())
		}
		return err
	})
	close(release)
	if err != nil {
		t.Fatalf("LockCallsAwaitingResult while a call is held (it must not wait for it): %v", err)
	}
	if len(ids) != 1 || ids[0] != "free" {
		t.Errorf("calls taken while one was held: %q, want [free]", ids)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
