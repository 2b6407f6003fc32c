package jobs

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"callconnect/adapters/postgres"
	"callconnect/ports"
)

// Enqueuer inserts delivery jobs in the caller's transaction (the outbox):
// the job commits or rolls back with the call. It implements
// postgres.Enqueuer, which the store calls from ports.Calls.EnqueueDelivery.
type Enqueuer struct {
	client *river.Client[pgx.Tx]
}

var _ postgres.Enqueuer = (*Enqueuer)(nil)

// insertNotifyCooldown is how often, at most, this process wakes the
// workers of the deliveries queue with a NOTIFY on insert. River reuses
// FetchCooldown for it, default 100 ms: a job inserted within that time of
// the previous notification would wait for the workers' next poll. At the
// minimum of 1 ms almost every insert notifies, which PostgreSQL sends at
// commit.
const insertNotifyCooldown = river.FetchCooldownMin

// NewEnqueuer returns an Enqueuer on an insert-only River client: it works
// no jobs and runs no maintenance, so a process may enqueue whether or not it
// also runs workers. logger receives River's own logs; none when nil.
func NewEnqueuer(pool *pgxpool.Pool, logger *slog.Logger) (*Enqueuer, error) {
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		FetchCooldown: insertNotifyCooldown,
		Logger:        orDiscard(logger),
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: insert-only River client: %w", err)
	}
	return &Enqueuer{client: client}, nil
}

// EnqueueDelivery inserts the delivery job through tx.
func (e *Enqueuer) EnqueueDelivery(ctx context.Context, tx pgx.Tx, d ports.Delivery) error {
	args := DeliverCallArgs{EnvID: d.EnvID, CallID: d.CallID, TraceParent: d.TraceParent}
	opts := args.InsertOpts()
	if _, err := e.client.InsertTx(ctx, tx, args, &opts); err != nil {
		return fmt.Errorf("jobs: inserting the delivery job: %w", err)
	}
	return nil
}

func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}
