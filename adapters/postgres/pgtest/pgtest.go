// Package pgtest gives each test its own PostgreSQL database, migrated to the
// current schema: the first test of a run migrates a template database (once
// per distinct set of migrations), every test then gets a cheap copy of it that
// is dropped when the test passes. The cluster is named by
// CALLCONNECT_TEST_DATABASE_URL, which `make test` sets after starting a
// throw-away cluster; the URL's user must be allowed to create roles and
// databases.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver pgtestdb connects with
	"github.com/peterldowns/pgtestdb"
	"github.com/peterldowns/pgtestdb/migrators/common"

	"callconnect/adapters/postgres"
	"callconnect/migrations"
)

// EnvURL names the environment variable holding the test cluster's URL.
const EnvURL = "CALLCONNECT_TEST_DATABASE_URL"

// NewPool returns a pool on a fresh database holding the current schema and
// no rows, closed when the test ends. Tests that use it may run in parallel.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return newPool(t, Migrator{})
}

// NewEmptyPool returns a pool on a fresh database without any schema, for
// tests of the migrations themselves.
func NewEmptyPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return newPool(t, pgtestdb.NoopMigrator{})
}

func newPool(t testing.TB, m pgtestdb.Migrator) *pgxpool.Pool {
	t.Helper()
	conf := Config(t)
	db := pgtestdb.Custom(t, conf, m)
	pool, err := pgxpool.New(context.Background(), db.URL())
	if err != nil {
		t.Fatalf("pgtest: connecting to the test database %s: %v", db.Database, err)
	}
	// Registered after pgtestdb's clean-up, so it runs before it: the
	// database can only be dropped once nothing is connected.
	t.Cleanup(pool.Close)
	return pool
}

// Config turns CALLCONNECT_TEST_DATABASE_URL into the pgtestdb configuration
// of the test cluster. It fails the test when the variable is unset: tests
// never skip for want of a database.
func Config(t testing.TB) pgtestdb.Config {
	t.Helper()
	raw := os.Getenv(EnvURL)
	if raw == "" {
		t.Fatalf("pgtest: %s is not set; run `make test`, which starts a throw-away PostgreSQL and sets it", EnvURL)
	}
	conf, err := parseConfig(raw)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", EnvURL, err)
	}
	return conf
}

func parseConfig(raw string) (pgtestdb.Config, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return pgtestdb.Config{}, errors.New("must be a URL such as postgres://postgres@127.0.0.1:5432/callconnect?sslmode=disable")
	}
	conf := pgtestdb.Config{
		DriverName: "pgx",
		Host:       u.Hostname(),
		Port:       u.Port(),
		User:       u.User.Username(),
		Database:   strings.TrimPrefix(u.Path, "/"),
		Options:    u.RawQuery,
	}
	conf.Password, _ = u.User.Password()
	if conf.Port == "" {
		conf.Port = "5432"
	}
	if conf.Database == "" {
		conf.Database = "postgres"
	}
	return conf, nil
}

// Migrator provisions pgtestdb's template database with the service's own
// migrations. Its Hash covers the name and content of every embedded
// migration file, so changing, adding or renumbering one builds a new template.
type Migrator struct{}

var _ pgtestdb.Migrator = Migrator{}

// Hash identifies the schema the migrations produce.
func (Migrator) Hash() (string, error) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return "", err
	}
	h := common.NewRecursiveHash(common.Field("migrator", "callconnect goose v1"))
	for _, name := range names {
		content, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			return "", err
		}
		h.Add([]byte(name))
		h.Add(content)
	}
	return h.String(), nil
}

// Migrate runs the goose migrations on the template database.
func (Migrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	return postgres.MigrateDB(ctx, db)
}

// Strings runs a query of one text column and returns its values, failing
// the test on an error.
func Strings(t testing.TB, pool *pgxpool.Pool, query string, args ...any) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}
