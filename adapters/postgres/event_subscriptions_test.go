package postgres_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/domain"
	"callconnect/ports"
	"callconnect/ports/portstest"
)

// runsEnqueuer schedules event delivery runs as rows of test_event_runs,
// in the caller's transaction.
type runsEnqueuer struct{ tableEnqueuer }

func (runsEnqueuer) EnqueueEventDeliveries(ctx context.Context, tx pgx.Tx, envID, subscriptionID string) error {
	_, err := tx.Exec(ctx, `INSERT INTO test_event_runs (env_id, subscription_id) VALUES ($1, $2)`, envID, subscriptionID)
	return err
}

func newRunsEnqueuer(t *testing.T, pool *pgxpool.Pool) runsEnqueuer {
	t.Helper()
	if _, err := pool.Exec(t.Context(), `CREATE TABLE test_event_runs (env_id text NOT NULL, subscription_id text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return runsEnqueuer{newTableEnqueuer(t, pool)}
}

func TestEventSubscriptionsContract(t *testing.T) {
	t.Parallel()
	portstest.RunEventSubscriptions(t, func(t *testing.T) portstest.EventSubscriptionsHarness {
		pool := pgtest.NewPool(t)
		store := newStore(t, pool, testKey, postgres.WithEnqueuer(newRunsEnqueuer(t, pool)))
		t.Cleanup(store.Close)
		return portstest.EventSubscriptionsHarness{Store: store, Events: store, Retention: store,
			Runs: func(envID, id string) int {
				var n int
				err := pool.QueryRow(t.Context(), `SELECT count(*) FROM test_event_runs WHERE env_id = $1 AND subscription_id = $2`, envID, id).Scan(&n)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}}
	})
}

// The signing secrets of a subscription are sealed at rest, bound to
// their row: the table holds no secret in clear, and sealed secrets copied
// to another subscription do not open there.
func TestSubscriptionSecretsSealed(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	store := newStore(t, pool, testKey, postgres.WithEnqueuer(newRunsEnqueuer(t, pool)))
	const secret = "whsec_c2VhbGVkIHN1YnNjcmlwdGlvbiBzZWNyZXQ="
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "acme", Name: "Acme", PublicBaseURL: "https://acme.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var subs []domain.EventSubscription
	for _, id := range []string{"a", "b"} {
		s, err := domain.NewEventSubscription("acme", id, domain.EventSubscriptionInput{URL: "https://crm.example.com/" + id, Types: []string{"*"}},
			domain.URLPolicy{}, secret, time.Date(2026, 3, 20, 9, 30, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	err = store.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutEnvironment(ctx, env); err != nil {
			return err
		}
		for _, s := range subs {
			if err := r.PutEventSubscription(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := pool.QueryRow(t.Context(), `SELECT signing_secrets FROM event_subscriptions WHERE id = 'a'`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("c2VhbGVk")) || bytes.Contains(sealed, []byte("whsec_")) {
		t.Error("the stored signing secrets hold the secret in clear")
	}
	if _, err := pool.Exec(t.Context(), `UPDATE event_subscriptions SET signing_secrets = $1 WHERE id = 'b'`, sealed); err != nil {
		t.Fatal(err)
	}
	err = store.Read(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		_, err := r.GetEventSubscription(ctx, "acme", "b")
		return err
	})
	if err == nil {
		t.Error("secrets sealed for subscription a opened as b's")
	}
}
