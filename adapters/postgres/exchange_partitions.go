package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"callconnect/domain"
	"callconnect/ports"
)

var _ ports.ExchangeRetention = (*Store)(nil)

// The monitor's exchanges are a table partitioned by UTC day of occurred_at
// (migrations 00005 and 00007): exchanges_pYYYYMMDD holds a day. A day is
// made ready ahead (PrepareExchangeDays, the maintenance job) or, failing
// that, by the first exchange recorded on it (Store.readyDay), and aged out
// whole (DropExchangeDays): never deleted row by row.
//
// No step of it makes a reader or writer of exchanges wait:
//
//   - ATTACH PARTITION, which readies a day, locks exchanges in SHARE UPDATE
//     EXCLUSIVE mode, which conflicts with no read or write.
//   - DETACH PARTITION ... CONCURRENTLY, the purge, takes the same lock for
//     each of its two short transactions, and between them waits, holding
//     no lock on any table, for the transactions that may still see the day
//     to end; statements started meanwhile no longer see it, and go on.
//     (A plain DETACH would take ACCESS EXCLUSIVE on exchanges, and every
//     statement on it would queue behind it while it waits for a long
//     query.)
//   - DROP TABLE of the detached day, which frees its files (the part whose
//     time grows with the day's size), locks nothing but that table.
//
// A detach interrupted on the server between its two transactions (a
// restart, a cancelled statement) leaves the day "pending detach", already
// out of every query: the next purge FINALIZEs it. FINALIZE waits for every
// older snapshot while holding the SHARE UPDATE EXCLUSIVE lock that ATTACH
// needs, so it gives up after finalizeTimeout (the day is tried again at
// the next run) rather than hold up the making of a day. A purge cut short
// after its DETACH leaves a free-standing table: the next one drops it.

// partitionPrefix starts the name of every day partition: exchanges_pYYYYMMDD.
const partitionPrefix = "exchanges_p"

// partitionName is the name of the day's partition.
func partitionName(day time.Time) string {
	return partitionPrefix + day.UTC().Format("20060102")
}

// readyDayLockTimeout bounds how long recording an exchange on a day without
// a partition waits to attach one (behind a FINALIZE, say, which holds the
// lock ATTACH needs for at most finalizeTimeout).
const readyDayLockTimeout = 2 * time.Second

// finalizeTimeout bounds a FINALIZE of a detach left pending (see above).
const finalizeTimeout = time.Second

// PrepareExchangeDays creates the day partitions of from..through that do
// not exist yet.
func (s *Store) PrepareExchangeDays(ctx context.Context, from, through time.Time) (int, error) {
	made := 0
	for d := domain.DayStart(from); !d.After(through); d = d.AddDate(0, 0, 1) {
		ok, err := addPartition(ctx, s.pool, d)
		if err != nil {
			return made, err
		}
		if ok {
			made++
		}
		s.days.add(d)
	}
	return made, nil
}

// DropExchangeDays ages out the days that ended at or before cutoff: it
// purges them (DetachExchangeDays) and then frees their storage
// (DropDetachedExchangeDays). It returns the days whose exchanges are gone
// from the monitor, oldest first, even when freeing the storage of some of
// them failed (the next run frees it).
func (s *Store) DropExchangeDays(ctx context.Context, cutoff time.Time) ([]time.Time, error) {
	detached, detachErr := s.DetachExchangeDays(ctx, cutoff)
	dropped, dropErr := s.DropDetachedExchangeDays(ctx, cutoff)
	gone := append(detached, dropped...)
	slices.SortFunc(gone, time.Time.Compare)
	return slices.CompactFunc(gone, time.Time.Equal), errors.Join(detachErr, dropErr)
}

