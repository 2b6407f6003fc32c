package jobs_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/cvio"
	"callconnect/adapters/jobs"
	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/adapters/system"
	"callconnect/adapters/telemetry"
	"callconnect/adapters/webhook"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// TestModule assembles the jobs modules with the postgres one as cmd does:
// the store gets the River enqueuer, the client starts with the app, a
// placed call is delivered (its first attempt, directly, answered 503; the
// retry by the queue), and the app stops cleanly.
func TestModule(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	base := pgtest.NewPool(t)
	partner := newFakePartner(t, inTurn(http.StatusServiceUnavailable, http.StatusOK))
	reg := prometheus.NewRegistry()

	var (
		calls *app.Calls
		store ports.Store
		pool  *pgxpool.Pool
	)
	fxApp := fxtest.New(t,
		fx.Supply(
			jobs.Config{MaxWorkers: 10},
			testLogger(t),
			fx.Annotate(reg, fx.As(new(prometheus.Registerer))),
			fx.Annotate(noop.NewTracerProvider(), fx.As(new(trace.TracerProvider))),
		),
		storeModule(base),
		jobs.WorkModule,
		fx.Provide(func(s ports.Store) *app.Calls {
			return app.NewCalls(s, system.Clock{}, system.NewRandom(), webhook.New(webhook.Config{AllowPrivate: true}), cvio.Payloads{}, app.CallsConfig{})
		}),
		fx.Populate(&calls, &store, &pool),
	)
	fxApp.RequireStart()

	w := &world{pool: pool, store: store, calls: calls, partner: partner}
	w.seed(t)
	call := w.place(t)
	w.waitFor(t, ctx, call.ID(), domain.CallDelivered)
	if got := waitForJobs(t, ctx, pool, call.ID()); !slices.Equal(got, []string{"completed"}) {
		t.Errorf("the call's jobs ended %v, want one completed", got)
	}
	// The delivery metrics and the queue's, gathered while the pool is open
	// (the queue's jobs are counted in the database when scraped).
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	if want := []string{"callconnect_click_to_partner_seconds", "callconnect_delivery_attempts_total",
		"callconnect_delivery_outcomes_total", "callconnect_job_wait_seconds", "callconnect_jobs"}; !slices.Equal(names, want) {
		t.Errorf("metric families %q, want %q", names, want)
	}

	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		fxApp.RequireStop()
	}()
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("the app did not stop")
	}
}

// TestModuleSweepsRecordings: jobs.SweepRecordingsModule (of
// MaintenanceModule) runs the sweep on start with the default grace of an
// hour.
func TestModuleSweepsRecordings(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	base := pgtest.NewPool(t)
	var pool *pgxpool.Pool
	dir := t.TempDir()
	fxApp := fxtest.New(t,
		fx.Supply(
			jobs.Config{MaxWorkers: 2},
			testLogger(t),
			fx.Annotate(prometheus.NewRegistry(), fx.As(new(prometheus.Registerer))),
			fx.Annotate(noop.NewTracerProvider(), fx.As(new(trace.TracerProvider))),
			audiostore.Config{Dir: dir},
		),
		storeModule(base),
		system.Module,
		audiostore.Module,
		jobs.WorkModule,
		jobs.SweepRecordingsModule,
		fx.Provide(
			func(s audiostore.Store) jobs.TempObjects { return s },
			app.NewRecordingSweeper,
			func(s ports.Store) *app.Calls {
				return app.NewCalls(s, system.Clock{}, system.NewRandom(), webhook.New(webhook.Config{AllowPrivate: true}), cvio.Payloads{}, app.CallsConfig{})
			},
		),
		fx.Populate(&pool),
	)
	// The fixture is written before the app starts, so that the sweep the
	// start runs finds it.
	preStore, err := postgres.NewStore(base, testSecretsKey)
	if err != nil {
		t.Fatal(err)
	}
	f := newSweepFixture(t, preStore, dir, 2*time.Hour)

	fxApp.RequireStart()
	defer fxApp.RequireStop()
	f.check(t, ctx, pool)
}

