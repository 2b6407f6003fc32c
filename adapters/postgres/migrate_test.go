package postgres_test

import (
	"database/sql"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/migrations"
)

// tables names the schema's tables, partitions left out.
func tables(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	// Partitions (the monitor's days) come and go with the date: only
	// tables that are not partitions are the schema's.
	rows, err := pool.Query(t.Context(), `SELECT relname FROM pg_class
		WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND NOT relispartition ORDER BY relname`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func pending(t *testing.T, pool *pgxpool.Pool) bool {
	t.Helper()
	p, err := postgres.Pending(t.Context(), pool)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	return p
}

func TestMigrateFreshDatabase(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewEmptyPool(t)
	if !pending(t, pool) {
		t.Error("Pending on an empty database: want pending")
	}
	if got := tables(t, pool); len(got) != 0 {
		t.Errorf("Pending changed the database: tables %q", got)
	}
	if err := postgres.Migrate(t.Context(), pool); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if pending(t, pool) {
		t.Error("Pending after Migrate: want none")
	}
	// The job queue's tables (river_*, from River's migration) are
	// adapters/jobs' to check; these are the service's own.
	want := []string{"calls", "console_sessions", "environments", "event_deliveries", "event_subscriptions", "events", "exchanges",
		"goose_db_version", "idempotency_keys", "interactions",
		"leads", "partner_tokens", "recordings", "telephony_integrations", "users"}
	got := slices.DeleteFunc(tables(t, pool), func(name string) bool { return strings.HasPrefix(name, "river_") })
	if !slices.Equal(got, want) {
		t.Errorf("tables: got %q, want %q", got, want)
	}
	// Migrating again is a no-op.
	if err := postgres.Migrate(t.Context(), pool); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	// The pool does not keep the migration lock: no advisory lock is held on
	// this database (pg_locks shows the whole cluster's).
	var locks int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&locks); err != nil {
		t.Fatal(err)
	}
	if locks != 0 {
		t.Errorf("%d advisory locks held after Migrate", locks)
	}
}

// TestMigrateConcurrently starts two replicas at once on a fresh database:
// both must succeed, and the schema must be migrated exactly once.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	first := pgtest.NewEmptyPool(t)
	second, err := pgxpool.NewWithConfig(t.Context(), first.Config()) // another replica
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Close)

	const replicas = 4
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for n := range replicas {
		pool := first
		if n%2 == 1 {
			pool = second
		}
		wg.Go(func() { errs[n] = postgres.Migrate(t.Context(), pool) })
	}
	wg.Wait()
	for n, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Migrate: %v", n, err)
		}
	}
	var applied int
	if err := first.QueryRow(t.Context(), `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	files, err := migrations.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, f := range files {
		if strings.HasSuffix(f.Name(), ".sql") {
			want++
		}
	}
	if applied != want {
		t.Errorf("goose_db_version holds %d applied migrations, want %d (each applied once)", applied, want)
	}
	if pending(t, first) {
		t.Error("Pending after concurrent Migrate: want none")
	}
}

// TestMigrationsDownAndUp checks that every migration can be undone: down to
// version 0 leaves no table of ours, and up again rebuilds the schema.
func TestMigrationsDownAndUp(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewPool(t) // already migrated
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { db.Close() })
	p := provider(t, db)

	want := tables(t, pool)
	if len(want) < 2 {
		t.Fatal("pgtest.NewPool gave a database without tables")
	}
	if _, err := p.DownTo(t.Context(), 0); err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	if got := tables(t, pool); !slices.Equal(got, []string{"goose_db_version"}) {
		t.Errorf("tables left after migrating down to 0: %q, want only goose's", got)
	}
	if !pending(t, pool) {
		t.Error("Pending after migrating down: want pending")
	}
	if err := postgres.Migrate(t.Context(), pool); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if got := tables(t, pool); !slices.Equal(got, want) {
		t.Errorf("tables after down and up: got %q, want %q", got, want)
	}
	// One step at a time too: each Down undoes exactly its Up, so that
	// down, up, down again works at every version.
	for {
		r, err := p.Down(t.Context())
		if errors.Is(err, goose.ErrNoNextVersion) {
			break
		}
		if err != nil {
			t.Fatalf("down: %v", err)
		}
		if _, err := p.UpByOne(t.Context()); err != nil {
			t.Fatalf("up %d again after its down: %v", r.Source.Version, err)
		}
		if _, err := p.Down(t.Context()); err != nil {
			t.Fatalf("down %d again: %v", r.Source.Version, err)
		}
	}
	if got := tables(t, pool); !slices.Equal(got, []string{"goose_db_version"}) {
		t.Errorf("tables left after stepping down: %q, want only goose's", got)
	}
}

func provider(t *testing.T, db *sql.DB) *goose.Provider {
	t.Helper()
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSQLCSeesEveryMigration keeps sqlc.yaml's schema list, which names the
// migrations one by one to leave River's out, from falling behind: a
// migration of ours that sqlc does not read would let generated code drift
// from the schema unnoticed.
func TestSQLCSeesEveryMigration(t *testing.T) {
	t.Parallel()
	config, err := os.ReadFile("../../sqlc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files, err := migrations.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := f.Name()
		if !strings.HasSuffix(name, ".sql") || strings.HasSuffix(name, "_river.sql") {
			continue
		}
		if !strings.Contains(string(config), "- migrations/"+name+"\n") {
			t.Errorf("sqlc.yaml does not list migrations/%s in its schema", name)
		}
	}
}
