package jobs_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"callconnect/adapters/jobs"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/domain"
)

// TestOnlyTheOutcomeCommitsAsynchronously: the click's transaction, which
// the 202 promises is kept, commits durably (synchronous_commit as the
// server has it, on here); the transaction that records the delivery's
// outcome commits without waiting for the disk (off), as a crash that lost
// it would only have the call delivered again under its webhook-id; and
// the connection's next transaction, another click, is durable again. A
// trigger records the setting each transaction that writes the call runs
// with.
func TestOnlyTheOutcomeCommitsAsynchronously(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	base := pgtest.NewPool(t)
	cfg := base.Config()
	// The test cluster runs with synchronous_commit off; a production one
	// with it on, as this pool's sessions do. One connection: the second
	// click runs on the connection the outcome was recorded on.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `
		CREATE TABLE commit_modes (call_id text, status text, synchronous_commit text);
		CREATE FUNCTION record_commit_mode() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO commit_modes VALUES (NEW.id, NEW.status, current_setting('synchronous_commit'));
			RETURN NULL;
		END $$;
		CREATE TRIGGER record_commit_mode AFTER INSERT OR UPDATE ON calls
			FOR EACH ROW EXECUTE FUNCTION record_commit_mode();`); err != nil {
		t.Fatal(err)
	}
	w, _ := directWorld(t, always(http.StatusAccepted), jobs.Config{}, worldOptions{pool: pool})
	first := w.place(t)
	w.waitFor(t, ctx, first.ID(), domain.CallDelivered)
	second := w.place(t)
	w.waitFor(t, ctx, second.ID(), domain.CallDelivered)

	type write struct{ call, status, mode string }
	rows, err := pool.Query(ctx, `SELECT call_id, status, synchronous_commit FROM commit_modes`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[write]int{}
	for rows.Next() {
		var w write
		if err := rows.Scan(&w.call, &w.status, &w.mode); err != nil {
			t.Fatal(err)
		}
		got[w]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []domain.Call{first, second} {
		if got[write{c.ID(), "queued", "on"}] != 1 {
			t.Errorf("call %s: its click's write ran with %v, want once queued with synchronous_commit on", c.ID(), got)
		}
		if got[write{c.ID(), "delivered", "off"}] != 1 {
			t.Errorf("call %s: its outcome's write ran with %v, want once delivered with synchronous_commit off", c.ID(), got)
		}
	}
	if len(got) != 4 {
		t.Errorf("writes of the calls: %v, want the two clicks' and the two outcomes' alone", got)
	}
}