// fixedClock stands at one instant.
type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// TestModuleRunsMonitorRetention: jobs.MonitorRetentionModule (of
// MaintenanceModule) runs the retention on start, by the graph's clock: the
// day past the retention is dropped, the day within it kept, and the
// metrics count the run and the partition.
func TestModuleRunsMonitorRetention(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	base := pgtest.NewPool(t)
	now := time.Date(2026, 3, 19, 14, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()

	preStore, err := postgres.NewStore(base, testSecretsKey)
	if err != nil {
		t.Fatal(err)
	}
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "env-1", Name: "Env", PublicBaseURL: "https://crm.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	err = preStore.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutEnvironment(ctx, env); err != nil {
			return err
		}
		for id, at := range map[string]time.Time{"old": now.AddDate(0, 0, -31), "kept": now.AddDate(0, 0, -29)} {
			e := domain.Exchange{ID: id, EnvID: "env-1", Direction: domain.Inbound, Method: "POST", URL: "/api/cvio/lead",
				StatusCode: 401, OccurredAt: at}
			if err := r.RecordExchange(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	startMaintenance(t, base, reg, now, jobs.MonitorRetentionModule, app.MonitorRetentionConfig{Retention: 30 * 24 * time.Hour}, app.NewMonitorRetention,
		fx.Supply(app.EventRetentionConfig{}), fx.Provide(app.NewEventRetention))
	ids := func() []string { return pgtest.Strings(t, base, `SELECT id FROM exchanges ORDER BY id`) }
	for len(ids()) != 1 {
		select {
		case <-ctx.Done():
			t.Fatalf("the retention did not drop the old day: exchanges %q", ids())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if got := ids(); got[0] != "kept" {
		t.Fatalf("exchanges after the retention: %q, want [kept]", got)
	}
	ok, dropped := okRun(t, ctx, reg, "callconnect_monitor_retention_runs_total", "callconnect_monitor_partitions_dropped_total")
	if ok != 1 || dropped != 1 {
		t.Errorf("metrics: %v ok runs and %v partitions dropped, want 1 and 1", ok, dropped)
	}
}

// TestModuleExpiresIdempotencyKeys: jobs.ExpireIdempotencyKeysModule (of
// MaintenanceModule) deletes the expired Idempotency-Key answers on start,
// by the graph's clock, in batches: the answers stored more than 24 hours
// before now go, the others stay, and the metrics count the run and the
// answers.
func TestModuleExpiresIdempotencyKeys(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	base := pgtest.NewPool(t)
	now := time.Date(2026, 3, 19, 14, 0, 0, 0, time.UTC)
	cutoff := now.Add(-ports.IdempotencyRetention)
	reg := prometheus.NewRegistry()

	preStore, err := postgres.NewStore(base, testSecretsKey)
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]time.Time{
		"expired-1": cutoff.Add(-time.Microsecond), "expired-2": cutoff.Add(-time.Hour), "expired-3": cutoff.Add(-24 * time.Hour),
		"expired-4": cutoff.Add(-7 * 24 * time.Hour), "expired-5": cutoff.Add(-30 * 24 * time.Hour),
		"at-the-cutoff": cutoff, "an-hour-old": now.Add(-time.Hour), "now": now,
	}
	err = preStore.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		for key, at := range answers {
			a := ports.IdempotentAnswer{Scope: "env-1/lead", Key: key, RequestHash: "h", StatusCode: 200, Body: []byte(`{}`), CreatedAt: at}
			if err := r.PutIdempotentAnswer(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	startMaintenance(t, base, reg, now, jobs.ExpireIdempotencyKeysModule, app.IdempotencyExpiryConfig{Batch: 2}, app.NewIdempotencyKeyExpiry)
	keys := func() []string { return pgtest.Strings(t, base, `SELECT key FROM idempotency_keys ORDER BY key`) }
	for len(keys()) != 3 {
		select {
		case <-ctx.Done():
			t.Fatalf("the expiry did not delete the expired answers: %q left", keys())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if got, want := fmt.Sprint(keys()), "[an-hour-old at-the-cutoff now]"; got != want {
		t.Fatalf("answers after the expiry: %s, want %s", got, want)
	}
	ok, deleted := okRun(t, ctx, reg, "callconnect_idempotency_expiry_runs_total", "callconnect_idempotency_keys_deleted_total")
	if ok != 1 || deleted != 5 {
		t.Errorf("metrics: %v ok runs and %v answers deleted, want 1 and 5", ok, deleted)
	}
}

// okRun waits (the metrics follow a run's last statement by a moment) for
// the counter runs{result="ok"} to reach 1, and returns it with the counter
// named count; it fails the test when ctx ends first.
func okRun(t *testing.T, ctx context.Context, reg prometheus.Gatherer, runs, count string) (ok, n float64) {
	t.Helper()
	eventually(t, ctx, "a run counted as ok in "+runs, func() bool {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				switch {
				case f.GetName() == count:
					n = m.GetCounter().GetValue()
				case f.GetName() == runs && m.GetLabel()[0].GetValue() == "ok":
					ok = m.GetCounter().GetValue()
				}
			}
		}
		return ok >= 1
	})
	return ok, n
}

// startMaintenance starts the store and jobs.WorkModule on base with job
// (a module of MaintenanceModule), the graph's clock fixed at now, cfg
// supplied and newService (the constructor of the maintenance service under
// test) provided, and extra; it stops with the test.
func startMaintenance(t *testing.T, base *pgxpool.Pool, reg *prometheus.Registry, now time.Time, job fx.Option, cfg, newService any, extra ...fx.Option) {
	t.Helper()
	fxApp := fxtest.New(t,
		fx.Supply(
			jobs.Config{MaxWorkers: 2},
			testLogger(t),
			fx.Annotate(reg, fx.As(new(prometheus.Registerer))),
			fx.Annotate(noop.NewTracerProvider(), fx.As(new(trace.TracerProvider))),
			cfg,
		),
		storeModule(base),
		jobs.WorkModule,
		job,
		fx.Options(extra...),
		fx.Provide(
			func() ports.Clock { return fixedClock(now) },
			newService,
			func(s ports.Store) *app.Calls {
				return app.NewCalls(s, system.Clock{}, system.NewRandom(), webhook.New(webhook.Config{AllowPrivate: true}), cvio.Payloads{}, app.CallsConfig{})
			},
		),
	)
	fxApp.RequireStart()
	t.Cleanup(fxApp.RequireStop)
}

// TestModuleAgesEventsOutWithTheMonitor: the monitor's retention job
// (jobs.MonitorRetentionModule) deletes the events older than the
// retention too, by the graph's clock, on start.
func TestModuleAgesEventsOutWithTheMonitor(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	base := pgtest.NewPool(t)
	now := time.Date(2026, 3, 19, 14, 0, 0, 0, time.UTC)
	preStore, err := postgres.NewStore(base, testSecretsKey)
	if err != nil {
		t.Fatal(err)
	}
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "env-1", Name: "Env", PublicBaseURL: "https://crm.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	err = preStore.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutEnvironment(ctx, env); err != nil {
			return err
		}
		return r.PutCall(ctx, domain.RestoreCall("env-1", "old", "l1", "u1", domain.CallQueued, "", now, now.Add(time.Minute), []byte(`{}`), nil))
	})
	if err != nil {
		t.Fatal(err)
	}
	// Written now by the database's clock: a month before the graph's.
	if _, err := base.Exec(ctx, `UPDATE events SET occurred_at = $1`, now.AddDate(0, 0, -31)); err != nil {
		t.Fatal(err)
	}

	fxApp := fxtest.New(t,
		fx.Supply(
			jobs.Config{MaxWorkers: 2},
			testLogger(t),
			fx.Annotate(prometheus.NewRegistry(), fx.As(new(prometheus.Registerer))),
			fx.Annotate(noop.NewTracerProvider(), fx.As(new(trace.TracerProvider))),
			app.MonitorRetentionConfig{},
			app.EventRetentionConfig{},
		),
		storeModule(base),
		jobs.WorkModule,
		jobs.MonitorRetentionModule,
		fx.Provide(
			func() ports.Clock { return fixedClock(now) },
			app.NewMonitorRetention,
			app.NewEventRetention,
			func(s ports.Store) *app.Calls {
				return app.NewCalls(s, system.Clock{}, system.NewRandom(), webhook.New(webhook.Config{AllowPrivate: true}), cvio.Payloads{}, app.CallsConfig{})
			},
		),
	)
	fxApp.RequireStart()
	t.Cleanup(fxApp.RequireStop)
	events := func() []string { return pgtest.Strings(t, base, `SELECT call_id FROM events`) }
	for len(events()) != 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("the monitor's retention did not delete the month-old event: %q left", events())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// storeModule is postgres.Module on base with the queue's enqueuer
// (jobs.EnqueueModule), as cmd assembles them, without query spans or
// exchange counting.
func storeModule(base *pgxpool.Pool) fx.Option {
	return fx.Options(
		fx.Supply(
			postgres.Config{DatabaseURL: base.Config().ConnString(), SecretsKey: testSecretsKey},
			fx.Annotate(telemetry.NewSQLTracer(nil, nil), fx.As(new(pgx.QueryTracer))),
			fx.Annotate(uncounted{}, fx.As(new(postgres.ExchangeCounter))),
		),
		postgres.Module,
		jobs.EnqueueModule,
	)
}

// uncounted counts no exchanges.
type uncounted struct{}

func (uncounted) ExchangeRecorded(domain.Direction, int) {}
