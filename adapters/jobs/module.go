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

	"callconnect/adapters/postgres"
	"callconnect/app"
	"callconnect/ports"
)

// Module provides the Enqueuer as the postgres.Enqueuer (so the store's
// EnqueueDelivery inserts River jobs in its transactions), the delivery
// metrics and the queue's (see RegisterQueueMetrics and
// NewJobWaitMiddleware), the worker and the processing Client, started with
// the app and stopped gracefully with it, and the Direct runner, which the
// *app.Calls delivers the calls it places through (DeliverDirectly) and
// which stops with the client. It needs a Config (fx.Supply), the pool, the
// *app.Calls use case, a *slog.Logger, a prometheus.Registerer and a
// trace.TracerProvider (the telemetry module's).
//
// With an *app.RecordingSweeper in the graph (and the ports.AudioStore it
// sweeps), the client also runs the recording sweep: a periodic job every
// SweepRecordingsInterval, and once when a client becomes leader. With an
// *app.MonitorRetention, it runs the monitor's retention the same way, every
// MonitorRetentionInterval (and the event feeds' with it, given an
// *app.EventRetention); with an *app.IdempotencyKeyExpiry, it deletes the
// expired Idempotency-Key answers every ExpireIdempotencyKeysInterval; with an
// *app.NoResultMarker, it marks no_result the calls past their result
// deadline every MarkNoResultInterval. With an *app.EventDeliveries (and
// the store's ports.Events), it walks the event subscriptions
// (DeliverEventsWorker, on QueueEvents), kicks them as their environments'
// feeds grow (EventKicker), and deletes their old finished deliveries every
// ExpireEventDeliveriesInterval.
var Module = fx.Module("jobs",
	fx.Provide(
		fx.Annotate(newEnqueuerForFx, fx.As(new(postgres.Enqueuer))),
		NewMetrics,
		newWorkerForFx,
		newSweepWorkerForFx,
		newRetentionWorkerForFx,
		newIdempotencyExpiryWorkerForFx,
		newNoResultWorkerForFx,
		newEventWorkersForFx,
		newEventKickerForFx,
		newWorkersForFx,
		newDirectForFx,
		newClientForFx,
	),
	// The client is asked for so that it exists, and runs, even though
	// nothing else depends on it.
	fx.Invoke(func(*Client) {}),
	fx.Invoke(func(*EventKicker) {}),
	fx.Invoke(func(calls *app.Calls, d *Direct) { calls.DeliverDirectly(d) }),
	fx.Invoke(registerQueueMetricsForFx),
)

// EnqueueOnlyModule provides only the Enqueuer: a process with it accepts
// clicks and schedules their deliveries but runs none (an API-only replica);
// processes with Module deliver them.
var EnqueueOnlyModule = fx.Module("jobs",
	fx.Provide(fx.Annotate(newEnqueuerForFx, fx.As(new(postgres.Enqueuer)))),
	fx.Invoke(registerQueueMetricsForFx),
)

// registerQueueMetricsForFx registers callconnect_jobs: every process on the
// queue, delivering or not, reports how many jobs wait.
func registerQueueMetricsForFx(reg prometheus.Registerer, pool *pgxpool.Pool, logger *slog.Logger) error {
	return RegisterQueueMetrics(reg, pool, logger)
}

func newEnqueuerForFx() *Enqueuer { return NewEnqueuer() }

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
	Sweeper *app.RecordingSweeper `optional:"true"`
	Audio   ports.AudioStore      `optional:"true"`
	Clock   ports.Clock           `optional:"true"`
	Logger  *slog.Logger
}

// newSweepWorkerForFx returns the sweep's worker, or nil when the graph has
// no sweeper.
func newSweepWorkerForFx(p sweepParams) *SweepRecordingsWorker {
	if p.Sweeper == nil || p.Audio == nil {
		return nil
	}
	return NewSweepRecordingsWorker(p.Sweeper, p.Audio, SweepConfig{Clock: p.Clock, Logger: p.Logger})
}

