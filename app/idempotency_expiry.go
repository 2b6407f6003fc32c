package app

import (
	"context"
	"log/slog"
	"time"

	"callconnect/ports"
)

// DefaultIdempotencyExpiryBatch is how many answers one statement of the
// expiry deletes at most: enough that a day of callbacks goes in a few
// statements, few enough that none holds a large transaction.
const DefaultIdempotencyExpiryBatch = 10_000

// IdempotencyExpiryConfig tunes IdempotencyKeyExpiry.
type IdempotencyExpiryConfig struct {
	// Batch is the most answers one statement deletes;
	// DefaultIdempotencyExpiryBatch when zero.
	Batch int
}

// IdempotencyKeyExpiry deletes the Idempotency-Key answers past
// ports.IdempotencyRetention. Callbacks already treat those as absent; this
// keeps their table from growing forever.
type IdempotencyKeyExpiry struct {
	keys   ports.IdempotencyExpiry
	clock  ports.Clock
	cfg    IdempotencyExpiryConfig
	logger *slog.Logger
}

// NewIdempotencyKeyExpiry builds the service.
func NewIdempotencyKeyExpiry(keys ports.IdempotencyExpiry, clock ports.Clock, cfg IdempotencyExpiryConfig, logger *slog.Logger) *IdempotencyKeyExpiry {
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultIdempotencyExpiryBatch
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &IdempotencyKeyExpiry{keys: keys, clock: clock, cfg: cfg, logger: logger}
}

// IdempotencyExpiryRun is what one run of IdempotencyKeyExpiry did.
type IdempotencyExpiryRun struct {
	Deleted int64     // answers deleted
	Cutoff  time.Time // answers stored before it were expired
	// CutShort is set when ctx ended before the expired answers ran out:
	// the batches done stay done, and the next run goes on from there.
	CutShort bool
}

// Run deletes the answers stored more than ports.IdempotencyRetention ago,
// a batch at a time, until a batch comes back short. When ctx ends it stops
// (between batches, or by failing the batch in progress) and returns the
// run CutShort with the error. The answers deleted are counted even when a
// batch fails.
func (e *IdempotencyKeyExpiry) Run(ctx context.Context) (IdempotencyExpiryRun, error) {
	run := IdempotencyExpiryRun{Cutoff: e.clock.Now().Add(-ports.IdempotencyRetention)}
	var err error
	for {
		if err = ctx.Err(); err != nil {
			break
		}
		var n int64
		n, err = e.keys.DeleteIdempotencyKeysBefore(ctx, run.Cutoff, e.cfg.Batch)
		run.Deleted += n
		if err != nil || n < int64(e.cfg.Batch) {
			break
		}
	}
	// A batch that fails once ctx has ended failed because it ended (the
	// driver's error need not say so): the run is cut short, not failed.
	run.CutShort = err != nil && ctx.Err() != nil
	switch {
	case err != nil && !run.CutShort:
		e.logger.WarnContext(ctx, "idempotency key expiry failed; the next run tries again",
			"error", err, "keys_deleted", run.Deleted)
	case run.Deleted > 0 || run.CutShort:
		e.logger.InfoContext(ctx, "idempotency key expiry",
			"keys_deleted", run.Deleted, "cutoff", run.Cutoff, "cut_short", run.CutShort)
	}
	return run, err
}
