// Package postgres stores Call Connect's data in PostgreSQL: the pgx pool,
// the goose migrations runner and the repositories behind ports.Store, built
// on the sqlc-generated queries in gen (SQL in queries/, schema in
// migrations/).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"callconnect/adapters/outbox"
	"callconnect/adapters/postgres/gen"
	"callconnect/domain"
	"callconnect/ports"
)

// Store runs units of work against PostgreSQL. It implements ports.Store.
type Store struct {
	pool     *pgxpool.Pool
	box      *secretBox
	enqueuer outbox.Enqueuer
	counter  ExchangeCounter // nil: nothing counts exchanges
	days     readyDays       // the monitor's days known to have their partition
	events   eventBus        // tells watchers of new events (events.go)
}

var _ ports.Store = (*Store)(nil)

// NewStore returns a Store on pool. secretsKey (SecretsKeySize bytes) seals
// the signing secrets of integrations at rest; the same key must be given to
// every replica and kept across restarts, or stored secrets cannot be opened.
func NewStore(pool *pgxpool.Pool, secretsKey []byte, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres: NewStore needs a pool")
	}
	box, err := newSecretBox(secretsKey)
	if err != nil {
		return nil, err
	}
	s := &Store{pool: pool, box: box, days: readyDays{making: make(chan struct{}, 1)}}
	for _, opt := range opts {
		opt(s)
	}
	return s, nil
}

// Option configures a Store.
type Option func(*Store)

// WithEnqueuer makes the store schedule call deliveries through e, in the
// transaction of the caller (ports.Calls.EnqueueDelivery). Without it,
// EnqueueDelivery fails with ErrNoEnqueuer; everything else works.
func WithEnqueuer(e outbox.Enqueuer) Option {
	return func(s *Store) { s.enqueuer = e }
}

// ExchangeCounter hears of every exchange a committed transaction recorded
// (the monitor's metrics).
type ExchangeCounter interface {
	ExchangeRecorded(direction domain.Direction, statusCode int)
}

// WithExchangeCounter makes the store tell c of the exchanges each
// transaction recorded, once it has committed.
func WithExchangeCounter(c ExchangeCounter) Option {
	return func(s *Store) { s.counter = c }
}

// Tx runs fn in a READ COMMITTED transaction and commits if fn returns nil.
// If fn fails or panics, everything it wrote is rolled back. READ COMMITTED
// suffices: the writes that must not interleave (integrations, rule 1) are
// serialised by LockEnvironment and backed by a unique index.
//
// The transaction costs no round trip of its own: BEGIN goes with its first
// statement, and the hot path's writes (PutCall, RecordExchange) with the
// statement after them or with COMMIT (see lazyTx). Their errors, which fn
// does not see then, are what Tx returns.
func (s *Store) Tx(ctx context.Context, fn func(ctx context.Context, r ports.Repositories) error) error {
	return s.run(ctx, beginReadWrite, false, fn)
}

// Read runs fn in a REPEATABLE READ, READ ONLY transaction: every query fn
// makes sees the same snapshot, and a write is refused by the server.
func (s *Store) Read(ctx context.Context, fn func(ctx context.Context, r ports.Repositories) error) error {
	return s.run(ctx, beginReadOnly, true, fn)
}

// asyncCommit makes a transaction of Store.Tx marked by
// ports.WithAsyncCommit commit without waiting for its WAL to reach the
// disk: the commit is visible at once and becomes durable within three
// wal_writer_delay (or with the next durable commit of the cluster, as WAL
// is flushed in order); a crash of PostgreSQL before then loses the
// transaction whole. Readers of the events feed wait for the flush before
// they hand an event out (ListEventsAfter), so no one hears of an event that
// a crash could take back.
const asyncCommit = "SET LOCAL synchronous_commit = off"

// rollbackTimeout bounds the rollback of a failed unit of work, which runs
// even when ctx has been cancelled.
const rollbackTimeout = 5 * time.Second

