package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"callconnect/adapters/outbox"
	"callconnect/app"
	"callconnect/ports"
)

// The modules below are listed by the process that wants what they do; none
// of them looks in the graph for what it might do. Every dependency they
// name is required.

// EnqueueModule provides the Enqueuer as the outbox.Enqueuer (so that the
// store's EnqueueDelivery inserts River jobs in its transactions) and
// registers callconnect_jobs: every process on the queue, delivering or not,
// reports how many jobs wait. A process with EnqueueModule alone accepts
// clicks and schedules their deliveries but runs none (an API-only replica).
// It needs the pool, a prometheus.Registerer and a *slog.Logger.
var EnqueueModule = fx.Module("jobs.enqueue",
	fx.Provide(fx.Annotate(NewEnqueuer, fx.As(new(outbox.Enqueuer)))),
	fx.Invoke(RegisterQueueMetrics),
)

// WorkModule runs the River client that works the queue: the call
// deliveries (DeliverCallWorker and the Direct runner, which the
// *app.Calls delivers the calls it places through: DeliverDirectly), with
// their metrics and the job wait metric (NewJobWaitMiddleware), and every
// Job that the modules listed with it add (MaintenanceModule,
// EventDeliveriesModule). The client starts with the app and stops
// gracefully with it, the Direct runner with it. It needs a Config
// (fx.Supply), the pool, the *app.Calls use case, a *slog.Logger, a
// prometheus.Registerer and a trace.TracerProvider.
var WorkModule = fx.Module("jobs.work",
	fx.Provide(
		NewMetrics,
		newWorkerForFx,
		newDirectForFx,
		newClientForFx,
	),
	// The client is asked for so that it exists, and runs, even though
	// nothing else depends on it.
	fx.Invoke(func(*Client) {}),
	fx.Invoke(func(calls *app.Calls, d *Direct) { calls.DeliverDirectly(d) }),
)

// MaintenanceModule adds the periodic upkeep to WorkModule's client, each
// job run once when a client becomes leader and then every interval: the
// recording sweep (SweepRecordingsInterval; the *app.RecordingSweeper, and
// the audio store's TempObjects by the graph's ports.Clock), the monitor's
// retention with the event feeds' (MonitorRetentionInterval; the
// *app.MonitorRetention and *app.EventRetention), the expiry of the
// Idempotency-Key answers (ExpireIdempotencyKeysInterval; the
// *app.IdempotencyKeyExpiry) and the no_result marking of the calls past
// their result deadline (MarkNoResultInterval; the *app.NoResultMarker).
// Each of them is also a module of its own, for a test of that one job.
var MaintenanceModule = fx.Module("jobs.maintenance",
	SweepRecordingsModule,
	MonitorRetentionModule,
	ExpireIdempotencyKeysModule,
	MarkNoResultModule,
)

// The jobs of MaintenanceModule, one by one.
var (
	SweepRecordingsModule       = fx.Module("jobs.sweep", fx.Provide(asJob(newSweepJob)))
	MonitorRetentionModule      = fx.Module("jobs.retention", fx.Provide(asJob(newRetentionJob)))
	ExpireIdempotencyKeysModule = fx.Module("jobs.idempotency", fx.Provide(asJob(newIdempotencyExpiryJob)))
	MarkNoResultModule          = fx.Module("jobs.no_result", fx.Provide(asJob(newNoResultJob)))
)

// EventDeliveriesModule adds the event subscriptions to WorkModule's
// client: it walks them (DeliverEventsWorker, on QueueEvents), kicks them
// as their environments' feeds grow (EventKicker, started and stopped with
// the app), and deletes their old finished deliveries every
// ExpireEventDeliveriesInterval. It needs the *app.EventDeliveries, the
// store's ports.Events, the pool and a Config.
var EventDeliveriesModule = fx.Module("jobs.events",
	fx.Provide(
		newEventWorkersForFx,
		asJob(func(w *DeliverEventsWorker) Job { return jobOf(w, "event delivery", nil) }),
		asJob(func(w *ExpireEventDeliveriesWorker) Job {
			return jobOf(w, "event delivery expiry", ExpireEventDeliveriesPeriodicJob())
		}),
		newEventKickerForFx,
	),
	fx.Invoke(func(*EventKicker) {}),
)

// Job is a kind of job that WorkModule's client runs besides the call
// deliveries: its worker, and its periodic schedule when it has one. The
// modules that add one provide it to the value group "jobs".
type Job struct {
	name     string
	add      func(*river.Workers) error
	periodic *river.PeriodicJob // nil: run only when inserted
}

func jobOf[T river.JobArgs](w river.Worker[T], name string, periodic *river.PeriodicJob) Job {
	return Job{name: name, periodic: periodic, add: func(ws *river.Workers) error { return river.AddWorkerSafely(ws, w) }}
}

