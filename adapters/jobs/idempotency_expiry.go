package jobs

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"callconnect/app"
)

// ExpireIdempotencyKeysInterval is how often the expired Idempotency-Key
// answers are deleted: an answer outlives its 24 hours by at most this.
const ExpireIdempotencyKeysInterval = time.Hour

// ExpireIdempotencyKeysArgs is the periodic job that deletes the
// Idempotency-Key answers past their retention.
type ExpireIdempotencyKeysArgs struct{}

// Kind names the job in river_job.kind.
func (ExpireIdempotencyKeysArgs) Kind() string { return "expire_idempotency_keys" }

// InsertOpts puts the job on the maintenance queue, without retries: the
// next run does the same work.
func (ExpireIdempotencyKeysArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 1}
}

// ExpireIdempotencyKeysPeriodicJob runs the expiry every
// ExpireIdempotencyKeysInterval, and once as the client becomes leader.
// River inserts periodic jobs on the elected leader only, so it runs once
// per interval however many processes run the jobs module.
func ExpireIdempotencyKeysPeriodicJob() *river.PeriodicJob {
	return maintenanceJob(ExpireIdempotencyKeysArgs{}, ExpireIdempotencyKeysInterval)
}

// IdempotencyExpiryMetrics count the expiry's work:
//
//	callconnect_idempotency_expiry_runs_total{result}   runs, by result: ok, cut_short or failed
//	callconnect_idempotency_keys_deleted_total          answers deleted
//
// A run is cut_short when the job's time ran out (or the client stopped)
// before the expired answers did: the next run goes on with the rest. Runs
// cut short hour after hour mean a backlog larger than a run's time allows.
type IdempotencyExpiryMetrics struct{ batchRunMetrics }

// NewIdempotencyExpiryMetrics registers the metrics on reg (sharing them
// when registered twice).
func NewIdempotencyExpiryMetrics(reg prometheus.Registerer) (*IdempotencyExpiryMetrics, error) {
	m, err := newBatchRunMetrics(reg, prometheus.CounterOpts{
		Name: "callconnect_idempotency_expiry_runs_total",
		Help: "Runs of the job that deletes expired Idempotency-Key answers, by result (ok, cut_short, failed).",
	}, prometheus.CounterOpts{
		Name: "callconnect_idempotency_keys_deleted_total",
		Help: "Expired Idempotency-Key answers deleted.",
	})
	if err != nil {
		return nil, err
	}
	return &IdempotencyExpiryMetrics{m}, nil
}

// ExpireIdempotencyKeysWorker runs app.IdempotencyKeyExpiry.
//
// Its runs are bounded by the client's JobTimeout; each batch is a
// statement of its own, so what a run cut short deleted stays deleted.
type ExpireIdempotencyKeysWorker struct {
	river.WorkerDefaults[ExpireIdempotencyKeysArgs]
	expiry  *app.IdempotencyKeyExpiry
	metrics *IdempotencyExpiryMetrics
}

// NewExpireIdempotencyKeysWorker returns the worker; metrics may be nil.
// The expiry logs what it did.
func NewExpireIdempotencyKeysWorker(expiry *app.IdempotencyKeyExpiry, metrics *IdempotencyExpiryMetrics) *ExpireIdempotencyKeysWorker {
	return &ExpireIdempotencyKeysWorker{expiry: expiry, metrics: metrics}
}

// Work runs the expiry once. A run cut short is no failure: it returns nil,
// and the next run goes on.
func (w *ExpireIdempotencyKeysWorker) Work(ctx context.Context, _ *river.Job[ExpireIdempotencyKeysArgs]) error {
	run, err := w.expiry.Run(ctx)
	var m *batchRunMetrics
	if w.metrics != nil {
		m = &w.metrics.batchRunMetrics
	}
	return recordBatchRun(m, int64(run.Deleted), run.CutShort, err)
}
