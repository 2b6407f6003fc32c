package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// The queue's metrics:
//
//	callconnect_jobs{kind,state}           jobs in the queue now, by kind and state: available
//	                                       (waiting for a worker), running, retryable (failed,
//	                                       waiting for their next attempt) and scheduled
//	callconnect_job_wait_seconds{kind}     how long a job waited, from when it was due to when a
//	                                       worker took it
//
// callconnect_jobs is read from river_job when /metrics is scraped, so every
// replica reports the whole queue (the same figures); the wait is observed
// by the replica that runs the job.

// queueStates are the states counted: the jobs not yet finished.
var queueStates = []string{"available", "running", "retryable", "scheduled"}

// queueKinds are the kinds reported even when none is queued, so that the
// series exist at zero.
var queueKinds = []string{
	DeliverCallArgs{}.Kind(), SweepRecordingsArgs{}.Kind(), MonitorRetentionArgs{}.Kind(),
	ExpireIdempotencyKeysArgs{}.Kind(), MarkNoResultArgs{}.Kind(),
}

// queueScrapeTimeout bounds the count, so that a slow database slows a
// scrape by no more than this.
const queueScrapeTimeout = 2 * time.Second

type queueCollector struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	jobs   *prometheus.Desc
}

// RegisterQueueMetrics registers callconnect_jobs, counted in pool's
// river_job when scraped, on reg. A count that fails is logged and leaves
// the series out of that scrape (rather than failing /metrics).
func RegisterQueueMetrics(reg prometheus.Registerer, pool *pgxpool.Pool, logger *slog.Logger) error {
	return reg.Register(&queueCollector{pool: pool, logger: orDiscard(logger),
		jobs: prometheus.NewDesc("callconnect_jobs",
			"Jobs in the queue, by kind and state (available, running, retryable, scheduled).",
			[]string{"kind", "state"}, nil)})
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.jobs }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queueScrapeTimeout)
	defer cancel()
	// The states lead river_job's fetch index, so this reads the unfinished
	// jobs only, however many finished ones the table keeps.
	rows, err := c.pool.Query(ctx, `SELECT kind, state::text, count(*) FROM river_job
		WHERE state IN ('available', 'running', 'retryable', 'scheduled') GROUP BY kind, state`)
	if err != nil {
		c.logger.WarnContext(ctx, "metrics: counting the queue's jobs failed", "error", err)
		return
	}
	type key struct{ kind, state string }
	counts := map[key]int64{}
	for rows.Next() {
		var k key
		var n int64
		if err := rows.Scan(&k.kind, &k.state, &n); err != nil {
			rows.Close()
			c.logger.WarnContext(ctx, "metrics: counting the queue's jobs failed", "error", err)
			return
		}
		counts[k] = n
	}
	if err := rows.Err(); err != nil {
		c.logger.WarnContext(ctx, "metrics: counting the queue's jobs failed", "error", err)
		return
	}
	for _, kind := range queueKinds {
		for _, state := range queueStates {
			if _, ok := counts[key{kind, state}]; !ok {
				counts[key{kind, state}] = 0
			}
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(n), k.kind, k.state)
	}
}

// jobWaitBuckets span a job taken at once (a millisecond: the insert's
// notification woke a worker) to one that waited minutes for a free worker.
var jobWaitBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// jobWait is the River middleware that observes callconnect_job_wait_seconds
// as each job starts.
type jobWait struct {
	river.MiddlewareDefaults
	seconds *prometheus.HistogramVec
}

// NewJobWaitMiddleware registers callconnect_job_wait_seconds on reg and
// returns the middleware that observes it; put it in Config.Middleware.
func NewJobWaitMiddleware(reg prometheus.Registerer) (rivertype.Middleware, error) {
	seconds, err := registerOnce(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "callconnect_job_wait_seconds",
		Help:    "Time a job waited from when it was due to when a worker took it, by kind.",
		Buckets: jobWaitBuckets,
	}, []string{"kind"}))
	if err != nil {
		return nil, err
	}
	return &jobWait{seconds: seconds}, nil
}

// Work observes the wait: from when the job was due (scheduled_at) to its
// attempt (attempted_at, both the database's clock). A job River makes
// available before it is due (a short snooze) waited nothing.
func (m *jobWait) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	if job.AttemptedAt != nil {
		m.seconds.WithLabelValues(job.Kind).Observe(max(0, job.AttemptedAt.Sub(job.ScheduledAt).Seconds()))
	}
	return doInner(ctx)
}
