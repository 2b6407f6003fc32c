package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"callconnect/adapters/jobs"
	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// TestModuleMarksNoResult: jobs.MarkNoResultModule (of MaintenanceModule)
// marks no_result, on start and by the graph's clock, the
// delivered calls the partner accepted a result deadline ago or more, in
// batches; the calls still within their deadline, and those in other
// statuses, keep theirs; the metrics count the run and the calls.
func TestModuleMarksNoResult(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	base := pgtest.NewPool(t)
	now := time.Date(2026, 3, 19, 14, 0, 0, 0, time.UTC)
	const deadline = 2 * time.Hour
	reg := prometheus.NewRegistry()

	preStore, err := postgres.NewStore(base, testSecretsKey)
	if err != nil {
		t.Fatal(err)
	}
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "env-1", Name: "Env", PublicBaseURL: "https://crm.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	call := func(id string, status domain.CallStatus, accepted time.Time) domain.Call {
		return domain.RestoreCall("env-1", id, "l1", "u1", status, "", accepted.Add(-time.Second), accepted.Add(time.Minute),
			[]byte(`{}`), nil).WithDeliveredAt(accepted)
	}
	calls := []domain.Call{
		call("due-1", domain.CallDelivered, now.Add(-deadline)),
		call("due-2", domain.CallDelivered, now.Add(-deadline-time.Minute)),
		call("due-3", domain.CallDelivered, now.Add(-deadline-time.Hour)),
		call("due-4", domain.CallDelivered, now.Add(-30*24*time.Hour)),
		call("due-5", domain.CallDelivered, now.Add(-deadline-time.Second)),
		call("waiting", domain.CallDelivered, now.Add(-deadline+time.Microsecond)),
		call("completed", domain.CallCompleted, now.Add(-3*deadline)),
		call("unknown", domain.CallDelivered, time.Time{}),
	}
	err = preStore.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
		if err := r.PutEnvironment(ctx, env); err != nil {
			return err
		}
		for _, c := range calls {
			if err := r.PutCall(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	startMaintenance(t, base, reg, now, jobs.MarkNoResultModule, app.NoResultConfig{Batch: 2},
		func(s ports.Store, clock ports.Clock, cfg app.NoResultConfig, logger *slog.Logger) *app.NoResultMarker {
			return app.NewNoResultMarker(s, clock, app.CallsConfig{ResultDeadline: deadline}, cfg, logger)
		})
	marked := func() []string {
		return pgtest.Strings(t, base, `SELECT id FROM calls WHERE status = 'no_result' ORDER BY id`)
	}
	for len(marked()) < 5 {
		select {
		case <-ctx.Done():
			t.Fatalf("the job did not mark the calls due: %q marked", marked())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if got, want := fmt.Sprint(marked()), "[due-1 due-2 due-3 due-4 due-5]"; got != want {
		t.Fatalf("no_result calls: %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(pgtest.Strings(t, base, `SELECT id || ':' || status FROM calls WHERE status <> 'no_result' ORDER BY id`)),
		"[completed:completed unknown:delivered waiting:delivered]"; got != want {
		t.Errorf("the other calls: %s, want %s", got, want)
	}
	ok, n := okRun(t, ctx, reg, "callconnect_no_result_runs_total", "callconnect_calls_no_result_total")
	if ok != 1 || n != 5 {
		t.Errorf("metrics: %v ok runs and %v calls marked, want 1 and 5", ok, n)
	}
}
