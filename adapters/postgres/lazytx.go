package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// lazyTx is a pgx.Tx on one connection that spends no round trip of its
// own. BEGIN is not sent when the transaction starts but with its first
// statement, and the writes queued with deferWrite (the hot path's, whose
// caller needs no answer but success) go with the statement after them, or
// with COMMIT: each time as one pipeline (a pgx batch, one round trip).
// PostgreSQL runs a pipeline's statements in order and skips the rest of it
// after a failure, so a queued write that fails is reported by the statement
// (or the COMMIT) it went with, and the transaction is aborted as it would
// have been had the write gone alone.
//
// A transaction that sent nothing commits and rolls back without a round
// trip. Savepoints (Begin) are sent like any statement.
//
// A pipeline that fails before its statement ran (the context was already
// cancelled, the connection broke) may have lost BEGIN or queued writes on
// the way: the transaction is then broken, and every later call fails with
// that error, Commit too, so that nothing after it runs outside the
// transaction or commits without what was lost. Rollback still ends it.
type lazyTx struct {
	conn  *pgx.Conn
	begin string // the BEGIN statement, sent with the first statement
	// settings are sent right after BEGIN (SET LOCAL statements); a
	// transaction that sends nothing else sends them neither.
	settings []string
	begun    bool

	pending    []deferredWrite
	savepoints int
	closed     bool
	broken     error // why the transaction can no longer be used
}

// usable is nil while statements may be sent: the transaction is neither
// closed nor broken.
func (t *lazyTx) usable() error {
	switch {
	case t.closed:
		return pgx.ErrTxClosed
	case t.broken != nil:
		return fmt.Errorf("postgres: the transaction is broken: %w", t.broken)
	}
	return nil
}

var _ pgx.Tx = (*lazyTx)(nil)

// BEGIN statements of Store.Tx and Store.Read.
const (
	beginReadWrite = "begin isolation level read committed read write"
	beginReadOnly  = "begin isolation level repeatable read read only"
)

// deferredWrite is a write queued until the next statement or the COMMIT.
type deferredWrite struct {
	sql  string
	args []any
	// fail translates the write's error, as the repository method would
	// have had it gone alone.
	fail func(error) error
}

func newLazyTx(conn *pgx.Conn, begin string) *lazyTx {
	return &lazyTx{conn: conn, begin: begin}
}

// deferWrite queues a write to go with the next statement or the COMMIT.
func (t *lazyTx) deferWrite(sql string, args []any, fail func(error) error) error {
	if err := t.usable(); err != nil {
		return err
	}
	t.pending = append(t.pending, deferredWrite{sql: sql, args: args, fail: fail})
	return nil
}

// ExecLater queues a statement whose answer the caller does not need (a
// pg_notify, say) to go with the transaction's next statement or its
// COMMIT; if it fails, that statement (or the commit) fails with its error.
// The job queue's Enqueuer sends its notification so.
func (t *lazyTx) ExecLater(sql string, args ...any) error {
	return t.deferWrite(sql, args, func(err error) error { return fmt.Errorf("postgres: %s: %w", sql, err) })
}

// direct reports whether the next statement can go alone, with nothing
// queued before it.
func (t *lazyTx) direct() bool { return t.begun && len(t.pending) == 0 }

// send sends what is queued (BEGIN, deferred writes), then sql, in one
// pipeline, and returns the results positioned at sql's. On an error of
// what was queued, the results are closed and that error returned; the
// transaction is then broken (what was queued may never have reached the
// server).
func (t *lazyTx) send(ctx context.Context, sql string, args []any) (pgx.BatchResults, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	begin := !t.begun
	if begin {
		b.Queue(t.begin)
		for _, set := range t.settings {
			b.Queue(set)
		}
	}
	writes := t.pending
	for _, w := range writes {
		b.Queue(w.sql, w.args...)
	}
	b.Queue(sql, args...)
	t.begun, t.pending = true, nil
	br := t.conn.SendBatch(ctx, b)
	if begin {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			err = fmt.Errorf("postgres: begin: %w", err)
			t.broken = err
			return nil, err
		}
		for _, set := range t.settings {
			if _, err := br.Exec(); err != nil {
				_ = br.Close()
				err = fmt.Errorf("postgres: %s: %w", set, err)
				t.broken = err
				return nil, err
			}
		}
	}
	for _, w := range writes {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			err = w.fail(err)
			t.broken = err
			return nil, err
		}
	}
	return br, nil
}

