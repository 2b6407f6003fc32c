package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"callconnect/migrations"
)

// migrationLockID is the PostgreSQL advisory lock that serialises migrating
// replicas: the first takes it and migrates, the others wait for it and find
// nothing left to do. It is goose's default id, which a goose CLI run with
// locking enabled takes as well.
const migrationLockID = lock.DefaultLockID

// Migrate brings the schema up to date with the embedded migrations. It is
// safe to call from several replicas at once: they take turns under a
// session-level advisory lock, and only the first one changes anything.
//
// It runs on a connection of its own, opened from the pool's configuration
// and closed afterwards, so that no session state (the advisory lock above
// all) can leak into the pool.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDB(*pool.Config().ConnConfig.Copy())
	defer db.Close()
	return MigrateDB(ctx, db)
}

// MigrateDB is Migrate for a database/sql handle (the pgtest harness uses it).
func MigrateDB(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(db, true)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// Pending reports whether some embedded migration has not been applied to the
// database, for /readyz: a replica started with --no-migrate is not ready
// until someone has migrated. It only reads: unlike goose's HasPending, it
// does not create the version table, and it takes no lock, so it neither
// waits for nor disturbs a migration in progress.
func Pending(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	db := stdlib.OpenDBFromPool(pool) // closing it leaves the pool open
	defer db.Close()
	p, err := newProvider(db, false) // for its parsed list of sources; it touches no connection
	if err != nil {
		return false, err
	}
	var table *string
	if err := pool.QueryRow(ctx, `SELECT to_regclass('goose_db_version')::text`).Scan(&table); err != nil {
		return false, fmt.Errorf("postgres: checking for pending migrations: %w", err)
	}
	if table == nil {
		return true, nil // never migrated
	}
	// The latest row of each version says whether it is applied (goose's
	// older tool recorded a down as a new row with is_applied false).
	rows, err := pool.Query(ctx, `SELECT DISTINCT ON (version_id) version_id, is_applied
		FROM goose_db_version ORDER BY version_id, id DESC`)
	if err != nil {
		return false, fmt.Errorf("postgres: checking for pending migrations: %w", err)
	}
	applied := map[int64]bool{}
	var version int64
	var isApplied bool
	_, err = pgx.ForEachRow(rows, []any{&version, &isApplied}, func() error {
		applied[version] = isApplied
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("postgres: checking for pending migrations: %w", err)
	}
	for _, src := range p.ListSources() {
		if !applied[src.Version] {
			return true, nil
		}
	}
	return false, nil
}

// newProvider builds the goose provider of the embedded migrations; locked
// adds the advisory lock that makes concurrent runs safe.
func newProvider(db *sql.DB, locked bool) (*goose.Provider, error) {
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if locked {
		// Retry every second for up to 10 minutes: a replica waiting for
		// another one's migration should notice its end promptly.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 600))
		if err != nil {
			return nil, fmt.Errorf("postgres: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, opts...)
	if err != nil {
		return nil, fmt.Errorf("postgres: loading the migrations: %w", err)
	}
	return p, nil
}
