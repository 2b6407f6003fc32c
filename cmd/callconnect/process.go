package main

import (
	"log/slog"

	"go.uber.org/fx"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/console"
	"callconnect/adapters/httpapi"
	"callconnect/adapters/jobs"
)

// processPlan is what one process of the service runs: its servers and its
// workers, as its configuration decides. planOf is the one place that
// decides it, and modules the one place that wires it; no adapter looks in
// the graph for what it might run.
type processPlan struct {
	// The HTTP API, with the operator console under console.Path, is
	// served on CALLCONNECT_HTTP_ADDR by every process: a replica that
	// serves nothing has no reason to run.

	// MetricsAddr serves /metrics on an address of its own
	// (CALLCONNECT_METRICS_ADDR); empty: /metrics is on the API's port.
	MetricsAddr string
	// PprofAddr serves Go's profiler (CALLCONNECT_PPROF_ADDR); empty: none.
	PprofAddr string
	// Migrate migrates the schema before anything starts (serve, unless
	// --no-migrate).
	Migrate bool
	// DeliveryWorkers is how many call deliveries the process's River
	// client runs at once (CALLCONNECT_DELIVERY_WORKERS). 0 runs no client:
	// an API-only replica, which schedules the deliveries of the calls it
	// places for the processes that have workers.
	DeliveryWorkers int
	// Maintenance runs the periodic upkeep: the recording sweep, the
	// monitor's and the event feeds' retention, the Idempotency-Key expiry
	// and the no_result marking (jobs.MaintenanceModule).
	Maintenance bool
	// EventDeliveries pushes the events to the CRM's event subscriptions
	// (jobs.EventDeliveriesModule).
	EventDeliveries bool
}

// planOf decides what a process with cfg runs. The upkeep and the event
// deliveries are jobs of the queue, so the processes that work it run them
// (River elects one leader to insert the periodic ones): with
// CALLCONNECT_DELIVERY_WORKERS=0 a process runs none of them.
func planOf(cfg Config, migrate bool) processPlan {
	works := cfg.DeliveryWorkers > 0
	return processPlan{
		MetricsAddr:     cfg.MetricsAddr,
		PprofAddr:       cfg.PprofAddr,
		Migrate:         migrate,
		DeliveryWorkers: cfg.DeliveryWorkers,
		Maintenance:     works,
		EventDeliveries: works,
	}
}

// modules wires what p runs, in the order it starts: the side servers
// first (so that they stop last, and the drain can still be scraped), the
// migration before anything uses the schema, the queue's workers, and the
// HTTP API last (it stops first, and drains).
func (p processPlan) modules() []fx.Option {
	opts := []fx.Option{
		fx.Invoke(func(logger *slog.Logger) { logger.Info("process plan", p.logAttrs()...) }),
		metricsServerModule(p.MetricsAddr),
		pprofServerModule(p.PprofAddr),
		migrationsModule(p.Migrate),
		// Every process places calls, so every one schedules deliveries.
		jobs.EnqueueModule,
	}
	if p.DeliveryWorkers > 0 {
		opts = append(opts, jobs.WorkModule)
	}
	// The two below add jobs to WorkModule's client: planOf sets them only
	// with it.
	if p.Maintenance {
		opts = append(opts, jobs.MaintenanceModule,
			fx.Provide(func(s audiostore.Store) jobs.TempObjects { return s }))
	}
	if p.EventDeliveries {
		opts = append(opts, jobs.EventDeliveriesModule)
	}
	return append(opts, console.Module, httpapi.Module)
}

// logAttrs tell the log what the process runs.
func (p processPlan) logAttrs() []any {
	return []any{
		slog.Bool("api", true), slog.Bool("console", true),
		slog.String("metrics_addr", p.MetricsAddr), slog.String("pprof_addr", p.PprofAddr),
		slog.Int("delivery_workers", p.DeliveryWorkers),
		slog.Bool("maintenance", p.Maintenance), slog.Bool("event_deliveries", p.EventDeliveries),
	}
}
