package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/domain"
	"callconnect/ports"
)

// TestListCallsPlansUseAnIndex: every shape of the calls list — no filter,
// a user, a lead, a status, a time window, and a page deep in the cursor —
// reads an index in the list's order, for the plans PostgreSQL picks with
// the values known and for the generic plan a cached statement may settle
// on: no table scan, no sort of the environment's calls, and a cursor that
// is an index condition (a deep page starts where the last one ended
// rather than reading its way there).
func TestListCallsPlansUseAnIndex(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := newStore(t, pool, testKey)
	for _, id := range []string{"acme", "other"} {
		putEnv(t, store, id)
	}
	// 40,000 calls of acme (400 users, 4,000 leads) and 10,000 of another
	// environment, a minute apart, so that the planner weighs real tables.
	if _, err := pool.Exec(ctx, `
		INSERT INTO calls (env_id, id, lead_id, user_id, status, clicked_at, deadline, payload)
		SELECT CASE WHEN n % 5 = 0 THEN 'other' ELSE 'acme' END, 'c' || n, 'l' || (n % 4000), 'u' || (n % 400),
		       (ARRAY['queued','delivered','completed','not_completed','undeliverable'])[1 + n % 5],
		       now() - n * interval '1 minute', now(), '\x7b7d'
		FROM generate_series(1, 50000) n`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE calls`); err != nil {
		t.Fatal(err)
	}
	deep := &ports.CallCursor{ClickedAt: time.Now().Add(-30000 * time.Minute), ID: "c30000"}
	since, until := time.Now().Add(-20000*time.Minute), time.Now().Add(-10000*time.Minute)
	for _, c := range []struct {
		what  string
		f     ports.CallFilter
		index string
		// sorted names the one index whose rows the plan may sort, a set
		// small by nature: a lead's calls, or the calls awaiting a result.
		sorted string
	}{
		{"the first page", ports.CallFilter{}, "calls_env_clicked", ""},
		{"a deep page", ports.CallFilter{Before: deep}, "calls_env_clicked", ""},
		{"a status", ports.CallFilter{Status: domain.CallUndeliverable, Before: deep}, "calls_env_status_clicked", ""},
		{"delivered as calls read", ports.CallFilter{Status: domain.CallDelivered, NoResultAcceptedBy: time.Now(), Before: deep},
			"calls_env_status_clicked", ""},
		// The calls marked no_result in order, merged with the delivered
		// ones past their deadline, which the job has yet to mark.
		{"no_result as calls read", ports.CallFilter{Status: domain.CallNoResult, NoResultAcceptedBy: time.Now(), Before: deep},
			"calls_env_status_clicked", "calls_awaiting_result"},
		{"a time window", ports.CallFilter{From: since, To: until}, "calls_env_clicked", ""},
		{"a user", ports.CallFilter{UserID: "u7"}, "calls_env_user_clicked", ""},
		{"a user, deep", ports.CallFilter{UserID: "u7", Before: deep}, "calls_env_user_clicked", ""},
		{"a user and a status", ports.CallFilter{UserID: "u7", Status: domain.CallQueued, Before: deep}, "calls_env_", ""},
		{"a lead", ports.CallFilter{LeadID: "l7", Before: deep}, "calls_env_lead", "calls_env_lead"},
		{"a lead and a user", ports.CallFilter{LeadID: "l7", UserID: "u7", Before: deep}, "calls_env_lead", "calls_env_lead"},
	} {
		c.f.Limit = 51
		query, args := postgres.ListCallsQuery("acme", c.f, int32(c.f.Limit))
		for _, mode := range []string{"auto", "force_generic_plan"} {
			plan := explainCalls(t, pool, mode, query, args)
			if !strings.Contains(plan, "Index Scan using "+c.index) && !strings.Contains(plan, "Index Scan Backward using "+c.index) {
				t.Errorf("%s (%s): the plan does not read %s:\n%s", c.what, mode, c.index, plan)
			}
			if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Bitmap") {
				t.Errorf("%s (%s): the plan scans the table:\n%s", c.what, mode, plan)
			}
			for line := range strings.Lines(plan) {
				s := strings.TrimLeft(line, " ->")
				if (strings.HasPrefix(s, "Sort") || strings.HasPrefix(s, "Incremental Sort")) && (c.sorted == "" || !strings.Contains(plan, c.sorted)) {
					t.Errorf("%s (%s): the plan sorts the calls:\n%s", c.what, mode, plan)
					break
				}
			}
			if c.f.Before != nil && !strings.Contains(indexCond(plan), "clicked_at") {
				t.Errorf("%s (%s): the cursor is not an index condition:\n%s", c.what, mode, plan)
			}
		}
	}
}

// explainCalls returns the plan of query in plan_cache_mode mode.
func explainCalls(t *testing.T, pool interface {
	Begin(context.Context) (pgx.Tx, error)
}, mode, query string, args []any) string {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = "+mode); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, "EXPLAIN (COSTS OFF) "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// indexCond is the plan's Index Cond lines.
func indexCond(plan string) string {
	var out []string
	for line := range strings.Lines(plan) {
		if strings.Contains(line, "Index Cond: ") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}
