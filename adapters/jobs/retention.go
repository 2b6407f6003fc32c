package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"callconnect/app"
)

// MonitorRetentionInterval is how often the monitor's retention runs. Days
// are readied a week ahead and dropped a day at a time, so hourly is ample;
// a run that found nothing to do costs a few catalog queries.
const MonitorRetentionInterval = time.Hour

// MonitorRetentionArgs is the periodic job that readies the monitor's days
// ahead and drops those past the retention.
type MonitorRetentionArgs struct{}

// Kind names the job in river_job.kind.
func (MonitorRetentionArgs) Kind() string { return "monitor_retention" }

// InsertOpts puts the job on the maintenance queue, without retries: the
// next run does the same work.
func (MonitorRetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 1}
}

// MonitorRetentionPeriodicJob runs the retention every
// MonitorRetentionInterval, and once as the client becomes leader. River
// inserts periodic jobs on the elected leader only, so it runs once per
// interval however many processes run the jobs module; the maintenance
// queue works one job at a time.
func MonitorRetentionPeriodicJob() *river.PeriodicJob {
	return maintenanceJob(MonitorRetentionArgs{}, MonitorRetentionInterval)
}

// RetentionMetrics count the retention's work:
//
//	callconnect_monitor_retention_runs_total{result}   runs, by result: ok or failed
//	callconnect_monitor_partitions_dropped_total       days (partitions) dropped
//	callconnect_events_deleted_total                   events of the feed deleted with them
type RetentionMetrics struct {
	runs          *prometheus.CounterVec
	dropped       prometheus.Counter
	eventsDeleted prometheus.Counter
}

// NewRetentionMetrics registers the metrics on reg (sharing them when
// registered twice).
func NewRetentionMetrics(reg prometheus.Registerer) (*RetentionMetrics, error) {
	m := &RetentionMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "callconnect_monitor_retention_runs_total",
			Help: "Runs of the integration monitor's retention job, by result (ok, failed).",
		}, []string{"result"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callconnect_monitor_partitions_dropped_total",
			Help: "Days of exchanges (partitions) the integration monitor's retention dropped.",
		}),
		eventsDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "callconnect_events_deleted_total",
			Help: "Events of the environments' feeds deleted by the retention, kept as long as the monitor's exchanges.",
		}),
	}
	var err error
	if m.runs, err = registerOnce(reg, m.runs); err != nil {
		return nil, err
	}
	if m.dropped, err = registerOnce(reg, m.dropped); err != nil {
		return nil, err
	}
	if m.eventsDeleted, err = registerOnce(reg, m.eventsDeleted); err != nil {
		return nil, err
	}
	m.runs.WithLabelValues("ok")
	m.runs.WithLabelValues("failed")
	return m, nil
}

// MonitorRetentionWorker runs app.MonitorRetention and, when given one
// (WithEvents), the app.EventRetention of the event feeds, which keep as
// long as the monitor.
type MonitorRetentionWorker struct {
	river.WorkerDefaults[MonitorRetentionArgs]
	retention *app.MonitorRetention
	events    *app.EventRetention // nil: the feeds are someone else's
	metrics   *RetentionMetrics
	logger    *slog.Logger
}

// NewMonitorRetentionWorker returns the worker; metrics and logger may be nil.
func NewMonitorRetentionWorker(retention *app.MonitorRetention, metrics *RetentionMetrics, logger *slog.Logger) *MonitorRetentionWorker {
	return &MonitorRetentionWorker{retention: retention, metrics: metrics, logger: orDiscard(logger)}
}

// WithEvents makes the worker age the event feeds out too, after the
// monitor's exchanges, in the same run.
func (w *MonitorRetentionWorker) WithEvents(events *app.EventRetention) *MonitorRetentionWorker {
	w.events = events
	return w
}

// Work runs the retention once: the monitor's, then the feeds'. The feeds'
// runs even when the monitor's failed; a feeds' run cut short by the job's
// time is no failure (the next run goes on).
func (w *MonitorRetentionWorker) Work(ctx context.Context, _ *river.Job[MonitorRetentionArgs]) error {
	run, err := w.retention.Run(ctx)
	if w.events != nil {
		evRun, evErr := w.events.Run(ctx)
		if w.metrics != nil {
			w.metrics.eventsDeleted.Add(float64(evRun.Deleted))
		}
		if !evRun.CutShort {
			err = errors.Join(err, evErr)
		}
	}
	if w.metrics != nil {
		w.metrics.dropped.Add(float64(len(run.Dropped)))
		result := "ok"
		if err != nil {
			result = "failed"
		}
		w.metrics.runs.WithLabelValues(result).Inc()
	}
	return err
}