type retentionParams struct {
	fx.In
	Retention  *app.MonitorRetention `optional:"true"`
	Events     *app.EventRetention   `optional:"true"`
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// newRetentionWorkerForFx returns the monitor retention's worker, which
// ages the event feeds out too when the graph has an *app.EventRetention,
// or nil when the graph has no *app.MonitorRetention.
func newRetentionWorkerForFx(p retentionParams) (*MonitorRetentionWorker, error) {
	if p.Retention == nil {
		return nil, nil
	}
	metrics, err := NewRetentionMetrics(p.Registerer)
	if err != nil {
		return nil, err
	}
	w := NewMonitorRetentionWorker(p.Retention, metrics, p.Logger)
	if p.Events != nil {
		w.WithEvents(p.Events)
	}
	return w, nil
}

type idempotencyExpiryParams struct {
	fx.In
	Expiry     *app.IdempotencyKeyExpiry `optional:"true"`
	Registerer prometheus.Registerer
}

// newIdempotencyExpiryWorkerForFx returns the Idempotency-Key expiry's
// worker, or nil when the graph has no *app.IdempotencyKeyExpiry.
func newIdempotencyExpiryWorkerForFx(p idempotencyExpiryParams) (*ExpireIdempotencyKeysWorker, error) {
	if p.Expiry == nil {
		return nil, nil
	}
	metrics, err := NewIdempotencyExpiryMetrics(p.Registerer)
	if err != nil {
		return nil, err
	}
	return NewExpireIdempotencyKeysWorker(p.Expiry, metrics), nil
}

type noResultParams struct {
	fx.In
	Marker     *app.NoResultMarker `optional:"true"`
	Registerer prometheus.Registerer
}

// newNoResultWorkerForFx returns the no_result marking's worker, or nil
// when the graph has no *app.NoResultMarker.
func newNoResultWorkerForFx(p noResultParams) (*MarkNoResultWorker, error) {
	if p.Marker == nil {
		return nil, nil
	}
	metrics, err := NewNoResultMetrics(p.Registerer)
	if err != nil {
		return nil, err
	}
	return NewMarkNoResultWorker(p.Marker, metrics), nil
}

type eventsParams struct {
	fx.In
	Deliveries *app.EventDeliveries `optional:"true"`
	Config     Config
	Logger     *slog.Logger
}

// eventWorkers are the event subscriptions' workers: both nil when the
// graph has no *app.EventDeliveries.
type eventWorkers struct {
	fx.Out
	Deliver *DeliverEventsWorker
	Expire  *ExpireEventDeliveriesWorker
}

func newEventWorkersForFx(p eventsParams) eventWorkers {
	if p.Deliveries == nil {
		return eventWorkers{}
	}
	timeout := cmpOr(p.Config.JobTimeout, DefaultJobTimeout)
	return eventWorkers{
		Deliver: NewDeliverEventsWorker(p.Deliveries, EventsWorkerConfig{Timeout: timeout, Logger: p.Logger}),
		Expire:  NewExpireEventDeliveriesWorker(p.Deliveries, p.Logger),
	}
}

type kickerParams struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Pool       *pgxpool.Pool
	Deliveries *app.EventDeliveries `optional:"true"`
	Feed       ports.Events         `optional:"true"`
	Worker     *DeliverEventsWorker
	Logger     *slog.Logger
}

// newEventKickerForFx returns the kicker, told of the subscriptions the
// worker walks, started and stopped with the app; nil when the graph has
// no *app.EventDeliveries or no feed.
func newEventKickerForFx(p kickerParams) *EventKicker {
	if p.Deliveries == nil || p.Feed == nil {
		return nil
	}
	k := NewEventKicker(p.Pool, p.Deliveries, p.Feed, 0, p.Logger)
	if p.Worker != nil {
		p.Worker.WithKicker(k)
	}
	p.Lifecycle.Append(fx.StartStopHook(k.Start, k.Stop))
	return k
}

type workersParams struct {
	fx.In
	Delivery    *DeliverCallWorker
	Sweep       *SweepRecordingsWorker
	Retention   *MonitorRetentionWorker
	Idempotency *ExpireIdempotencyKeysWorker
	NoResult    *MarkNoResultWorker
	Events      *DeliverEventsWorker
	EventExpiry *ExpireEventDeliveriesWorker
}

func newWorkersForFx(p workersParams) (*river.Workers, error) {
	workers, err := NewWorkers(p.Delivery, p.Sweep)
	if err != nil {
		return nil, err
	}
	if p.Retention != nil {
		if err := river.AddWorkerSafely(workers, p.Retention); err != nil {
			return nil, fmt.Errorf("jobs: registering the monitor retention worker: %w", err)
		}
	}
	if p.Idempotency != nil {
		if err := river.AddWorkerSafely(workers, p.Idempotency); err != nil {
			return nil, fmt.Errorf("jobs: registering the idempotency key expiry worker: %w", err)
		}
	}
	if p.NoResult != nil {
		if err := river.AddWorkerSafely(workers, p.NoResult); err != nil {
			return nil, fmt.Errorf("jobs: registering the no_result marking worker: %w", err)
		}
	}
	if p.Events != nil {
		if err := river.AddWorkerSafely(workers, p.Events); err != nil {
			return nil, fmt.Errorf("jobs: registering the event delivery worker: %w", err)
		}
	}
	if p.EventExpiry != nil {
		if err := river.AddWorkerSafely(workers, p.EventExpiry); err != nil {
			return nil, fmt.Errorf("jobs: registering the event delivery expiry worker: %w", err)
		}
	}
	return workers, nil
}

type clientParams struct {
	fx.In
	Lifecycle   fx.Lifecycle
	Pool        *pgxpool.Pool
	Workers     *river.Workers
	Sweep       *SweepRecordingsWorker
	Retention   *MonitorRetentionWorker
	Idempotency *ExpireIdempotencyKeysWorker
	NoResult    *MarkNoResultWorker
	EventExpiry *ExpireEventDeliveriesWorker
	Config      Config
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
	Direct      *Direct
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
	if p.Sweep != nil {
		cfg.PeriodicJobs = append(append([]*river.PeriodicJob(nil), cfg.PeriodicJobs...), SweepRecordingsPeriodicJob())
	}
	if p.Retention != nil {
		cfg.PeriodicJobs = append(append([]*river.PeriodicJob(nil), cfg.PeriodicJobs...), MonitorRetentionPeriodicJob())
	}
	if p.Idempotency != nil {
		cfg.PeriodicJobs = append(append([]*river.PeriodicJob(nil), cfg.PeriodicJobs...), ExpireIdempotencyKeysPeriodicJob())
	}
	if p.NoResult != nil {
		cfg.PeriodicJobs = append(append([]*river.PeriodicJob(nil), cfg.PeriodicJobs...), MarkNoResultPeriodicJob())
	}
	if p.EventExpiry != nil {
		cfg.PeriodicJobs = append(append([]*river.PeriodicJob(nil), cfg.PeriodicJobs...), ExpireEventDeliveriesPeriodicJob())
	}
	client, err := NewClient(p.Pool, p.Workers, cfg)
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
