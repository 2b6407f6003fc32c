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

// NewEnqueuer returns an Enqueuer on an insert-only River client: it works
// no jobs and runs no maintenance, so a process may enqueue whether or not it
// also runs workers. logger receives River's own logs; none when nil.
func NewEnqueuer(pool *pgxpool.Pool, logger *slog.Logger) (*Enqueuer, error) {
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: orDiscard(logger)})
	if err != nil {
		return nil, fmt.Errorf("jobs: insert-only River client: %w", err)
	}
	return &Enqueuer{client: client}, nil
}

// EnqueueDelivery inserts the delivery job through tx, and a notification
// that wakes the workers when tx commits.
func (e *Enqueuer) EnqueueDelivery(ctx context.Context, tx pgx.Tx, d ports.Delivery) error {
	args := DeliverCallArgs{EnvID: d.EnvID, CallID: d.CallID, TraceParent: d.TraceParent}
	opts := args.InsertOpts()
	if _, err := e.client.InsertTx(ctx, tx, args, &opts); err != nil {
		return fmt.Errorf("jobs: inserting the delivery job: %w", err)
	}
	// The PostgreSQL store's transaction sends the notification with its
	// COMMIT, saving a round trip; any other sends it now.
	if later, ok := tx.(execLater); ok {
		return later.ExecLater(notifyInsertSQL, insertPayload(opts.Queue))
	}
	if _, err := tx.Exec(ctx, notifyInsertSQL, insertPayload(opts.Queue)); err != nil {
		return fmt.Errorf("jobs: notifying the workers: %w", err)
	}
	return nil
}

// execLater is a transaction that can queue a statement to go with its
// next one or its COMMIT, in one round trip.
type execLater interface {
	ExecLater(sql string, args ...any) error
}

// Every delivery job wakes the workers itself, with the notification River's
// insert sends: River's own is rate-limited per process (FetchCooldown, 100 ms
// by default) and the limit is checked at insert, not at commit, so of two
// transactions inserting within that time only the first notifies, and if
// the workers fetch between the two commits the second job waits for their
// next poll (up to FetchPollInterval): the p99 of click-to-partner showed it.
// PostgreSQL sends a notification when the transaction commits, drops it when
// it rolls back, and sends identical ones of one transaction once, so River's
// own, when it fires, costs nothing more. The channel and payload are River's
// (the pgx driver's PGNotifyMany: "<schema>.river_insert", {"queue": …});
// TestEveryCommittedJobWakesTheWorkers fails if a River upgrade changes them.
const notifyInsertSQL = `SELECT pg_notify(current_schema() || '.river_insert', $1)`

func insertPayload(queue string) string { return fmt.Sprintf(`{"queue": %q}`, queue) }

func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}
