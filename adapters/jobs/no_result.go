package jobs

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"callconnect/app"
)

// MarkNoResultInterval is how often the calls past their result deadline
// are marked no_result: a call's row says so at most about this long after
// its deadline (readers see no_result at once regardless).
const MarkNoResultInterval = time.Minute

// MarkNoResultArgs is the periodic job that marks no_result the delivered
// calls whose result deadline has passed.
type MarkNoResultArgs struct{}

// Kind names the job in river_job.kind.
func (MarkNoResultArgs) Kind() string { return "mark_no_result" }

// InsertOpts puts the job on the maintenance queue, without retries: the
// next run, a minute later, does the same work.
func (MarkNoResultArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 1}
}

// MarkNoResultPeriodicJob runs the marking every MarkNoResultInterval, and
// once as the client becomes leader. River inserts periodic jobs on the
// elected leader only, so it runs once per interval however many processes
// run the jobs module.
func MarkNoResultPeriodicJob() *river.PeriodicJob {
	return maintenanceJob(MarkNoResultArgs{}, MarkNoResultInterval)
}

// NoResultMetrics count the marking's work:
//
//	callconnect_no_result_runs_total{result}   runs, by result: ok, cut_short or failed
//	callconnect_calls_no_result_total          calls marked no_result
//
// The second is the rate at which partners leave calls without a result:
// a jump says a partner stopped reporting.
type NoResultMetrics struct{ batchRunMetrics }

// NewNoResultMetrics registers the metrics on reg (sharing them when
// registered twice).
func NewNoResultMetrics(reg prometheus.Registerer) (*NoResultMetrics, error) {
	m, err := newBatchRunMetrics(reg, prometheus.CounterOpts{
		Name: "callconnect_no_result_runs_total",
		Help: "Runs of the job that marks no_result the calls past their result deadline, by result (ok, cut_short, failed).",
	}, prometheus.CounterOpts{
		Name: "callconnect_calls_no_result_total",
		Help: "Calls marked no_result: the partner accepted them but reported no result within the result deadline.",
	})
	if err != nil {
		return nil, err
	}
	return &NoResultMetrics{m}, nil
}

// MarkNoResultWorker runs app.NoResultMarker.
//
// Its runs are bounded by the client's JobTimeout; each batch is a
// transaction of its own, so what a run cut short marked stays marked.
type MarkNoResultWorker struct {
	river.WorkerDefaults[MarkNoResultArgs]
	marker  *app.NoResultMarker
	metrics *NoResultMetrics
}

// NewMarkNoResultWorker returns the worker; metrics may be nil. The marker
// logs what it did.
func NewMarkNoResultWorker(marker *app.NoResultMarker, metrics *NoResultMetrics) *MarkNoResultWorker {
	return &MarkNoResultWorker{marker: marker, metrics: metrics}
}

// Work runs the marking once. A run cut short is no failure: it returns
// nil, and the next run goes on.
func (w *MarkNoResultWorker) Work(ctx context.Context, _ *river.Job[MarkNoResultArgs]) error {
	run, err := w.marker.Run(ctx)
	var m *batchRunMetrics
	if w.metrics != nil {
		m = &w.metrics.batchRunMetrics
	}
	return recordBatchRun(m, int64(run.Marked), run.CutShort, err)
}
