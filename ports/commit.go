package ports

import "context"

// asyncCommitKey marks a context whose Store.Tx may commit asynchronously.
type asyncCommitKey struct{}

// WithAsyncCommit marks the transactions that Store.Tx runs with ctx as ones
// whose commit need not wait for the database to have it on disk: Tx returns
// once the commit is visible to everyone, and a crash of the database
// within a moment of it (PostgreSQL: three times wal_writer_delay at most)
// may lose it whole, never in part. Any later transaction that commits
// durably makes it durable too, so nothing stored can come to depend on a
// commit that is lost.
//
// Only for writes whose loss is mended by doing the work again: the record
// of a delivery attempt's outcome, whose loss leaves the call queued with
// its job, so that it is delivered again under the same webhook-id (rule
// 10 of docs/rules.md). Never for what the service acknowledges to someone
// as kept: a click's call, a partner's callback, a recording.
func WithAsyncCommit(ctx context.Context) context.Context {
	return context.WithValue(ctx, asyncCommitKey{}, true)
}

// AsyncCommit reports whether ctx was marked by WithAsyncCommit.
func AsyncCommit(ctx context.Context) bool {
	v, _ := ctx.Value(asyncCommitKey{}).(bool)
	return v
}
