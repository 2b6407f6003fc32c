package jobs_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/jobs"
	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/adapters/system"
	"callconnect/adapters/webhook"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// TestModule assembles the jobs module with the postgres one as cmd does:
// the store gets the River enqueuer, the client starts with the app, a
// placed call is delivered, and the app stops cleanly.
func TestModule(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	base := pgtest.NewPool(t)
	partner := newFakePartner(t, always(http.StatusOK))
	reg := prometheus.NewRegistry()

	var (
		calls *app.Calls
		store ports.Store
		pool  *pgxpool.Pool
	)
	fxApp := fxtest.New(t,
		fx.Supply(
			postgres.Config{DatabaseURL: base.Config().ConnString(), SecretsKey: testSecretsKey},
			jobs.Config{MaxWorkers: 10},
			testLogger(t),
			fx.Annotate(reg, fx.As(new(prometheus.Registerer))),
			fx.Annotate(noop.NewTracerProvider(), fx.As(new(trace.TracerProvider))),
		),
		postgres.Module,
		jobs.Module,
		fx.Provide(func(s ports.Store) *app.Calls {
			return app.NewCalls(s, system.Clock{}, system.NewRandom(), webhook.New(webhook.Config{AllowPrivate: true}), app.CallsConfig{})
		}),
		fx.Populate(&calls, &store, &pool),
	)
	fxApp.RequireStart()

	w := &world{pool: pool, store: store, calls: calls, partner: partner}
	w.seed(t)
	call := w.place(t)
	w.waitFor(t, ctx, call.ID(), domain.CallDelivered)

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
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(families) != 3 {
		t.Errorf("%d metric families registered, want the 3 delivery metrics", len(families))
	}
}

// TestModuleSweepsRecordings: with an *app.RecordingSweeper in the graph, as
// cmd provides it, jobs.Module runs the sweep on start with the default
// grace of an hour.
func TestModuleSweepsRecordings(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	base := pgtest.NewPool(t)
	var pool *pgxpool.Pool
	dir := t.TempDir()
	fxApp := fxtest.New(t,
		fx.Supply(
			postgres.Config{DatabaseURL: base.Config().ConnString(), SecretsKey: testSecretsKey},
			jobs.Config{MaxWorkers: 2},
			testLogger(t),
			fx.Annotate(prometheus.NewRegistry(), fx.As(new(prometheus.Registerer))),
			fx.Annotate(noop.NewTracerProvider(), fx.As(new(trace.TracerProvider))),
			audiostore.Config{Dir: dir},
		),
		postgres.Module,
		system.Module,
		audiostore.Module,
		jobs.Module,
		fx.Provide(
			app.NewRecordingSweeper,
			func(s ports.Store) *app.Calls {
				return app.NewCalls(s, system.Clock{}, system.NewRandom(), webhook.New(webhook.Config{AllowPrivate: true}), app.CallsConfig{})
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