// DetachExchangeDays is the purge: the partitions of the days that ended at
// or before cutoff leave exchanges, DETACHed CONCURRENTLY, one at a time,
// and with them every exchange of those days. It returns those days, oldest
// first. Their tables stay until DropDetachedExchangeDays.
//
// Each detach waits, without holding anyone up, for the transactions that
// may still read the day. If ctx ends meanwhile, the call returns, and the
// detach goes on on the server (pgx drops the connection; the server
// notices once the statement is over) and completes there.
func (s *Store) DetachExchangeDays(ctx context.Context, cutoff time.Time) ([]time.Time, error) {
	parts, err := s.attachedDays(ctx)
	if err != nil {
		return nil, err
	}
	before := domain.DayStart(cutoff)
	var detached []time.Time
	for _, p := range parts {
		if !p.day.Before(before) {
			break
		}
		s.days.remove(p.day)
		// Without arguments pgx sends the statements in one simple-protocol
		// message: a lone statement runs outside any transaction block, as
		// CONCURRENTLY needs; several run as one implicit transaction, which
		// set_config(..., true) lasts until the end of.
		stmt := "ALTER TABLE exchanges DETACH PARTITION " + pgx.Identifier{p.name}.Sanitize() + " CONCURRENTLY"
		if p.state == partitionDetaching {
			stmt = fmt.Sprintf("SELECT set_config('statement_timeout', '%d', true); ALTER TABLE exchanges DETACH PARTITION %s FINALIZE",
				finalizeTimeout.Milliseconds(), pgx.Identifier{p.name}.Sanitize())
		}
		// "Not a partition" (42P01): the detach was finished meanwhile, by
		// the session of a purge cut short that carried on after all.
		if _, err := s.pool.Exec(ctx, stmt); err != nil && !isSQLState(err, undefinedTable) {
			return detached, fmt.Errorf("postgres: detaching the monitor's partition %s: %w", p.name, err)
		}
		detached = append(detached, p.day)
	}
	return detached, nil
}

// DropDetachedExchangeDays frees the storage of the days before cutoff that
// a purge detached: it drops their tables, and returns those days, oldest
// first. Nobody else uses those tables, so nobody waits for the drops; their
// time is the filesystem's, freeing the files.
func (s *Store) DropDetachedExchangeDays(ctx context.Context, cutoff time.Time) ([]time.Time, error) {
	parts, err := s.detachedDays(ctx)
	if err != nil {
		return nil, err
	}
	before := domain.DayStart(cutoff)
	var dropped []time.Time
	for _, p := range parts {
		if !p.day.Before(before) {
			break
		}
		if _, err := s.pool.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{p.name}.Sanitize()); err != nil {
			return dropped, fmt.Errorf("postgres: dropping the monitor's detached partition %s: %w", p.name, err)
		}
		dropped = append(dropped, p.day)
	}
	return dropped, nil
}

// addPartition creates the day's partition unless it exists (see
// exchanges_add_partition in the migrations) and says whether it did.
func addPartition(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, day time.Time) (bool, error) {
	var made bool
	err := q.QueryRow(ctx, `SELECT exchanges_add_partition($1::date)`, pgtype.Date{Time: day, Valid: true}).Scan(&made)
	if err != nil {
		return false, fmt.Errorf("postgres: adding the monitor's partition of %s: %w", day.Format(time.DateOnly), err)
	}
	return made, nil
}

