package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"callconnect/adapters/postgres/pgtest"
	"callconnect/domain"
	"callconnect/ports"
)

// partitionsOf names where each exchange lives (its partition), by id.
func partitionsOf(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT id, tableoid::regclass::text FROM exchanges`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var id, part string
	if _, err := pgx.ForEachRow(rows, []any{&id, &part}, func() error { out[id] = part; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func dayPartitionNames(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'exchanges'::regclass ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestPartitioningKeepsExchanges migrates a database holding exchanges in
// the plain table of 00002 to the partitioned one: every row is kept as it
// was, each in its day's partition, and the default partition is empty.
func TestPartitioningKeepsExchanges(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewEmptyPool(t)
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { db.Close() })
	p := provider(t, db)
	if _, err := p.UpTo(t.Context(), 4); err != nil {
		t.Fatalf("up to 4: %v", err)
	}
	_, err := pool.Exec(t.Context(), `
		INSERT INTO environments (id, name, public_base_url, time_zone) VALUES ('env-1', 'Env', 'https://crm.example.com', 'UTC');
		INSERT INTO exchanges (id, env_id, direction, method, url, status_code, duration_ms, call_id, lead_id, occurred_at,
		                       request_headers, request_body, response_body, error) VALUES
		('x1', 'env-1', 'out', 'POST', 'https://p.example.com', 503, 1534, 'c1', 'l1', '2026-10-01 23:59:59.999999+00',
		 '{"Webhook-Signature": ["[redacted]"]}', '{"a":1}', 'busy', 'partner answered 503'),
		('x2', 'env-1', 'in', 'POST', 'https://cc.example.com/api/cvio/lead', 401, 2, NULL, NULL, '2026-10-02 00:00:00+00',
		 '{}', NULL, '{"code":"unauthorized"}', NULL),
		('x3', 'env-1', 'in', 'POST', 'https://cc.example.com/api/cvio/lead', 200, 9, 'c1', 'l1', '2026-10-02 12:00:00-03',
		 '{"Token": ["[redacted]"]}', 'body', 'ok', NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	dump := func() []string {
		rows, err := pool.Query(t.Context(), `SELECT e::text FROM exchanges e ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := dump()
	if _, err := p.UpByOne(t.Context()); err != nil {
		t.Fatalf("up to 5: %v", err)
	}
	var kind string
	if err := pool.QueryRow(t.Context(), `SELECT relkind::text FROM pg_class WHERE oid = 'exchanges'::regclass`).Scan(&kind); err != nil {
		t.Fatal(err)
	}
	if kind != "p" {
		t.Fatalf("exchanges has relkind %q after 00005, want p (partitioned)", kind)
	}
	if after := dump(); !slices.Equal(after, before) {
		t.Errorf("rows after partitioning:\n got %q\nwant %q", after, before)
	}
	want := map[string]string{"x1": "exchanges_p20261001", "x2": "exchanges_p20261002", "x3": "exchanges_p20261002"}
	if got := partitionsOf(t, pool); !mapsEqual(got, want) {
		t.Errorf("partitions: got %v, want %v", got, want)
	}
	// Yesterday to a week ahead are ready.
	names := dayPartitionNames(t, pool)
	today := domain.DayStart(time.Now())
	for d := today.AddDate(0, 0, -1); !d.After(today.AddDate(0, 0, 7)); d = d.AddDate(0, 0, 1) {
		if name := "exchanges_p" + d.Format("20060102"); !slices.Contains(names, name) {
			t.Errorf("no partition %s after the migration; partitions: %q", name, names)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestRetentionDropsPartitions checks how the store ages exchanges out: a
// day past the retention is a partition dropped (the table is gone, not
// emptied), rows the default partition caught move to their day's
// partition, and days within the retention keep theirs.
func TestRetentionDropsPartitions(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	s := newStore(t, pool, testKey)
	putEnv(t, s, "env-1")
	now := time.Date(2026, 3, 19, 14, 0, 0, 0, time.UTC)
	record := func(id string, at time.Time) {
		t.Helper()
		recordExchange(t, s, domain.Exchange{ID: id, EnvID: "env-1", Direction: domain.Inbound, Method: "POST",
			URL: "https://cc.example.com/api/cvio/lead", StatusCode: 401, OccurredAt: at})
	}
	record("old", time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC))
	record("kept", time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	if got := partitionsOf(t, pool); got["old"] != "exchanges_default" || got["kept"] != "exchanges_default" {
		t.Fatalf("before any partition of their days: %v, want both in exchanges_default", got)
	}
	made, err := s.PrepareExchangeDays(t.Context(), now.AddDate(0, 0, -1), now.AddDate(0, 0, 3))
	if err != nil {
		t.Fatal(err)
	}
	if made != 7 { // 18 to 22 March, and the days of the two caught rows
		t.Errorf("PrepareExchangeDays made %d partitions, want 7", made)
	}
	want := map[string]string{"old": "exchanges_p20260201", "kept": "exchanges_p20260301"}
	if got := partitionsOf(t, pool); !mapsEqual(got, want) {
		t.Errorf("after PrepareExchangeDays: %v, want %v", got, want)
	}
	if made, err := s.PrepareExchangeDays(t.Context(), now.AddDate(0, 0, -1), now.AddDate(0, 0, 3)); err != nil || made != 0 {
		t.Errorf("PrepareExchangeDays again: %d, %v; want 0 made", made, err)
	}

	dropped, err := s.DropExchangeDays(t.Context(), now.AddDate(0, 0, -30))
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped) != 1 || !dropped[0].Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("dropped %v, want only 2026-02-01", dropped)
	}
	names := dayPartitionNames(t, pool)
	if slices.Contains(names, "exchanges_p20260201") || !slices.Contains(names, "exchanges_p20260301") || !slices.Contains(names, "exchanges_p20260318") {
		t.Errorf("partitions after the drop: %q; want 20260201 gone, 20260301 and 20260318 kept", names)
	}
	var exists bool
	if err := pool.QueryRow(t.Context(), `SELECT to_regclass('exchanges_p20260201') IS NOT NULL`).Scan(&exists); err != nil || exists {
		t.Errorf("the dropped partition's table still exists (%v, %v)", exists, err)
	}
	if got := partitionsOf(t, pool); !mapsEqual(got, map[string]string{"kept": "exchanges_p20260301"}) {
		t.Errorf("rows after the drop: %v", got)
	}
}

func putEnv(t testing.TB, s ports.Store, id string) {
	t.Helper()
	env, err := domain.NewEnvironment(domain.EnvironmentInput{ID: id, Name: "Env", PublicBaseURL: "https://crm.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.PutEnvironment(ctx, env) }); err != nil {
		t.Fatal(err)
	}
}

func recordExchange(t *testing.T, s ports.Store, e domain.Exchange) {
	t.Helper()
	if err := s.Tx(t.Context(), func(ctx context.Context, r ports.Repositories) error { return r.RecordExchange(ctx, e) }); err != nil {
		t.Fatal(err)
	}
}

// TestRetentionGivesWayToALongQuery: while a transaction reads the
// exchanges, dropping a day gives up after a short lock wait (so the
// statements queued behind the drop are not held up for long) and leaves
// the day for the next run, which drops it.
func TestRetentionGivesWayToALongQuery(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	s := newStore(t, pool, testKey)
	putEnv(t, s, "env-1")
	day := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	recordExchange(t, s, domain.Exchange{ID: "old", EnvID: "env-1", Direction: domain.Inbound, Method: "POST",
		URL: "/api/cvio/lead", StatusCode: 401, OccurredAt: day.Add(time.Hour)})
	if _, err := s.PrepareExchangeDays(t.Context(), day, day); err != nil {
		t.Fatal(err)
	}
	reader, err := pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRow(t.Context(), `SELECT count(*) FROM exchanges`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.DropExchangeDays(t.Context(), day.AddDate(0, 0, 2))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
		t.Fatalf("DropExchangeDays under a long reader: %v, want a lock timeout", err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("DropExchangeDays gave up after %s", waited)
	}
	if got := partitionsOf(t, pool); got["old"] != "exchanges_p20260201" {
		t.Fatalf("after the refused drop: %v", got)
	}
	if err := reader.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	dropped, err := s.DropExchangeDays(t.Context(), day.AddDate(0, 0, 2))
	if err != nil || len(dropped) != 1 {
		t.Fatalf("the next run: %v, %v", dropped, err)
	}
	if got := partitionsOf(t, pool); len(got) != 0 {
		t.Errorf("after the next run: %v", got)
	}
}

// TestRetentionDropsWhatAPurgeLeftDetached: a purge that stopped between
// its DETACH and its DROP left a table; the next purge drops it.
func TestRetentionDropsWhatAPurgeLeftDetached(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t)
	s := newStore(t, pool, testKey)
	day := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	if _, err := s.PrepareExchangeDays(t.Context(), day, day); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(t.Context(), `ALTER TABLE exchanges DETACH PARTITION exchanges_p20260115`); err != nil {
		t.Fatal(err)
	}
	dropped, err := s.DropExchangeDays(t.Context(), day.AddDate(0, 0, 1))
	if err != nil || len(dropped) != 1 || !dropped[0].Equal(day) {
		t.Fatalf("DropExchangeDays: %v, %v; want %s", dropped, err, day)
	}
	var exists bool
	if err := pool.QueryRow(t.Context(), `SELECT to_regclass('exchanges_p20260115') IS NOT NULL`).Scan(&exists); err != nil || exists {
		t.Errorf("the detached table is still there (%v, %v)", exists, err)
	}
}
