package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"callconnect/adapters/jobs"
	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// TestEveryCommittedJobWakesTheWorkers checks that pick-up never waits for a
// poll: with the poll an hour away, jobs inserted by transactions within
// River's own notify cooldown of each other (River's insert would notify for
// the first of them at most) are each picked up as their transaction
// commits, the second after the first was fetched; a rolled-back insert
// wakes nothing and leaves nothing.
func TestEveryCommittedJobWakesTheWorkers(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	pool := newPool(t, pgtest.NewPool(t), 0)
	picked := make(chan string, 4)
	worker := jobs.NewDeliverCallWorker(deliverFunc(func(_ context.Context, _, callID string) (app.DeliveryOutcome, error) {
		picked <- callID
		return app.DeliveryOutcome{Call: callIn(t, domain.CallDelivered, "")}, nil
	}), jobs.WorkerConfig{})
	workers, err := jobs.NewWorkers(worker)
	if err != nil {
		t.Fatal(err)
	}
	client, err := jobs.NewClient(pool, workers, jobs.WithPollInterval(jobs.Config{MaxWorkers: 4, Logger: testLogger(t)}, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Stop(context.Background()) })
	enq := jobs.NewEnqueuer()

	begin := func() pgx.Tx {
		t.Helper()
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	insert := func(tx pgx.Tx, callID string) {
		t.Helper()
		if err := enq.EnqueueDelivery(ctx, tx, ports.Delivery{EnvID: envID, CallID: callID}); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(callID string) {
		t.Helper()
		start := time.Now()
		select {
		case got := <-picked:
			if got != callID {
				t.Fatalf("picked %q, want %q", got, callID)
			}
			t.Logf("%s picked up %s after its commit", callID, time.Since(start).Round(time.Millisecond))
		case <-time.After(10 * time.Second):
			t.Fatalf("%s not picked up 10s after its commit: its notification did not wake the workers", callID)
		}
	}

	// A first insert, rolled back, warms the connections up.
	warmUp := begin()
	insert(warmUp, "warm-up")
	if err := warmUp.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// The three inserts, well within River's cooldown of 100 ms.
	first, second, rolledBack := begin(), begin(), begin()
	start := time.Now()
	insert(first, "first")
	insert(second, "second")
	insert(rolledBack, "rolled-back")
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Logf("the inserts took %s; River may have notified for more than the first", took)
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	expect("first")
	if err := rolledBack.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := second.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	expect("second")
	// A last job, committed after the rollback, is the next one picked up:
	// the rolled-back insert, had it left anything to work, came first.
	last := begin()
	insert(last, "last")
	if err := last.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	expect("last")
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("%d jobs, want the 3 committed", n)
	}
}

// TestClientStartsOnceRiversSchemaIsMigrated starts a client on a database
// nobody has migrated yet (serve --no-migrate): Start succeeds, and the
// client works the queue once the migrations have run.
func TestClientStartsOnceRiversSchemaIsMigrated(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	pool := newPool(t, pgtest.NewEmptyPool(t), 0)
	picked := make(chan string, 1)
	worker := jobs.NewDeliverCallWorker(deliverFunc(func(_ context.Context, _, callID string) (app.DeliveryOutcome, error) {
		picked <- callID
		return app.DeliveryOutcome{Call: callIn(t, domain.CallDelivered, "")}, nil
	}), jobs.WorkerConfig{})
	workers, err := jobs.NewWorkers(worker)
	if err != nil {
		t.Fatal(err)
	}
	client, err := jobs.NewClient(pool, workers, jobs.Config{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatalf("Start on an unmigrated database: %v", err)
	}
	t.Cleanup(func() { _ = client.Stop(context.Background()) })

	if err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	enq := jobs.NewEnqueuer()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := enq.EnqueueDelivery(ctx, tx, ports.Delivery{EnvID: envID, CallID: "after-migration"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-picked:
		if got != "after-migration" {
			t.Errorf("picked %q", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the job was not worked 20s after the migrations ran")
	}
}

// TestStopWhileWaitingForTheSchema stops a client that never saw River's
// schema: Stop returns promptly.
func TestStopWhileWaitingForTheSchema(t *testing.T) {
	t.Parallel()
	pool := newPool(t, pgtest.NewEmptyPool(t), 0)
	workers, err := jobs.NewWorkers(jobs.NewDeliverCallWorker(nil, jobs.WorkerConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	client, err := jobs.NewClient(pool, workers, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := client.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Stop took %s", took)
	}
}
