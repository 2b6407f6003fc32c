package jobs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"callconnect/adapters/jobs"
	"callconnect/ports"
)

// TestEnqueuedJobIsRiversOwn: the row the Enqueuer writes for a delivery is
// the row River's InsertTx writes for the same job (but for its id and
// times), so that River works it as its own.
func TestEnqueuedJobIsRiversOwn(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	w := newWorld(t, always(http.StatusOK), worldOptions{})
	rc, err := river.NewClient(riverpgxv5.New(w.pool), &river.Config{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	d := ports.Delivery{EnvID: envID, CallID: "c1", TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	args := jobs.DeliverCallArgs{EnvID: d.EnvID, CallID: d.CallID, TraceParent: d.TraceParent}
	opts := args.InsertOpts()
	later := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	row := func(via func(tx pgx.Tx) error) map[string]any {
		t.Helper()
		tx, err := w.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if err := via(tx); err != nil {
			t.Fatal(err)
		}
		var doc []byte
		if err := tx.QueryRow(ctx, `SELECT to_jsonb(j) - 'id' - 'created_at' FROM river_job j`).Scan(&doc); err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		if err := json.Unmarshal(doc, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		what      string
		notBefore time.Time
	}{{"due now", time.Time{}}, {"held", later}} {
		d.NotBefore = tc.notBefore
		theirs := row(func(tx pgx.Tx) error {
			o := opts
			o.ScheduledAt = tc.notBefore
			_, err := rc.InsertTx(ctx, tx, args, &o)
			return err
		})
		ours := row(func(tx pgx.Tx) error { return jobs.NewEnqueuer().EnqueueDelivery(ctx, tx, d) })
		if tc.notBefore.IsZero() { // River's now and ours differ by the time between the two
			delete(theirs, "scheduled_at")
			delete(ours, "scheduled_at")
		}
		want, _ := json.Marshal(theirs)
		got, _ := json.Marshal(ours)
		if string(got) != string(want) {
			t.Errorf("%s: the Enqueuer's row\n %s\nRiver's\n %s", tc.what, got, want)
		}
	}
}