func (s *Store) run(ctx context.Context, begin string, readOnly bool, fn func(ctx context.Context, r ports.Repositories) error) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	// The pool closes rather than reuses a connection left in a transaction.
	defer conn.Release()
	tx := newLazyTx(conn.Conn(), begin)
	committed := false
	defer func() {
		if committed {
			return
		}
		// Rollback whether fn failed or panicked (the panic carries on).
		// Without cancel: a cancelled request must still end its transaction.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		_ = tx.Rollback(rctx) // on failure the connection is closed, which ends the transaction too
	}()
	if !readOnly && ports.AsyncCommit(ctx) {
		// Sent with BEGIN, in the first statement's pipeline: no round trip
		// of its own. LOCAL: the connection's next transaction commits
		// durably again.
		tx.settings = []string{asyncCommit}
	}
	repos := &repositories{store: s, q: gen.New(tx), tx: tx, box: s.box, enqueuer: s.enqueuer, readOnly: readOnly}
	notes := &eventNotes{repositories: repos} // the environments whose watchers to tell once committed
	if err := fn(ctx, notes.ports()); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	committed = true
	if !readOnly {
		s.eventsWritten(notes.envs)
	}
	if s.counter != nil {
		for _, e := range repos.recorded {
			s.counter.ExchangeRecorded(e.direction, e.statusCode)
		}
	}
	return nil
}

// errReadOnly refuses a write inside Store.Read before it reaches the server.
var errReadOnly = errors.New("postgres: a write inside Store.Read, which is read-only")

// repositories is every repository bound to one transaction.
type repositories struct {
	store    *Store
	q        *gen.Queries
	tx       *lazyTx
	box      *secretBox
	enqueuer outbox.Enqueuer // nil when the store has none
	readOnly bool
	recorded []recordedExchange // for the ExchangeCounter, once committed
}

type recordedExchange struct {
	direction  domain.Direction
	statusCode int
}

// The ports a unit of work hands out, each implemented by repositories
// (and by eventNotes, which wraps it).
var (
	_ ports.Environments       = (*repositories)(nil)
	_ ports.Users              = (*repositories)(nil)
	_ ports.Leads              = (*repositories)(nil)
	_ ports.Integrations       = (*repositories)(nil)
	_ ports.Calls              = (*repositories)(nil)
	_ ports.CallContexts       = (*repositories)(nil)
	_ ports.Exchanges          = (*repositories)(nil)
	_ ports.PartnerTokens      = (*repositories)(nil)
	_ ports.History            = (*repositories)(nil)
	_ ports.Idempotency        = (*repositories)(nil)
	_ ports.EventSubscriptions = (*repositories)(nil)
)

// writeHot queues one write of the delivery hot path (a call, an exchange)
// to go with the transaction's next statement or its COMMIT, without a
// savepoint: no round trip of its own. A refused write aborts the
// transaction, which every caller rolls back anyway; its error, as
// writeError(err, envID, what) translates it, is what the next statement
// (or the commit) returns.
func (r *repositories) writeHot(envID, what string, fn func(q *gen.Queries) error) error {
	if r.readOnly {
		return errReadOnly
	}
	fail := func(err error) error { return writeError(err, envID, what) }
	return fn(gen.New(deferring{tx: r.tx, fail: fail}))
}

// write runs one statement inside a savepoint, so that a refused write
// (unknown environment, a second active integration) leaves the transaction
// usable, as it is with the in-memory adapter, instead of aborting it.
func (r *repositories) write(ctx context.Context, fn func(q *gen.Queries) error) error {
	if r.readOnly {
		return errReadOnly
	}
	sp, err := r.tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: savepoint: %w", err)
	}
	if err := fn(r.q.WithTx(sp)); err != nil {
		_ = sp.Rollback(ctx)
		return err
	}
	if err := sp.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: release savepoint: %w", err)
	}
	return nil
}
