package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/domain"
	"callconnect/ports"
)

// tableEnqueuer stands in for the job queue in the contract suite: like
// River's InsertTx, it writes the delivery through the caller's transaction,
// into a table of the test database, so that the delivery commits or rolls
// back with the call on a real PostgreSQL.
type tableEnqueuer struct{}

func newTableEnqueuer(t *testing.T, pool *pgxpool.Pool) tableEnqueuer {
	t.Helper()
	_, err := pool.Exec(t.Context(), `CREATE TABLE test_deliveries (
		seq          bigserial PRIMARY KEY,
		env_id       text NOT NULL,
		call_id      text NOT NULL,
		trace_parent text NOT NULL,
		not_before   timestamptz,
		held         boolean NOT NULL DEFAULT false
	)`)
	if err != nil {
		t.Fatalf("creating test_deliveries: %v", err)
	}
	return tableEnqueuer{}
}

func (tableEnqueuer) EnqueueDelivery(ctx context.Context, tx pgx.Tx, d ports.Delivery) error {
	var notBefore *time.Time
	if !d.NotBefore.IsZero() {
		notBefore = &d.NotBefore
	}
	_, err := tx.Exec(ctx, `INSERT INTO test_deliveries (env_id, call_id, trace_parent, not_before, held) VALUES ($1, $2, $3, $4, $5)`,
		d.EnvID, d.CallID, d.TraceParent, notBefore, notBefore != nil)
	return err
}

// ReleaseDelivery drops the held delivery, or makes it one to take, due at
// retryAt, as the River enqueuer does with its job.
func (tableEnqueuer) ReleaseDelivery(ctx context.Context, tx pgx.Tx, d ports.Delivery, retryAt time.Time) error {
	if retryAt.IsZero() {
		_, err := tx.Exec(ctx, `DELETE FROM test_deliveries WHERE env_id = $1 AND call_id = $2 AND not_before = $3 AND held`,
			d.EnvID, d.CallID, d.NotBefore)
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE test_deliveries SET held = false, not_before = $4
		WHERE env_id = $1 AND call_id = $2 AND not_before = $3 AND held`, d.EnvID, d.CallID, d.NotBefore, retryAt)
	return err
}

// takeDeliveries deletes and returns the committed deliveries, in the order
// they were enqueued. It runs on a connection of its own, so it neither sees
// nor waits for the deliveries of transactions in progress.
func takeDeliveries(t *testing.T, pool *pgxpool.Pool) []ports.Delivery {
	t.Helper()
	rows, err := pool.Query(t.Context(), `WITH taken AS (DELETE FROM test_deliveries WHERE NOT held RETURNING *)
		SELECT env_id, call_id, trace_parent, not_before FROM taken ORDER BY seq`)
	if err != nil {
		t.Fatalf("taking deliveries: %v", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ports.Delivery, error) {
		var d ports.Delivery
		var notBefore *time.Time
		err := row.Scan(&d.EnvID, &d.CallID, &d.TraceParent, &notBefore)
		if notBefore != nil {
			d.NotBefore = notBefore.UTC()
		}
		return d, err
	})
	if err != nil {
		t.Fatalf("taking deliveries: %v", err)
	}
	return out
}

// storedExchanges reads the exchanges table directly (the monitor's reading
// port does not exist yet), which also checks the columns as the monitor and
// a later partitioning migration will see them.
func storedExchanges(t *testing.T, pool *pgxpool.Pool, envID string) []domain.Exchange {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT id, env_id, direction, method, url, status_code, duration_ms,
		coalesce(call_id, ''), coalesce(lead_id, ''), occurred_at, request_headers,
		coalesce(request_body, ''), coalesce(response_body, ''), coalesce(error, '')
		FROM exchanges WHERE env_id = $1 ORDER BY occurred_at, id`, envID)
	if err != nil {
		t.Fatalf("reading exchanges: %v", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Exchange, error) {
		var e domain.Exchange
		var ms int64
		err := row.Scan(&e.ID, &e.EnvID, &e.Direction, &e.Method, &e.URL, &e.StatusCode, &ms,
			&e.CallID, &e.LeadID, &e.OccurredAt, &e.RequestHeaders, &e.RequestBody, &e.ResponseBody, &e.Error)
		e.Duration = time.Duration(ms) * time.Millisecond
		return e, err
	})
	if err != nil {
		t.Fatalf("reading exchanges: %v", err)
	}
	return out
}

func TestEnqueueDeliveryWithoutEnqueuer(t *testing.T) {
	t.Parallel()
	s := newStore(t, pgtest.NewPool(t), testKey)
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "env-1", Name: "Env", PublicBaseURL: "https://crm.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutEnvironment(ctx, env); err != nil {
			return err
		}
		return r.EnqueueDelivery(ctx, ports.Delivery{EnvID: "env-1", CallID: "c1"})
	})
	if !errors.Is(err, postgres.ErrNoEnqueuer) {
		t.Fatalf("EnqueueDelivery without an Enqueuer: got %v, want ErrNoEnqueuer", err)
	}
	t.Logf("the error reads: %v", err)
}

// failingEnqueuer fails as a queue whose table is missing would.
type failingEnqueuer struct{}

func (failingEnqueuer) EnqueueDelivery(ctx context.Context, tx pgx.Tx, _ ports.Delivery) error {
	_, err := tx.Exec(ctx, `INSERT INTO no_such_queue DEFAULT VALUES`)
	return err
}

// An Enqueuer that fails fails the unit of work: nothing of it lands.
func TestEnqueuerFailureRollsBack(t *testing.T) {
	t.Parallel()
	s := newStore(t, pgtest.NewPool(t), testKey, postgres.WithEnqueuer(failingEnqueuer{}))
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "env-1", Name: "Env", PublicBaseURL: "https://crm.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	call := domain.RestoreCall("env-1", "c1", "l1", "u1", domain.CallQueued, "", time.Now(), time.Now().Add(time.Minute), []byte(`{}`), nil)
	err = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutEnvironment(ctx, env); err != nil {
			return err
		}
		if err := r.PutCall(ctx, call); err != nil {
			return err
		}
		return r.EnqueueDelivery(ctx, ports.Delivery{EnvID: "env-1", CallID: "c1"})
	})
	if err == nil {
		t.Fatal("Tx with a failing Enqueuer succeeded")
	}
	err = s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		_, err := r.GetEnvironment(ctx, "env-1")
		return err
	})
	if !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("GetEnvironment after the failed Tx: got %v, want not found", err)
	}
}
