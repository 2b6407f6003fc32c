package app

import (
	"context"
	"log/slog"
	"time"

	"callconnect/ports"
)

// DefaultEventRetentionBatch is how many events one statement of the
// retention deletes at most: a day of a busy environment in a few
// statements, none of them a long transaction.
const DefaultEventRetentionBatch = 10_000

// EventRetentionConfig tunes EventRetention.
type EventRetentionConfig struct {
	// Retention is how long events are kept: as long as the monitor keeps
	// exchanges (CALLCONNECT_MONITOR_RETENTION); DefaultMonitorRetention
	// when zero.
	Retention time.Duration
	// Batch is the most events one statement deletes;
	// DefaultEventRetentionBatch when zero.
	Batch int
}

// EventRetention deletes the events older than the retention, so that the
// feed keeps what the monitor keeps and its table stops growing.
type EventRetention struct {
	events ports.EventRetention
	clock  ports.Clock
	cfg    EventRetentionConfig
	logger *slog.Logger
}

// NewEventRetention builds the service.
func NewEventRetention(events ports.EventRetention, clock ports.Clock, cfg EventRetentionConfig, logger *slog.Logger) *EventRetention {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultMonitorRetention
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultEventRetentionBatch
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &EventRetention{events: events, clock: clock, cfg: cfg, logger: logger}
}

// EventRetentionRun is what one run of EventRetention did.
type EventRetentionRun struct {
	Deleted int64     // events deleted
	Cutoff  time.Time // events that occurred before it were deleted
	// CutShort is set when ctx ended before the old events ran out: the
	// batches done stay done, and the next run goes on from there.
	CutShort bool
}

// Run deletes the events that occurred more than the retention ago, a
// batch at a time, until a batch comes back short. When ctx ends it stops
// (between batches, or by failing the batch in progress) and returns the
// run CutShort with the error. The events deleted are counted even when a
// batch fails.
func (e *EventRetention) Run(ctx context.Context) (EventRetentionRun, error) {
	run := EventRetentionRun{Cutoff: e.clock.Now().Add(-e.cfg.Retention)}
	var err error
	for {
		if err = ctx.Err(); err != nil {
			break
		}
		var n int64
		n, err = e.events.DeleteEventsBefore(ctx, run.Cutoff, e.cfg.Batch)
		run.Deleted += n
		if err != nil || n < int64(e.cfg.Batch) {
			break
		}
	}
	run.CutShort = err != nil && ctx.Err() != nil
	switch {
	case err != nil && !run.CutShort:
		e.logger.WarnContext(ctx, "event retention failed; the next run tries again", "error", err, "events_deleted", run.Deleted)
	case run.Deleted > 0 || run.CutShort:
		e.logger.InfoContext(ctx, "event retention", "events_deleted", run.Deleted, "cutoff", run.Cutoff, "cut_short", run.CutShort)
	}
	return run, err
}
