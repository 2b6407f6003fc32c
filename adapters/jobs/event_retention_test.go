package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"callconnect/adapters/jobs"
	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// TestMonitorRetentionAgesEventsOut: given the event feeds' retention
// (WithEvents), a run of the monitor's retention job deletes the events
// older than the retention too, by the job's clock: the event past it
// goes, the one within it stays, and the metrics count the event.
func TestMonitorRetentionAgesEventsOut(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	base := pgtest.NewPool(t)
	now := time.Date(2026, 3, 19, 14, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()

	store, err := postgres.NewStore(base, testSecretsKey)
	if err != nil {
		t.Fatal(err)
	}
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: "env-1", Name: "Env", PublicBaseURL: "https://crm.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	err = store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
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
	// are dated as if written a month and a little less before the job's now.
	for id, at := range map[string]time.Time{"old": now.AddDate(0, 0, -31), "kept": now.AddDate(0, 0, -29)} {
		if _, err := base.Exec(ctx, `UPDATE events SET occurred_at = $1 WHERE call_id = $2`, at, id); err != nil {
			t.Fatal(err)
		}
	}

	clock := fixedClock(now)
	metrics, err := jobs.NewRetentionMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	worker := jobs.NewMonitorRetentionWorker(app.NewMonitorRetention(store, clock, app.MonitorRetentionConfig{}, nil), metrics, nil).
		WithEvents(app.NewEventRetention(store, clock, app.EventRetentionConfig{Retention: 30 * 24 * time.Hour}, nil))
	job := &river.Job[jobs.MonitorRetentionArgs]{JobRow: &rivertype.JobRow{ID: 1, Kind: jobs.MonitorRetentionArgs{}.Kind()}}
	if err := worker.Work(ctx, job); err != nil {
		t.Fatalf("the retention: %v", err)
	}
	if got := pgtest.Strings(t, base, `SELECT call_id FROM events ORDER BY call_id`); len(got) != 1 || got[0] != "kept" {
		t.Fatalf("events after the retention: of %q, want of [kept]", got)
	}
	ok, deleted := okRun(t, ctx, reg, "callconnect_monitor_retention_runs_total", "callconnect_events_deleted_total")
	if ok != 1 || deleted != 1 {
		t.Errorf("metrics: %v ok runs and %v events deleted, want 1 and 1", ok, deleted)
	}
}
