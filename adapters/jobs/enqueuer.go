package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"

	"callconnect/adapters/outbox"
	"callconnect/ports"
)

// Enqueuer inserts delivery jobs in the caller's transaction (the outbox):
// the job commits or rolls back with the call. It implements
// outbox.Enqueuer, which the store calls from ports.Calls.EnqueueDelivery,
// and outbox.Releaser, for ports.Calls.ReleaseDelivery. It writes through
// the caller's transaction only, so a process may enqueue whether or not it
// also runs workers.
type Enqueuer struct{}

var (
	_ outbox.Enqueuer = (*Enqueuer)(nil)
	_ outbox.Releaser = (*Enqueuer)(nil)
)

// NewEnqueuer returns the Enqueuer.
func NewEnqueuer() *Enqueuer { return &Enqueuer{} }

// EnqueueDelivery inserts the delivery job through tx and, unless the job
// is held (d.NotBefore), a notification that wakes the workers when tx
// commits. A held job is scheduled for d.NotBefore: River's scheduler makes
// it available then, unless ReleaseDelivery deleted it first.
//
// The PostgreSQL store's transaction sends both with its next statement or
// its COMMIT (ExecLater): River's InsertTx reads the inserted row back, which
// would cost the click a round trip of its own, so the row River's insert
// would write (insertSQL) is written here instead.
func (e *Enqueuer) EnqueueDelivery(ctx context.Context, tx pgx.Tx, d ports.Delivery) error {
	args, err := json.Marshal(DeliverCallArgs{EnvID: d.EnvID, CallID: d.CallID, TraceParent: d.TraceParent})
	if err != nil {
		return fmt.Errorf("jobs: encoding the delivery job: %w", err)
	}
	opts := DeliverCallArgs{}.InsertOpts()
	state, scheduledAt := rivertype.JobStateAvailable, (*time.Time)(nil)
	if !d.NotBefore.IsZero() {
		state, scheduledAt = rivertype.JobStateScheduled, &d.NotBefore
	}
	if err := execSoon(ctx, tx, insertSQL, args, DeliverCallArgs{}.Kind(), opts.MaxAttempts, opts.Queue, string(state), scheduledAt); err != nil {
		return fmt.Errorf("jobs: inserting the delivery job: %w", err)
	}
	if scheduledAt != nil {
		return nil // nothing to wake anyone for before NotBefore
	}
	if err := execSoon(ctx, tx, notifyInsertSQL, insertPayload(opts.Queue)); err != nil {
		return fmt.Errorf("jobs: notifying the workers: %w", err)
	}
	return nil
}

// ReleaseDelivery ends d's held job, through tx: with a zero retryAt it is
// deleted, never having run (the process that placed the call delivered
// it: the call and its exchange are the record); otherwise it becomes
// available at retryAt, as River makes a job a worker snoozed, and wakes
// the workers. A job that is not scheduled any more (River's scheduler made
// it available: its NotBefore passed) is left alone, for the worker that
// runs it. The job is found by its place in River's fetching index (state,
// queue, priority and scheduled_at, which is d.NotBefore), then its call.
func (e *Enqueuer) ReleaseDelivery(ctx context.Context, tx pgx.Tx, d ports.Delivery, retryAt time.Time) error {
	held, err := json.Marshal(map[string]string{"env_id": d.EnvID, "call_id": d.CallID})
	if err != nil {
		return fmt.Errorf("jobs: naming the delivery job: %w", err)
	}
	queue := DeliverCallArgs{}.InsertOpts().Queue
	args := []any{DeliverCallArgs{}.Kind(), queue, d.NotBefore, held}
	if retryAt.IsZero() {
		if err := execSoon(ctx, tx, deleteHeldSQL, args...); err != nil {
			return fmt.Errorf("jobs: deleting the held delivery job: %w", err)
		}
		return nil
	}
	if err := execSoon(ctx, tx, retryHeldSQL, append(args, retryAt)...); err != nil {
		return fmt.Errorf("jobs: making the held delivery job due: %w", err)
	}
	if err := execSoon(ctx, tx, notifyInsertSQL, insertPayload(queue)); err != nil {
		return fmt.Errorf("jobs: notifying the workers: %w", err)
	}
	return nil
}

// execSoon sends a statement whose answer nobody needs with the PostgreSQL
// store's next statement or COMMIT (ExecLater); any other transaction sends
// it now.
func execSoon(ctx context.Context, tx pgx.Tx, sql string, args ...any) error {
	if later, ok := tx.(execLater); ok {
		return later.ExecLater(sql, args...)
	}
	_, err := tx.Exec(ctx, sql, args...)
	return err
}

// insertSQL writes the row River's InsertTx writes for a delivery job
// (priority 1, no tags, no metadata, not unique), in River's schema as the
// migrations of this River version make it; TestEnqueuedJobIsRiversOwn
// compares the two. $6, when not NULL, schedules the job.
const insertSQL = `INSERT INTO river_job (args, kind, max_attempts, queue, state, scheduled_at, priority, metadata, tags)
VALUES ($1, $2, $3, $4, $5::river_job_state, coalesce($6, now()), 1, '{}', '{}')`

// heldJob finds a held delivery job: $1 its kind, $2 its queue, $3 its
// scheduled_at and $4 its call (a part of its args). Deleting, rather than
// completing, a job that never ran writes no new row version into River's
// five indexes (two of them GIN), and leaves River's cleaner nothing to
// delete an hour later.
const heldJob = `state = 'scheduled' AND queue = $2 AND priority = 1 AND scheduled_at = $3 AND kind = $1 AND args @> $4::jsonb`

const deleteHeldSQL = `DELETE FROM river_job WHERE ` + heldJob

// retryHeldSQL makes a held delivery job available at $5: River's fetch
// takes an available job once its scheduled_at has passed.
const retryHeldSQL = `UPDATE river_job SET state = 'available', scheduled_at = $5 WHERE ` + heldJob

// execLater is a transaction that can queue a statement to go with its
// next one or its COMMIT, in one round trip.
type execLater interface {
	ExecLater(sql string, args ...any) error
}

// Every job due now wakes the workers with the notification River's insert
// would send, when its transaction commits: PostgreSQL sends a notification
// at commit, drops it on rollback, and sends identical ones of one
// transaction once. (River's own insert rate-limits its notifications per
// process, checked at insert rather than commit, so that of two transactions
// inserting within 100 ms only the first would wake the workers and the
// second job would wait for their next poll.) The channel and payload are
// River's (the pgx driver's PGNotifyMany: "<schema>.river_insert",
// {"queue": …}); TestEveryCommittedJobWakesTheWorkers fails if a River
// upgrade changes them.
const notifyInsertSQL = `SELECT pg_notify(current_schema() || '.river_insert', $1)`

func insertPayload(queue string) string { return fmt.Sprintf(`{"queue": %q}`, queue) }

func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}
