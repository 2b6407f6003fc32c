package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
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

var testKey = bytes.Repeat([]byte{0x42}, postgres.SecretsKeySize)

func newStore(t testing.TB, pool *pgxpool.Pool, key []byte, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.NewStore(pool, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreContract(t *testing.T) {
	t.Parallel()
	portstest.RunStore(t, func(t *testing.T) portstest.Harness {
		pool := pgtest.NewPool(t)
		store := newStore(t, pool, testKey, postgres.WithEnqueuer(newTableEnqueuer(t, pool)))
		return portstest.Harness{
			Store:          store,
			Retention:      store,
			Expiry:         store,
			TakeDeliveries: func() []ports.Delivery { return takeDeliveries(t, pool) },
			Exchanges:      func(envID string) []domain.Exchange { return storedExchanges(t, pool, envID) },
			LockWaiters:    lockWaiters(t, pool),
		}
	})
}

// lockWaiters returns a count of the statements of pool's database waiting
// for a lock (a row's, a transaction's, an advisory one), read through a
// pool of its own: the waiters may hold every connection of pool.
func lockWaiters(t *testing.T, pool *pgxpool.Pool) func() int {
	t.Helper()
	cfg := pool.Config().Copy()
	cfg.MaxConns, cfg.MinConns = 1, 0
	own, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(own.Close)
	return func() int {
		var n int
		if err := own.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Error(err)
		}
		return n
	}
}

func TestNewStoreRejectsBadKeys(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	for _, key := range [][]byte{nil, make([]byte, 16), make([]byte, 31), make([]byte, 33)} {
		if _, err := postgres.NewStore(pool, key); err == nil {
			t.Errorf("NewStore with a %d-byte key succeeded", len(key))
		}
	}
}

const plainSecret = "whsec_c2VjcmV0LXRoYXQtbXVzdC1ub3QtbGVhaw=="

// putCallConnect stores an environment and its call-connect integration.
func putCallConnect(t *testing.T, s ports.Store, envID string) domain.Integration {
	t.Helper()
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: envID, Name: "Env", PublicBaseURL: "https://crm.example.com", CallConnectEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	i, err := domain.NewIntegration(envID, domain.ProviderCallConnect,
		domain.IntegrationSettings{PartnerURL: "https://partner.example.com/calls", DialMode: "phone"}, domain.URLPolicy{}, plainSecret)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutEnvironment(ctx, env); err != nil {
			return err
		}
		return r.PutIntegration(ctx, i)
	})
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func listIntegrations(t *testing.T, s ports.Store, envID string) ([]domain.Integration, error) {
	t.Helper()
	var list []domain.Integration
	err := s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) (err error) {
		list, err = r.ListIntegrations(ctx, envID)
		return err
	})
	return list, err
}