// readyDay makes sure the day (UTC midnight) has its partition before an
// exchange of it is recorded in tx: there is no default partition to catch
// a row of a day without one, and recording must not fail. The maintenance
// job readies the days ahead, so this normally finds the partition there,
// once a day per process (one read in tx); s.days remembers it.
//
// A missing partition is made on a connection of its own, not one of the
// pool's: the caller's transaction holds one of those, and if every one
// were held by a transaction waiting for this day, none would be left.
func (s *Store) readyDay(ctx context.Context, tx *lazyTx, day time.Time) error {
	if s.days.has(day) {
		return nil
	}
	var attached bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_inherits
		WHERE inhrelid = to_regclass($1) AND inhparent = 'exchanges'::regclass)`, partitionName(day)).Scan(&attached); err != nil {
		return fmt.Errorf("postgres: looking for the monitor's partition of %s: %w", day.Format(time.DateOnly), err)
	}
	if !attached {
		if err := s.makeDay(ctx, day); err != nil {
			return err
		}
		// The partition was attached by another connection. A transaction
		// that already holds its lock on exchanges (it recorded an exchange
		// of another day) would go on routing rows with what it knew of the
		// partitions; locking the new partition makes it catch up first.
		if _, err := tx.Exec(ctx, "SELECT FROM "+pgx.Identifier{partitionName(day)}.Sanitize()+" LIMIT 0"); err != nil {
			return fmt.Errorf("postgres: reading the monitor's new partition of %s: %w", day.Format(time.DateOnly), err)
		}
	}
	s.days.add(day)
	return nil
}

// makeDay creates the day's partition on a connection of its own, one day
// at a time per process (and per database: see exchanges_add_partition).
func (s *Store) makeDay(ctx context.Context, day time.Time) error {
	select {
	case s.days.making <- struct{}{}:
		defer func() { <-s.days.making }()
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.days.has(day) {
		return nil
	}
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["lock_timeout"] = fmt.Sprint(readyDayLockTimeout.Milliseconds())
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: connecting to add the monitor's partition of %s: %w", day.Format(time.DateOnly), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = addPartition(ctx, conn, day)
	return err
}

// readyDays are the days this process knows have their partition.
type readyDays struct {
	mu     sync.Mutex
	days   map[time.Time]struct{}
	making chan struct{} // one makeDay at a time: a slot, made by NewStore
}

func (r *readyDays) has(day time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.days[day]
	return ok
}

// add remembers the day; days long past are forgotten, so that the set
// stays small (they would not be recorded on any more; if they were, the
// check is only made again).
func (r *readyDays) add(day time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.days == nil {
		r.days = make(map[time.Time]struct{})
	}
	r.days[day] = struct{}{}
	if len(r.days) > 64 {
		for d := range r.days {
			if d.Before(day.AddDate(0, 0, -2)) {
				delete(r.days, d)
			}
		}
	}
}

// remove forgets the day (its partition is being detached).
func (r *readyDays) remove(day time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.days, day)
}

// partitionState is where a day's table stands.
type partitionState int

const (
	partitionAttached  partitionState = iota // a partition of exchanges
	partitionDetaching                       // a concurrent detach began and did not finish
	partitionDetached                        // a free-standing table, left to drop
)

type dayPartition struct {
	name  string
	day   time.Time
	state partitionState
}

// attachedDays lists the day partitions of exchanges, oldest first, each
// attached or pending detach. (Catalog queries: sqlc's catalog does not
// know pg_inherits or pg_class. This one starts from pg_inherits, a small
// table, so that a purge costs little besides its detach.)
func (s *Store) attachedDays(ctx context.Context) ([]dayPartition, error) {
	// In one round trip (the simple protocol; the default would prepare
	// the statement first on each connection it meets).
	rows, err := s.pool.Query(ctx, `SELECT c.relname::text, i.inhdetachpending
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'exchanges'::regclass`, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing the monitor's partitions: %w", err)
	}
	return collectDays(rows, func(pending bool) partitionState {
		if pending {
			return partitionDetaching
		}
		return partitionAttached
	})
}

// detachedDays lists the day tables a purge detached and did not drop yet,
// oldest first.
func (s *Store) detachedDays(ctx context.Context) ([]dayPartition, error) {
	rows, err := s.pool.Query(ctx, `SELECT relname::text, false FROM pg_class
		WHERE relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'exchanges'::regclass)
		AND relkind = 'r' AND NOT relispartition AND relname ~ '^exchanges_p[0-9]{8}$'`)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing the monitor's detached days: %w", err)
	}
	return collectDays(rows, func(bool) partitionState { return partitionDetached })
}

// collectDays reads (table name, flag) rows into day tables, oldest first,
// skipping names that are not a day's.
func collectDays(rows pgx.Rows, state func(flag bool) partitionState) ([]dayPartition, error) {
	var out []dayPartition
	var name string
	var flag bool
	_, err := pgx.ForEachRow(rows, []any{&name, &flag}, func() error {
		day, err := time.Parse("20060102", strings.TrimPrefix(name, partitionPrefix))
		if err == nil && strings.HasPrefix(name, partitionPrefix) {
			out = append(out, dayPartition{name: name, day: day, state: state(flag)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: listing the monitor's day tables: %w", err)
	}
	slices.SortFunc(out, func(a, b dayPartition) int { return a.day.Compare(b.day) })
	return out, nil
}
