// Package outbox holds the contract between the PostgreSQL store
// (adapters/postgres) and the job queue (adapters/jobs, River), which lives
// in the same database: the store hands the queue the jobs a unit of work
// schedules, and the queue inserts them through the store's transaction, so
// that a job commits or rolls back with the rows it belongs to. It is a leaf
// that both adapters share; neither imports the other.
package outbox

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"callconnect/ports"
)

// Enqueuer schedules call deliveries in the caller's transaction: a
// delivery inserted through tx commits or rolls back with the call it
// belongs to.
type Enqueuer interface {
	EnqueueDelivery(ctx context.Context, tx pgx.Tx, d ports.Delivery) error
}

// Releaser is an Enqueuer that also ends direct deliveries (see
// ports.Delivery.NotBefore): it drops d's held job, or makes it due at
// retryAt, through tx.
type Releaser interface {
	ReleaseDelivery(ctx context.Context, tx pgx.Tx, d ports.Delivery, retryAt time.Time) error
}

// EventEnqueuer schedules runs of a subscription's deliveries in the
// caller's transaction (ports.EventSubscriptions.EnqueueEventDeliveries).
type EventEnqueuer interface {
	EnqueueEventDeliveries(ctx context.Context, tx pgx.Tx, envID, subscriptionID string) error
}
