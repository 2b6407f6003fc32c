package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// DefaultMonitorRetention is how long the monitor keeps exchanges.
const DefaultMonitorRetention = 30 * 24 * time.Hour

// monitorDaysAhead is how many days after today are readied for recording:
// a week of margin should the maintenance job not run for a while.
const monitorDaysAhead = 7

// MonitorRetentionConfig tunes MonitorRetention.
type MonitorRetentionConfig struct {
	// Retention is how long exchanges are kept; DefaultMonitorRetention
	// when zero. Exchanges go a whole UTC day at a time, once the day's end
	// is older than this, so the oldest kept is at most a day older.
	Retention time.Duration
}

// MonitorRetention keeps the monitor's storage in shape: the days ahead
// ready to record, the days past the retention gone.
type MonitorRetention struct {
	days   ports.ExchangeRetention
	clock  ports.Clock
	cfg    MonitorRetentionConfig
	logger *slog.Logger
}

// NewMonitorRetention builds the service.
func NewMonitorRetention(days ports.ExchangeRetention, clock ports.Clock, cfg MonitorRetentionConfig, logger *slog.Logger) *MonitorRetention {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultMonitorRetention
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &MonitorRetention{days: days, clock: clock, cfg: cfg, logger: logger}
}

// RetentionRun is what one run of MonitorRetention did.
type RetentionRun struct {
	Prepared int         // days readied
	Dropped  []time.Time // days removed (their midnights, UTC), oldest first
}

// Run readies yesterday to a week ahead and drops the days whose end is
// older than the retention. Both halves run even if one fails; the error
// joins their failures.
func (m *MonitorRetention) Run(ctx context.Context) (RetentionRun, error) {
	now := m.clock.Now()
	today := domain.DayStart(now)
	var run RetentionRun
	var prepErr, dropErr error
	run.Prepared, prepErr = m.days.PrepareExchangeDays(ctx, today.AddDate(0, 0, -1), today.AddDate(0, 0, monitorDaysAhead))
	run.Dropped, dropErr = m.days.DropExchangeDays(ctx, now.Add(-m.cfg.Retention))
	err := errors.Join(prepErr, dropErr)
	if err != nil {
		m.logger.WarnContext(ctx, "monitor retention failed; the next run tries again", "error", err)
	}
	if run.Prepared > 0 || len(run.Dropped) > 0 {
		m.logger.InfoContext(ctx, "monitor retention", "days_prepared", run.Prepared, "days_dropped", len(run.Dropped))
	}
	return run, err
}
