package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"callconnect/adapters/postgres/gen"
	"callconnect/domain"
	"callconnect/ports"
)

var _ ports.ExchangeRetention = (*Store)(nil)

// Partition maintenance changes the schema, which takes locks the monitor's
// readers and writers may have to wait for: a DETACH of a day's partition
// needs the exchanges table ACCESS EXCLUSIVE for the moment it takes (the
// DROP of the detached table after it does not; see dropPartition), and
// while it waits for that lock every later statement on exchanges queues
// behind it. So each change runs in a transaction of its own with a short
// lock_timeout: if a long query holds the table, the change gives way after
// partitionLockTimeout (the queue behind it moves on) and is tried again a
// little later, and failing that, at the next run of the maintenance job.
//
// DETACH PARTITION CONCURRENTLY, which would not need the strong lock, is
// not an option: PostgreSQL refuses it when the table has a default
// partition, which exchanges keeps so that recording never fails.
const (
	partitionLockTimeout = 500 * time.Millisecond
	partitionTries       = 3
)

// lockNotAvailable is lock_timeout's SQLSTATE.
const lockNotAvailable = "55P03"

// partitionPrefix starts the name of every day partition: exchanges_pYYYYMMDD.
const partitionPrefix = "exchanges_p"

// PrepareExchangeDays creates the day partitions of from..through that do
// not exist yet, and those of the days the default partition caught rows of
// (moving the rows into them).
func (s *Store) PrepareExchangeDays(ctx context.Context, from, through time.Time) (int, error) {
	caught, err := s.defaultPartitionDays(ctx, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return 0, err
	}
	days := caught
	for d := domain.DayStart(from); !d.After(through); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	made := 0
	for _, d := range days {
		ok, err := s.addPartition(ctx, d)
		if err != nil {
			return made, err
		}
		if ok {
			made++
		}
	}
	return made, nil
}

// DropExchangeDays drops the partitions of the days that ended at or before
// cutoff, one at a time; rows of those days the default partition caught
// get their day's partition first, so that they go too.
func (s *Store) DropExchangeDays(ctx context.Context, cutoff time.Time) ([]time.Time, error) {
	before := domain.DayStart(cutoff)
	caught, err := s.defaultPartitionDays(ctx, before)
	if err != nil {
		return nil, err
	}
	for _, d := range caught {
		if _, err := s.addPartition(ctx, d); err != nil {
			return nil, err
		}
	}
	parts, err := s.dayPartitions(ctx)
	if err != nil {
		return nil, err
	}
	var dropped []time.Time
	for _, p := range parts {
		if !p.day.Before(before) {
			break
		}
		err := s.dropPartition(ctx, p)
		if err != nil {
			return dropped, fmt.Errorf("postgres: dropping the monitor's partition %s: %w", p.name, err)
		}
		dropped = append(dropped, p.day)
	}
	return dropped, nil
}

// addPartition creates the day's partition unless it exists (see
// exchanges_add_partition in the migrations) and says whether it did.
func (s *Store) addPartition(ctx context.Context, day time.Time) (bool, error) {
	var made bool
	err := s.withShortLocks(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT exchanges_add_partition($1::date)`,
			pgtype.Date{Time: day, Valid: true}).Scan(&made)
	})
	if err != nil {
		return false, fmt.Errorf("postgres: adding the monitor's partition of %s: %w", day.Format(time.DateOnly), err)
	}
	return made, nil
}

// withShortLocks runs fn in a transaction whose lock waits give way after
// partitionLockTimeout, and tries again (see retryLockTimeouts).
func (s *Store) withShortLocks(ctx context.Context, fn func(pgx.Tx) error) error {
	return retryLockTimeouts(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", partitionLockTimeout.Milliseconds())); err != nil {
				return err
			}
			return fn(tx)
		})
	})
}

// dropPartition purges one day in two transactions. The first DETACHes the
// partition: catalog work only, during which exchanges is locked (its lock
// wait gives way after partitionLockTimeout, see retryLockTimeouts). The
// second DROPs the detached table, whose files go at its commit, which
// takes time in proportion to the day's size; nobody else uses that table,
// so no reader or writer of exchanges waits for it. A purge that stops
// between the two leaves a detached table, which the next one drops.
//
// The statements of each go in one round trip: without arguments, pgx sends
// them in one simple-protocol message, which PostgreSQL runs as one
// implicit transaction, so set_config(..., true) lasts until its end.
func (s *Store) dropPartition(ctx context.Context, p dayPartition) error {
	table := pgx.Identifier{p.name}.Sanitize()
	if p.attached {
		detach := fmt.Sprintf("SELECT set_config('lock_timeout', '%dms', true); ALTER TABLE exchanges DETACH PARTITION %s",
			partitionLockTimeout.Milliseconds(), table)
		err := retryLockTimeouts(ctx, func() error {
			_, err := s.pool.Exec(ctx, detach)
			return err
		})
		if err != nil {
			return err
		}
	}
	_, err := s.pool.Exec(ctx, "DROP TABLE IF EXISTS "+table)
	return err
}

// retryLockTimeouts runs fn, and again (partitionTries in all, waiting a
// little longer each time) while it fails for a lock_timeout.
func retryLockTimeouts(ctx context.Context, fn func() error) error {
	var err error
	for try := range partitionTries {
		if try > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(time.Duration(try) * partitionLockTimeout):
			}
		}
		err = fn()
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != lockNotAvailable {
			return err
		}
	}
	return err
}

// defaultPartitionDays are the UTC days of the rows the default partition
// holds from before the bound.
func (s *Store) defaultPartitionDays(ctx context.Context, before time.Time) ([]time.Time, error) {
	dates, err := gen.New(s.pool).DefaultPartitionDays(ctx, before)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the monitor's default partition: %w", err)
	}
	days := make([]time.Time, 0, len(dates))
	for _, d := range dates {
		days = append(days, domain.DayStart(d.Time))
	}
	return days, nil
}

type dayPartition struct {
	name     string
	day      time.Time
	attached bool // false: detached by a purge that did not get to drop it
}

// dayPartitions lists the exchanges_pYYYYMMDD tables, oldest first: the
// partitions, and any a purge detached but did not drop. (A catalog query:
// sqlc's catalog does not know pg_class.)
func (s *Store) dayPartitions(ctx context.Context) ([]dayPartition, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.relname::text, c.relispartition FROM pg_class c
		WHERE c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'exchanges'::regclass)
		AND c.relkind = 'r' AND c.relname ~ '^exchanges_p[0-9]{8}$' ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing the monitor's partitions: %w", err)
	}
	var out []dayPartition
	var name string
	var attached bool
	_, err = pgx.ForEachRow(rows, []any{&name, &attached}, func() error {
		day, err := time.Parse("20060102", strings.TrimPrefix(name, partitionPrefix))
		if err == nil {
			out = append(out, dayPartition{name: name, day: day, attached: attached})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: listing the monitor's partitions: %w", err)
	}
	return out, nil
}
