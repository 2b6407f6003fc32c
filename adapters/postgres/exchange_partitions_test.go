package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"callconnect/adapters/postgres"
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
	return pgtest.Strings(t, pool, `SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'exchanges'::regclass ORDER BY 1`)
}

// TestPartitioningKeepsExchanges migrates a database holding exchanges in
// the plain table of 00002 to the partitioned one: every row is kept as it
// was, each in its day's partition, and the default partition is empty.
func TestPartitioningKeepsExchanges(t *testing.T) {
	t.Parallel()
	pool, p := migratedTo(t, 4)
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
	dump := func() []string { return pgtest.Strings(t, pool, `SELECT e::text FROM exchanges e ORDER BY id`) }
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

// TestPurgeMigrationKeepsExchanges: 00007 moves what the default partition
// caught into day partitions (rows of a day a purge already detached go as
// that day went), drops the default partition and the foreign keys from
// exchanges (and from a day a purge left detached) to environments, and
// keeps every other row; down, it finishes a detach left pending (which
// 00005's code could not) and puts the default partition and the key back.
func TestPurgeMigrationKeepsExchanges(t *testing.T) {
	t.Parallel()
	pool, p := migratedTo(t, 6)
	_, err := pool.Exec(t.Context(), `
		INSERT INTO environments (id, name, public_base_url, time_zone) VALUES ('env-1', 'Env', 'https://crm.example.com', 'UTC');
		SELECT exchanges_add_partition('2026-01-15');
		ALTER TABLE exchanges DETACH PARTITION exchanges_p20260115;
		INSERT INTO exchanges (id, env_id, direction, method, url, status_code, duration_ms, occurred_at) VALUES
		('caught', 'env-1', 'in', 'POST', '/api/cvio/lead', 401, 2, '2026-02-01 10:00:00+00'),
		('purged', 'env-1', 'in', 'POST', '/api/cvio/lead', 401, 2, '2026-01-15 10:00:00+00'),
		('today', 'env-1', 'out', 'POST', 'https://p.example.com', 200, 9, now())`)
	if err != nil {
		t.Fatal(err)
	}
	today := "exchanges_p" + domain.DayStart(time.Now()).Format("20060102")
	if got := partitionsOf(t, pool); got["caught"] != "exchanges_default" || got["purged"] != "exchanges_default" || got["today"] != today {
		t.Fatalf("before 00007: %v", got)
	}
	keysToEnvironments := func() []string {
		return pgtest.Strings(t, pool, `SELECT conrelid::regclass::text FROM pg_constraint
			WHERE contype = 'f' AND confrelid = 'environments'::regclass AND conrelid::regclass::text LIKE 'exchanges%' ORDER BY 1`)
	}
	if got := keysToEnvironments(); !slices.Contains(got, "exchanges") || !slices.Contains(got, "exchanges_p20260115") {
		t.Fatalf("foreign keys before 00007: %q", got)
	}
	if _, err := p.UpByOne(t.Context()); err != nil {
		t.Fatalf("up to 7: %v", err)
	}
	if got, want := partitionsOf(t, pool), map[string]string{"caught": "exchanges_p20260201", "today": today}; !mapsEqual(got, want) {
		t.Errorf("after 00007: %v, want %v", got, want)
	}
	if tableExists(t, pool, "exchanges_default") {
		t.Error("the default partition is still there")
	}
	if got := keysToEnvironments(); len(got) != 0 {
		t.Errorf("foreign keys to environments after 00007: %q", got)
	}
	leavePending(t, pool, "exchanges_p20260201")
	if _, err := p.Down(t.Context()); err != nil {
		t.Fatalf("down from 7: %v", err)
	}
	if got := partitionsOf(t, pool); !mapsEqual(got, map[string]string{"today": today}) {
		t.Errorf("after going down: %v, want today's only (the pending day detached)", got)
	}
	if !tableExists(t, pool, "exchanges_default") || !slices.Contains(keysToEnvironments(), "exchanges") {
		t.Errorf("going down did not restore the default partition and the key: %q", keysToEnvironments())
	}
}

// leavePending leaves the partition pending detach, as a concurrent detach
// that the server stopped while it waited for an open transaction does.
func leavePending(t *testing.T, pool *pgxpool.Pool, name string) {
	t.Helper()
	reader, err := pool.BeginTx(t.Context(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Exec(t.Context(), `SELECT count(*) FROM exchanges`); err != nil {
		t.Fatal(err)
	}
	detached := make(chan error, 1)
	go func() {
		_, err := pool.Exec(t.Context(), "ALTER TABLE exchanges DETACH PARTITION "+name+" CONCURRENTLY")
		detached <- err
	}()
	waitPending(t, pool, name)
	cancelDetach(t, pool)
	if err := <-detached; err == nil {
		t.Fatal("the cancelled detach reported no error")
	}
	if err := reader.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// cancelDetach has the server cancel the concurrent detach under way in the
// test's database.
func cancelDetach(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	var cancelled bool
	if err := pool.QueryRow(t.Context(), `SELECT pg_cancel_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%DETACH PARTITION%CONCURRENTLY%'`).Scan(&cancelled); err != nil || !cancelled {
		t.Fatalf("cancelling the waiting detach: %v, %v", cancelled, err)
	}
}

// migratedTo is a database of its own migrated up to the version, and the
// migrations' provider on it.
func migratedTo(t *testing.T, version int64) (*pgxpool.Pool, *goose.Provider) {
	t.Helper()
	pool := pgtest.NewEmptyPool(t)
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { db.Close() })
	p := provider(t, db)
	if _, err := p.UpTo(t.Context(), version); err != nil {
		t.Fatalf("up to %d: %v", version, err)
	}
	return pool, p
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
// emptied), and days within the retention keep theirs. Recording on a day
// that has no partition yet makes it.
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
	want := map[string]string{"old": "exchanges_p20260201", "kept": "exchanges_p20260301"}
	if got := partitionsOf(t, pool); !mapsEqual(got, want) {
		t.Fatalf("recorded on days without a partition: %v, want %v", got, want)
	}
	made, err := s.PrepareExchangeDays(t.Context(), now.AddDate(0, 0, -1), now.AddDate(0, 0, 3))
	if err != nil {
		t.Fatal(err)
	}
	if made != 5 { // 18 to 22 March
		t.Errorf("PrepareExchangeDays made %d partitions, want 5", made)
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
	if tableExists(t, pool, "exchanges_p20260201") {
		t.Error("the dropped partition's table still exists")
	}
	if got := partitionsOf(t, pool); !mapsEqual(got, map[string]string{"kept": "exchanges_p20260301"}) {
		t.Errorf("rows after the drop: %v", got)
	}
	// A day that was dropped is made again when an exchange of it comes.
	record("late", time.Date(2026, 2, 1, 11, 0, 0, 0, time.UTC))
	if got := partitionsOf(t, pool); got["late"] != "exchanges_p20260201" {
		t.Errorf("recorded on a dropped day: %v", got)
	}
}

func tableExists(t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var exists bool
	if err := pool.QueryRow(t.Context(), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

// TestRecordingMakesItsDay: the partition of a day nobody readied is made
// for the first exchange recorded on it, while two processes (two stores,
// each with its own pool) record on that day at once: every exchange lands
// in the day's partition, and none fails. One of the pools has a single
// connection: the partition is made on a connection of the store's own, so
// a transaction holding the pool's only connection still gets it.
func TestRecordingMakesItsDay(t *testing.T) {
	t.Parallel()
	base := pgtest.NewPool(t)
	pools := make([]*pgxpool.Pool, 2)
	for n, conns := range []int32{1, 8} {
		cfg := base.Config()
		cfg.MaxConns = conns
		pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		pools[n] = pool
	}
	stores := []*postgres.Store{newStore(t, pools[0], testKey), newStore(t, pools[1], testKey)}
	putEnv(t, stores[0], "env-1")
	day := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	const exchanges = 24
	start := make(chan struct{})
	errs := make(chan error, exchanges)
	var wg sync.WaitGroup
	for n := range exchanges {
		wg.Go(func() {
			<-start
			errs <- stores[n%2].Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
				return r.RecordExchange(ctx, domain.Exchange{ID: fmt.Sprintf("x%d", n), EnvID: "env-1", Direction: domain.Outbound,
					Method: "POST", URL: "https://p.example.com", StatusCode: 200, OccurredAt: day.Add(time.Duration(n) * time.Minute)})
			})
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("recording on a day without a partition: %v", err)
		}
	}
	got := partitionsOf(t, base)
	if len(got) != exchanges {
		t.Fatalf("%d exchanges recorded, want %d: %v", len(got), exchanges, got)
	}
	for id, part := range got {
		if part != "exchanges_p20260504" {
			t.Errorf("exchange %s is in %s", id, part)
		}
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

// waitPending waits until a concurrent detach of the partition has done its
// first half (the partition is pending detach), and fails the test after a
// while.
func waitPending(t *testing.T, pool *pgxpool.Pool, name string) {
	t.Helper()
	waitFor(t, pool, name+" to become pending detach", `SELECT coalesce((SELECT inhdetachpending FROM pg_inherits
		WHERE inhrelid = to_regclass($1)), false)`, name)
}

// waitFor polls the query (one boolean) until it answers true, and fails
// the test, naming what it waited for, after a while.
func waitFor(t *testing.T, pool *pgxpool.Pool, what, query string, args ...any) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		var done bool
		if err := pool.QueryRow(t.Context(), query, args...).Scan(&done); err != nil {
			t.Fatal(err)
		}
		if done {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("waited in vain for %s", what)
		case <-tick.C:
		}
	}
}

// withAnOldDay is a store whose environment env-1 has one exchange, "old",
// on 1 February 2026 (its partition made as it was recorded), and today's
// partition ready.
func withAnOldDay(t *testing.T) (*pgxpool.Pool, *postgres.Store, time.Time) {
	t.Helper()
	pool := pgtest.NewPool(t)
	s := newStore(t, pool, testKey)
	putEnv(t, s, "env-1")
	old := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	recordExchange(t, s, domain.Exchange{ID: "old", EnvID: "env-1", Direction: domain.Inbound, Method: "POST",
		URL: "/api/cvio/lead", StatusCode: 401, OccurredAt: old.Add(time.Hour)})
	today := domain.DayStart(time.Now())
	if _, err := s.PrepareExchangeDays(t.Context(), today, today); err != nil {
		t.Fatal(err)
	}
	return pool, s, old
}

// openReader begins a transaction that has read the exchanges (count
// them: want) and stays open, holding its lock on exchanges and its
// snapshot (REPEATABLE READ), until the test rolls it back or ends.
func openReader(t *testing.T, pool *pgxpool.Pool, want int) pgx.Tx {
	t.Helper()
	tx, err := pool.BeginTx(t.Context(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.WithoutCancel(t.Context())) })
	var n int
	if err := tx.QueryRow(t.Context(), `SELECT count(*) FROM exchanges`).Scan(&n); err != nil || n != want {
		t.Fatalf("the open transaction's read: %d exchanges, %v; want %d", n, err, want)
	}
	return tx
}

// TestPurgeBlocksNobody: while a long transaction that read the exchanges
// is open, the purge of an old day waits for it, and meanwhile writers
// read their environment and record exchanges, and readers list the
// monitor, without waiting for the purge; the purged day is already
// out of what they see. When the long transaction ends, the purge finishes.
func TestPurgeBlocksNobody(t *testing.T) {
	t.Parallel()
	pool, s, old := withAnOldDay(t)
	long := openReader(t, pool, 1)

	type result struct {
		dropped []time.Time
		err     error
	}
	purged := make(chan result, 1)
	go func() {
		dropped, err := s.DropExchangeDays(t.Context(), old.AddDate(0, 0, 2))
		purged <- result{dropped, err}
	}()
	waitPending(t, pool, "exchanges_p20260201")

	// Writers and readers go on; each gets 10 s, far more than it needs.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for n := range 5 {
		err := s.Tx(ctx, func(ctx context.Context, r ports.Repositories) error {
			if _, err := r.GetEnvironment(ctx, "env-1"); err != nil {
				return err
			}
			return r.RecordExchange(ctx, domain.Exchange{ID: fmt.Sprintf("new%d", n), EnvID: "env-1", Direction: domain.Outbound,
				Method: "POST", URL: "https://p.example.com", StatusCode: 200, OccurredAt: time.Now()})
		})
		if err != nil {
			t.Fatalf("recording while the purge waits: %v", err)
		}
	}
	var seen []string
	err := s.Read(ctx, func(ctx context.Context, r ports.Repositories) error {
		items, err := r.ListExchanges(ctx, "env-1", domain.ExchangeFilter{}, domain.ExchangeCursor{}, 100)
		for _, e := range items {
			seen = append(seen, e.ID)
		}
		return err
	})
	if err != nil {
		t.Fatalf("listing while the purge waits: %v", err)
	}
	slices.Sort(seen)
	if want := []string{"new0", "new1", "new2", "new3", "new4"}; !slices.Equal(seen, want) {
		t.Errorf("listed while the purge waits: %q, want %q (the purged day out)", seen, want)
	}
	select {
	case r := <-purged:
		t.Fatalf("the purge finished while a transaction that may read the day was open: %v, %v", r.dropped, r.err)
	default:
	}

	if err := long.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := <-purged
	wantGone(t, pool, "the purge", r.dropped, r.err, old)
}

// wantGone checks that a purge reported the day, and only it, without an
// error, and that the day's table is gone.
func wantGone(t *testing.T, pool *pgxpool.Pool, what string, days []time.Time, err error, day time.Time) {
	t.Helper()
	if err != nil || len(days) != 1 || !days[0].Equal(day) {
		t.Fatalf("%s: %v, %v; want %s", what, days, err, day.Format(time.DateOnly))
	}
	if name := "exchanges_p" + day.Format("20060102"); tableExists(t, pool, name) {
		t.Errorf("%s: the table %s is still there", what, name)
	}
}

// TestPurgeCutShortIsFinished: a detach the server stops while it waits
// (as a restart or a cancelled statement would) leaves the day pending
// detach, out of the monitor already. While an old snapshot is open, the
// next run's FINALIZE gives up after a moment, and meanwhile a day nobody
// readied is still made for the exchange recorded on it; once the snapshot
// is gone, the next run finishes the detach and drops the table.
func TestPurgeCutShortIsFinished(t *testing.T) {
	t.Parallel()
	pool, s, old := withAnOldDay(t)
	long := openReader(t, pool, 1)
	cutoff := old.AddDate(0, 0, 2)
	purged := make(chan error, 1)
	go func() {
		_, err := s.DropExchangeDays(t.Context(), cutoff)
		purged <- err
	}()
	waitPending(t, pool, "exchanges_p20260201")
	cancelDetach(t, pool)
	if err := <-purged; err == nil {
		t.Fatal("a purge whose detach the server cancelled reported no error")
	}
	var pending bool
	if err := pool.QueryRow(t.Context(), `SELECT inhdetachpending FROM pg_inherits
		WHERE inhrelid = 'exchanges_p20260201'::regclass`).Scan(&pending); err != nil || !pending {
		t.Fatalf("after the cut-short purge: pending %v, %v; want the detach left pending", pending, err)
	}
	if got := partitionsOf(t, pool); len(got) != 0 {
		t.Errorf("the monitor still shows %v", got)
	}

	go func() {
		_, err := s.DropExchangeDays(t.Context(), cutoff)
		purged <- err
	}()
	waitQuery(t, pool, "%DETACH PARTITION%FINALIZE%")
	other := newStore(t, pool, testKey) // another process: it knows no day yet
	recordExchange(t, other, domain.Exchange{ID: "unreadied", EnvID: "env-1", Direction: domain.Inbound, Method: "POST",
		URL: "/api/cvio/lead", StatusCode: 200, OccurredAt: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)})
	if err := <-purged; !isSQLState(err, "57014") {
		t.Fatalf("FINALIZE under an old snapshot: %v, want a statement timeout", err)
	}

	if err := long.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	dropped, err := s.DropExchangeDays(t.Context(), cutoff)
	wantGone(t, pool, "the run after the snapshot ended", dropped, err, old)
}

// waitQuery waits until a statement like pattern runs in the test's
// database, and fails the test after a while.
func waitQuery(t *testing.T, pool *pgxpool.Pool, pattern string) {
	t.Helper()
	waitFor(t, pool, "a statement like "+pattern, `SELECT EXISTS (SELECT FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE $1)`, pattern)
}

func isSQLState(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// TestDroppingADetachedDayLocksNothingElse: freeing a purged day's storage
// takes no lock that a click or a callback holds: it goes through while a
// transaction that recorded an exchange and holds its environment (as a
// foreign key check would) is open. (With a foreign key from exchanges to
// environments, it would wait for ACCESS EXCLUSIVE on environments.)
func TestDroppingADetachedDayLocksNothingElse(t *testing.T) {
	t.Parallel()
	pool, s, old := withAnOldDay(t)
	if _, err := s.DetachExchangeDays(t.Context(), old.AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	writer, err := pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Rollback(context.WithoutCancel(t.Context()))
	if _, err := writer.Exec(t.Context(), `SELECT id FROM environments WHERE id = 'env-1' FOR KEY SHARE`); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Exec(t.Context(), `INSERT INTO exchanges (id, env_id, direction, method, url, status_code, duration_ms, occurred_at)
		VALUES ('open', 'env-1', 'out', 'POST', 'https://p.example.com', 200, 1, now())`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	dropped, err := s.DropDetachedExchangeDays(ctx, old.AddDate(0, 0, 1))
	wantGone(t, pool, "dropping the detached day beside an open writer", dropped, err, old)
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