// asJob provides a Job constructor's result to the group WorkModule reads.
func asJob(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"jobs"`))
}

func newDirectForFx(worker *DeliverCallWorker, cfg Config, logger *slog.Logger) *Direct {
	if cfg.Logger == nil {
		cfg.Logger = logger
	}
	return NewDirect(worker, cfg)
}

func newWorkerForFx(calls *app.Calls, cfg Config, metrics *Metrics, tp trace.TracerProvider, logger *slog.Logger) *DeliverCallWorker {
	return NewDeliverCallWorker(calls, WorkerConfig{Timeout: cfg.JobTimeout, Metrics: metrics, TracerProvider: tp, Logger: logger})
}

type sweepParams struct {
	fx.In
	Sweeper *app.RecordingSweeper
	Temp    TempObjects
	Clock   ports.Clock
	Logger  *slog.Logger
}

func newSweepJob(p sweepParams) Job {
	w := NewSweepRecordingsWorker(p.Sweeper, p.Temp, SweepConfig{Clock: p.Clock, Logger: p.Logger})
	return jobOf(w, "recording sweep", SweepRecordingsPeriodicJob())
}

// newRetentionJob is the monitor retention's, which ages the event feeds
// out too.
func newRetentionJob(retention *app.MonitorRetention, events *app.EventRetention, reg prometheus.Registerer, logger *slog.Logger) (Job, error) {
	metrics, err := NewRetentionMetrics(reg)
	if err != nil {
		return Job{}, err
	}
	w := NewMonitorRetentionWorker(retention, metrics, logger).WithEvents(events)
	return jobOf(w, "monitor retention", MonitorRetentionPeriodicJob()), nil
}

func newIdempotencyExpiryJob(expiry *app.IdempotencyKeyExpiry, reg prometheus.Registerer) (Job, error) {
	metrics, err := NewIdempotencyExpiryMetrics(reg)
	if err != nil {
		return Job{}, err
	}
	return jobOf(NewExpireIdempotencyKeysWorker(expiry, metrics), "idempotency key expiry", ExpireIdempotencyKeysPeriodicJob()), nil
}

func newNoResultJob(marker *app.NoResultMarker, reg prometheus.Registerer) (Job, error) {
	metrics, err := NewNoResultMetrics(reg)
	if err != nil {
		return Job{}, err
	}
	return jobOf(NewMarkNoResultWorker(marker, metrics), "no_result marking", MarkNoResultPeriodicJob()), nil
}

func newEventWorkersForFx(deliveries *app.EventDeliveries, cfg Config, logger *slog.Logger) (*DeliverEventsWorker, *ExpireEventDeliveriesWorker) {
	timeout := cmpOr(cfg.JobTimeout, DefaultJobTimeout)
	return NewDeliverEventsWorker(deliveries, EventsWorkerConfig{Timeout: timeout, Logger: logger}),
		NewExpireEventDeliveriesWorker(deliveries, logger)
}

// newEventKickerForFx returns the kicker, told of the subscriptions the
// worker walks, started and stopped with the app.
func newEventKickerForFx(lc fx.Lifecycle, pool *pgxpool.Pool, deliveries *app.EventDeliveries, feed ports.Events,
	worker *DeliverEventsWorker, logger *slog.Logger) *EventKicker {
	k := NewEventKicker(pool, deliveries, feed, 0, logger)
	worker.WithKicker(k)
	lc.Append(fx.StartStopHook(k.Start, k.Stop))
	return k
}

type clientParams struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Pool       *pgxpool.Pool
	Delivery   *DeliverCallWorker
	Jobs       []Job `group:"jobs"`
	Config     Config
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Direct     *Direct
}

func newClientForFx(p clientParams) (*Client, error) {
	cfg := p.Config
	if cfg.Logger == nil {
		cfg.Logger = p.Logger
	}
	wait, err := NewJobWaitMiddleware(p.Registerer)
	if err != nil {
		return nil, err
	}
	cfg.Middleware = append(append([]rivertype.Middleware(nil), cfg.Middleware...), wait)
	workers, err := NewWorkers(p.Delivery)
	if err != nil {
		return nil, err
	}
	cfg.PeriodicJobs = append([]*river.PeriodicJob(nil), cfg.PeriodicJobs...)
	for _, j := range p.Jobs {
		if err := j.add(workers); err != nil {
			return nil, fmt.Errorf("jobs: registering the %s worker: %w", j.name, err)
		}
		if j.periodic != nil {
			cfg.PeriodicJobs = append(cfg.PeriodicJobs, j.periodic)
		}
	}
	client, err := NewClient(p.Pool, workers, cfg)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.Hook{
		// The start context ends when start-up does; the client runs on.
		OnStart: func(ctx context.Context) error { return client.Start(context.WithoutCancel(ctx)) },
		// Together, so that the stop's wait for running deliveries is
		// spent once for both kinds.
		OnStop: func(ctx context.Context) error {
			direct := make(chan error, 1)
			go func() { direct <- p.Direct.Stop(ctx) }()
			err := client.Stop(ctx)
			return errors.Join(err, <-direct)
		},
	})
	return client, nil
}