func (t *lazyTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := t.usable(); err != nil {
		return pgconn.CommandTag{}, err
	}
	if t.direct() {
		return t.conn.Exec(ctx, sql, args...)
	}
	br, err := t.send(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (t *lazyTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	if t.direct() {
		return t.conn.Query(ctx, sql, args...)
	}
	br, err := t.send(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		if rows != nil {
			rows.Close()
		}
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

func (t *lazyTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.direct() && t.usable() == nil {
		return t.conn.QueryRow(ctx, sql, args...)
	}
	rows, err := t.Query(ctx, sql, args...)
	return &firstRow{rows: rows, err: err}
}

// flush sends what is queued, alone, before an operation that cannot be
// pipelined with it.
func (t *lazyTx) flush(ctx context.Context) error {
	if err := t.usable(); err != nil {
		return err
	}
	if t.direct() {
		return nil
	}
	_, err := t.Exec(ctx, "select 1")
	return err
}

func (t *lazyTx) CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error) {
	if err := t.flush(ctx); err != nil {
		return 0, err
	}
	return t.conn.CopyFrom(ctx, tableName, columnNames, rowSrc)
}

func (t *lazyTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if err := t.flush(ctx); err != nil {
		return errBatchResults{err}
	}
	return t.conn.SendBatch(ctx, b)
}

func (t *lazyTx) LargeObjects() pgx.LargeObjects {
	panic("postgres: large objects are not used inside a Store transaction")
}

func (t *lazyTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return t.conn.Prepare(ctx, name, sql)
}

func (t *lazyTx) Conn() *pgx.Conn { return t.conn }

// Begin starts a savepoint.
func (t *lazyTx) Begin(ctx context.Context) (pgx.Tx, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	t.savepoints++
	sp := &savepoint{tx: t, n: t.savepoints}
	if _, err := t.Exec(ctx, fmt.Sprintf("savepoint sp_%d", sp.n)); err != nil {
		return nil, err
	}
	return sp, nil
}

// Commit sends COMMIT with whatever is queued; a transaction that sent
// nothing has nothing to commit. When the commit fails with the
// transaction still open (a queued write failed, or the transaction is
// broken), the transaction stays usable for Rollback.
func (t *lazyTx) Commit(ctx context.Context) error {
	if err := t.usable(); err != nil {
		return err
	}
	if !t.begun && len(t.pending) == 0 {
		t.closed = true
		return nil
	}
	tag, err := t.Exec(ctx, "commit")
	if err != nil {
		if t.conn.PgConn().TxStatus() == 'I' {
			t.closed = true
		}
		return err
	}
	t.closed = true
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// Rollback rolls back what was sent; queued writes are dropped unsent.
func (t *lazyTx) Rollback(ctx context.Context) error {
	if t.closed {
		return pgx.ErrTxClosed
	}
	t.closed, t.pending = true, nil
	if !t.begun {
		return nil
	}
	if _, err := t.conn.Exec(ctx, "rollback"); err != nil {
		_ = t.conn.Close(ctx) // closing the connection ends the transaction
		return err
	}
	return nil
}

// savepoint is a pgx.Tx nested in a lazyTx, as pgx's own nested
// transactions are: SAVEPOINT, RELEASE and ROLLBACK TO.
type savepoint struct {
	tx     *lazyTx
	n      int
	closed bool
}

var _ pgx.Tx = (*savepoint)(nil)

func (s *savepoint) Begin(ctx context.Context) (pgx.Tx, error) { return s.tx.Begin(ctx) }

func (s *savepoint) Commit(ctx context.Context) error { return s.end(ctx, "release savepoint") }

func (s *savepoint) Rollback(ctx context.Context) error { return s.end(ctx, "rollback to savepoint") }

func (s *savepoint) end(ctx context.Context, how string) error {
	if s.closed {
		return pgx.ErrTxClosed
	}
	s.closed = true
	_, err := s.tx.Exec(ctx, fmt.Sprintf("%s sp_%d", how, s.n))
	return err
}

func (s *savepoint) CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error) {
	return s.tx.CopyFrom(ctx, tableName, columnNames, rowSrc)
}

func (s *savepoint) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return s.tx.SendBatch(ctx, b)
}

func (s *savepoint) LargeObjects() pgx.LargeObjects { return s.tx.LargeObjects() }

func (s *savepoint) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return s.tx.Prepare(ctx, name, sql)
}

func (s *savepoint) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return s.tx.Exec(ctx, sql, args...)
}

func (s *savepoint) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return s.tx.Query(ctx, sql, args...)
}

func (s *savepoint) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return s.tx.QueryRow(ctx, sql, args...)
}

func (s *savepoint) Conn() *pgx.Conn { return s.tx.conn }

// batchRows are the rows of the last statement of a pipeline; the pipeline
// is closed (its end read) when they are.
type batchRows struct {
	pgx.Rows
	br       pgx.BatchResults
	closeErr error
	done     bool
}

func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *batchRows) Close() {
	if r.done {
		return
	}
	r.done = true
	r.Rows.Close()
	r.closeErr = r.br.Close()
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.closeErr
}

// firstRow is pgx.Row over Query, as pgx's QueryRow is.
type firstRow struct {
	rows pgx.Rows
	err  error
}

func (r *firstRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

// errBatchResults answers every call with err.
type errBatchResults struct{ err error }

func (e errBatchResults) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, e.err }
func (e errBatchResults) Query() (pgx.Rows, error)         { return nil, e.err }
func (e errBatchResults) QueryRow() pgx.Row                { return &firstRow{err: e.err} }
func (e errBatchResults) Close() error                     { return e.err }
func (e errBatchResults) Tx() pgx.Tx                       { return nil }

// deferring is the executor of writeHot's queries: it queues each Exec on
// the transaction (lazyTx.deferWrite), and refuses reads.
type deferring struct {
	tx   *lazyTx
	fail func(error) error
}

// errDeferredRead: the deferring executor takes writes only.
var errDeferredRead = errors.New("postgres: a read through the deferred-write executor")

func (d deferring) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return pgconn.CommandTag{}, d.tx.deferWrite(sql, args, d.fail)
}

func (d deferring) Query(context.Context, string, ...any) (pgx.Rows, error) {
	return nil, errDeferredRead
}

func (d deferring) QueryRow(context.Context, string, ...any) pgx.Row {
	return &firstRow{err: errDeferredRead}
}
