package app

import (
	"context"
	"log/slog"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// DefaultNoResultBatch is how many calls one transaction of the marking
// takes at most: a minute of calls at a busy hour in a few transactions,
// each short enough to hold its rows only briefly.
const DefaultNoResultBatch = 500

// NoResultConfig tunes NoResultMarker.
type NoResultConfig struct {
	// Batch is the most calls one transaction marks; DefaultNoResultBatch
	// when zero.
	Batch int
}

// NoResultMarker writes down no_result (sem retorno) for the delivered
// calls whose result deadline (CallsConfig.ResultDeadline) has passed.
// Readers already see them so (Calls.GetCall); this makes the stored
// status say it too, for the lists' filters and for whatever reads the
// table.
type NoResultMarker struct {
	store    unitOfWork[noResultRepos]
	clock    ports.Clock
	deadline time.Duration
	cfg      NoResultConfig
	logger   *slog.Logger
}

// noResultRepos is what marking calls no_result reads and writes.
type noResultRepos interface {
	LockCallsAwaitingResult(ctx context.Context, acceptedBy time.Time, limit int) ([]domain.Call, error)
	PutCall(ctx context.Context, c domain.Call) error
}

// NewNoResultMarker builds the service; calls gives the result deadline.
func NewNoResultMarker(store ports.Store, clock ports.Clock, calls CallsConfig, cfg NoResultConfig, logger *slog.Logger) *NoResultMarker {
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultNoResultBatch
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &NoResultMarker{store: narrow(store, func(r ports.Repositories) noResultRepos { return r }), clock: clock, deadline: calls.withResultDeadline().ResultDeadline, cfg: cfg, logger: logger}
}

// NoResultRun is what one run of NoResultMarker did.
type NoResultRun struct {
	Marked int64 // calls marked no_result
	// AcceptedBy is the run's cut-off: the calls the partner accepted at or
	// before it were due.
	AcceptedBy time.Time
	// CutShort is set when ctx ended before the due calls ran out: the
	// batches done stay done, and the next run goes on from there.
	CutShort bool
}

// Run marks the delivered calls the partner accepted a result deadline ago
// or more, a batch (one transaction) at a time, until a batch comes back
// short. A call whose result is being recorded meanwhile is left to its
// result. When ctx ends it stops (between batches, or by failing the batch
// in progress) and returns the run CutShort with the error.
func (m *NoResultMarker) Run(ctx context.Context) (NoResultRun, error) {
	now := m.clock.Now()
	run := NoResultRun{AcceptedBy: now.Add(-m.deadline)}
	var err error
	for {
		if err = ctx.Err(); err != nil {
			break
		}
		var taken, marked int
		err = m.store.Tx(ctx, func(ctx context.Context, r noResultRepos) error {
			taken, marked = 0, 0
			calls, err := r.LockCallsAwaitingResult(ctx, run.AcceptedBy, m.cfg.Batch)
			if err != nil {
				return err
			}
			taken = len(calls)
			for _, c := range calls {
				if err := c.MarkNoResult(now, m.deadline); err != nil {
					// Not due after all (storage and domain disagree on a
					// time): leave it rather than fail the batch for it.
					m.logger.WarnContext(ctx, "a call taken as due for no_result is not",
						"env_id", c.EnvID(), "call_id", c.ID(), "delivered_at", c.DeliveredAt(), "error", err)
					continue
				}
				if err := r.PutCall(ctx, c); err != nil {
					return err
				}
				marked++
			}
			return nil
		})
		if err != nil {
			break
		}
		run.Marked += int64(marked)
		if taken < m.cfg.Batch || marked == 0 {
			break
		}
	}
	// A batch that fails once ctx has ended failed because it ended.
	run.CutShort = err != nil && ctx.Err() != nil
	switch {
	case err != nil && !run.CutShort:
		m.logger.WarnContext(ctx, "marking calls no_result failed; the next run tries again",
			"error", err, "calls_marked", run.Marked)
	case run.Marked > 0 || run.CutShort:
		m.logger.InfoContext(ctx, "calls without a result marked no_result",
			"calls_marked", run.Marked, "accepted_by", run.AcceptedBy, "cut_short", run.CutShort)
	}
	return run, err
}
