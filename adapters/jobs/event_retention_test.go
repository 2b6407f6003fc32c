package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"callconnect/adapters/cvio"
	"callconnect/adapters/jobs"
	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/adapters/system"
	"callconnect/adapters/webhook"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// TestModuleAgesEventsOutWithTheMonitor: with an *app.EventRetention in the
// graph besides the *app.MonitorRetention, the monitor's retention job
// deletes the events older than the retention too, by the graph's clock:
// the event past it goes, the one within it stays, and the metrics count
// the event.
func TestModuleAgesEventsOutWithTheMonitor(t *testing.T) {
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
		for _, id := range []string{"old", "kept"} {
			c := domain.RestoreCall("env-1", id, "l1", "u1", domain.CallQueued, "", now, now.Add(time.Minute), []byte(`{}`), nil)
			if err := r.PutCall(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The events occurred when written (now, by the database's clock): they
	// are dated as if written a month and a little less before the test's now.
	for id, at := range map[string]time.Time{"old": now.AddDate(0, 0, -31), "kept": now.AddDate(0, 0, -29)} {
		if _, err := base.Exec(ctx, `UPDATE events SET occurred_at = $1 WHERE call_id = $2`, at, id); err != nil {
			t.Fatal(err)
		}
	}

	fxApp := fxtest.New(t,
		fx.Supply(
			postgres.Config{DatabaseURL: base.Config().ConnString(), SecretsKey: testSecretsKey},
			jobs.Config{MaxWorkers: 2},
			testLogger(t),
			fx.Annotate(reg, fx.As(new(prometheus.Registerer))),
			fx.Annotate(noop.NewTracerProvider(), fx.As(new(trace.TracerProvider))),
			app.MonitorRetentionConfig{Retention: 30 * 24 * time.Hour},
			app.EventRetentionConfig{Retention: 30 * 24 * time.Hour},
		),
		postgres.Module,
		jobs.Module,
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

	calls := func() []string { return pgtest.Strings(t, base, `SELECT call_id FROM events ORDER BY call_id`) }
	for len(calls()) != 1 {
		select {
		case <-ctx.Done():
			t.Fatalf("the retention did not delete the old event: events of %q", calls())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if got := calls(); got[0] != "kept" {
		t.Fatalf("events after the retention: of %q, want of [kept]", got)
	}
	ok, deleted := okRun(t, reg, "callconnect_monitor_retention_runs_total", "callconnect_events_deleted_total")
	if ok != 1 || deleted != 1 {
		t.Errorf("metrics: %v ok runs and %v events deleted, want 1 and 1", ok, deleted)
	}
}