func TestSigningSecretsAreSealedAtRest(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	s := newStore(t, pool, testKey)
	putCallConnect(t, s, "env-1")

	var stored []byte
	if err := pool.QueryRow(t.Context(), `SELECT signing_secrets FROM telephony_integrations WHERE env_id = 'env-1'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	secretKey := plainSecret[len("whsec_"):]
	for _, leak := range []string{plainSecret, secretKey, "whsec_"} {
		if bytes.Contains(stored, []byte(leak)) {
			t.Errorf("the stored signing_secrets contain %q in clear: %q", leak, stored)
		}
	}

	// The secret can still sign: it comes back intact under the right key.
	list, err := listIntegrations(t, s, "env-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || len(list[0].Secrets()) != 1 || list[0].Secrets()[0].Value != plainSecret {
		t.Fatalf("ListIntegrations: got %+v, want the call-connect integration with its secret", list)
	}

	// Sealing twice gives different bytes (a fresh nonce each time).
	putCallConnect(t, s, "env-1")
	var again []byte
	if err := pool.QueryRow(t.Context(), `SELECT signing_secrets FROM telephony_integrations WHERE env_id = 'env-1'`).Scan(&again); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(stored, again) {
		t.Error("the same secrets sealed twice gave the same bytes: the nonce is not fresh")
	}
}

func TestSigningSecretsWrongKey(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	putCallConnect(t, newStore(t, pool, testKey), "env-1")

	otherKey := bytes.Repeat([]byte{0x17}, postgres.SecretsKeySize)
	_, err := listIntegrations(t, newStore(t, pool, otherKey), "env-1")
	if !errors.Is(err, postgres.ErrSealedSecrets) {
		t.Fatalf("ListIntegrations under another key: want ErrSealedSecrets, got %v", err)
	}
	t.Logf("the error reads: %v", err)
}

func TestSigningSecretsAreBoundToTheirRow(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	s := newStore(t, pool, testKey)
	putCallConnect(t, s, "env-1")
	putCallConnect(t, s, "env-2")
	// Someone with write access to the database copies env-1's sealed secrets to env-2.
	_, err := pool.Exec(t.Context(), `UPDATE telephony_integrations SET signing_secrets =
		(SELECT signing_secrets FROM telephony_integrations WHERE env_id = 'env-1') WHERE env_id = 'env-2'`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := listIntegrations(t, s, "env-2"); !errors.Is(err, postgres.ErrSealedSecrets) {
		t.Fatalf("secrets moved to another row: want ErrSealedSecrets, got %v", err)
	}
	if _, err := listIntegrations(t, s, "env-1"); err != nil {
		t.Fatalf("the original row: %v", err)
	}
}

// queryCounter counts the round trips a pool makes: one per statement sent
// alone, one per pipeline (batch).
type queryCounter struct{ n atomic.Int64 }

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *queryCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *queryCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *queryCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// countingStore is a store on a fresh database whose round trips counter counts.
func countingStore(t *testing.T) (*postgres.Store, *queryCounter) {
	t.Helper()
	cfg := pgtest.NewPool(t).Config()
	counter := &queryCounter{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return newStore(t, pool, testKey), counter
}

func TestGetLeadsIsOneQuery(t *testing.T) {
	t.Parallel()
	s, counter := countingStore(t)

	env, _ := domain.NewEnvironment(domain.EnvironmentInput{ID: "env-1", Name: "Env", PublicBaseURL: "https://crm.example.com"})
	var ids []string
	err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutEnvironment(ctx, env); err != nil {
			return err
		}
		for n := range 500 {
			id := "lead-" + string(rune('a'+n%26)) + string(rune('a'+n/26))
			ids = append(ids, id)
			l, err := domain.NewLead(domain.LeadInput{EnvID: "env-1", ID: id, Name: "Lead " + id, Phone: "4899947" + "6359"})
			if err != nil {
				return err
			}
			if err := r.PutLead(ctx, l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []domain.Lead
	before := counter.n.Load()
	err = s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) (err error) {
		got, err = r.GetLeads(ctx, "env-1", ids)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 500 {
		t.Fatalf("GetLeads: got %d leads, want 500", len(got))
	}
	// BEGIN with the SELECT, then COMMIT.
	if n := counter.n.Load() - before; n != 2 {
		t.Errorf("Read with one GetLeads of 500 ids made %d round trips, want 2 (begin and select, commit)", n)
	}
}

// TestHotWritesCostNoRoundTrip: a transaction that locks a call, records an
// exchange and puts the call (a delivery's outcome) makes two round trips,
// BEGIN going with the lock and the writes with COMMIT (the day's first
// exchange in a process makes one more, looking for the day's partition,
// once); and a queued write
// that fails still fails the transaction, with its own error, and lands
// nothing.
func TestHotWritesCostNoRoundTrip(t *testing.T) {
	t.Parallel()
	s, counter := countingStore(t)
	putCallConnect(t, s, "env-1")
	call := domain.RestoreCall("env-1", "c1", "l1", "u1", domain.CallDelivering, "", time.Now(), time.Now().Add(time.Minute), []byte(`{}`), nil)
	if err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutCall(ctx, call) }); err != nil {
		t.Fatal(err)
	}
	exchanges := 0
	outcome := func(exchangeEnv string) error {
		exchanges++
		return s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error {
			c, err := r.LockCall(ctx, "env-1", "c1")
			if err != nil {
				return err
			}
			ex := domain.Exchange{ID: fmt.Sprintf("x%d", exchanges), EnvID: exchangeEnv, Direction: domain.Outbound, Method: "POST",
				URL: "https://partner.example.com/calls", StatusCode: 200, CallID: "c1", OccurredAt: time.Now()}
			if err := r.RecordExchange(ctx, ex); err != nil {
				return err
			}
			done := domain.RestoreCall(c.EnvID(), c.ID(), c.LeadID(), c.UserID(), domain.CallDelivered, "", c.ClickedAt(), c.Deadline(), c.Payload(), nil)
			return r.PutCall(ctx, done)
		})
	}
	for n, want := range []int64{3, 2, 2} { // the first looks for the day's partition; it also prepares the statements
		before := counter.n.Load()
		if err := outcome("env-1"); err != nil {
			t.Fatal(err)
		}
		if got := counter.n.Load() - before; got != want {
			t.Errorf("outcome %d: lock, record an exchange, put the call: %d round trips, want %d", n, got, want)
		}
	}

	// An exchange of an environment that does not exist is refused at
	// COMMIT (its environment is looked up as it is written): the error
	// names it, and the call is untouched.
	if err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutCall(ctx, call) }); err != nil {
		t.Fatal(err)
	}
	if err := outcome("env-missing"); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("an exchange of a missing environment: got %v, want ports.ErrNotFound", err)
	}
	var got domain.Call
	if err := s.Read(t.Context(), func(ctx context.Context, r ports.Repositories) (err error) {
		got, err = r.GetCall(ctx, "env-1", "c1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got.Status() != domain.CallDelivering {
		t.Errorf("after the refused transaction the call is %s, want it still delivering", got.Status())
	}
	// The connection went back to the pool usable.
	if err := outcome("env-1"); err != nil {
		t.Fatalf("after a refused transaction: %v", err)
	}
}
