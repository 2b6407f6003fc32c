package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"callconnect/app"
	"callconnect/ports"
)

// QueueMaintenance is the River queue of the periodic upkeep jobs. A client
// works it only when it has periodic jobs (Config.PeriodicJobs).
const QueueMaintenance = "maintenance"

// SweepRecordingsInterval is how often the recording sweep runs.
const SweepRecordingsInterval = time.Hour

// sweepTempAge is how old a temporary object of the audio store must be
// before the sweep removes it: no Put in progress takes that long.
const sweepTempAge = time.Hour

// SweepRecordingsArgs is the periodic job that deletes the audio objects no
// recording refers to, and the temporary objects crashed Puts left behind.
type SweepRecordingsArgs struct{}

// Kind names the job in river_job.kind.
func (SweepRecordingsArgs) Kind() string { return "sweep_recordings" }

// InsertOpts puts the job on the maintenance queue. A failed sweep is not
// retried: the next one, an interval later, does the same work.
func (SweepRecordingsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 1}
}

// SweepRecordingsPeriodicJob runs the sweep every SweepRecordingsInterval,
// and once as the client becomes leader. River inserts periodic jobs on the
// elected leader only, so the sweep runs once per interval however many
// processes run the jobs module.
func SweepRecordingsPeriodicJob() *river.PeriodicJob {
	return maintenanceJob(SweepRecordingsArgs{}, SweepRecordingsInterval)
}

// maintenanceJob is the periodic job of an upkeep task: args every
// interval, and once as the client becomes leader, identified by its kind.
func maintenanceJob(args river.JobArgs, interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(
		river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return args, nil },
		&river.PeriodicJobOpts{ID: args.Kind(), RunOnStart: true},
	)
}

// SweepConfig tunes the SweepRecordingsWorker.
type SweepConfig struct {
	// Grace is how old an unreferenced object must be to be deleted;
	// app.DefaultRecordingSweepGrace when zero.
	Grace time.Duration
	// Clock dates the temporary objects' cut-off; the system clock when nil.
	Clock ports.Clock
	// Logger hears of the sweep's result; none when nil.
	Logger *slog.Logger
}

// TempObjects are the temporary objects an audio store keeps while a Put is
// in progress: RemoveTemp deletes those older than before, which crashed
// Puts left behind (both of adapters/audiostore's stores have them).
type TempObjects interface {
	RemoveTemp(ctx context.Context, before time.Time) (int, error)
}

// SweepRecordingsWorker runs app.RecordingSweeper.Sweep and, given the audio
// store's TempObjects, their RemoveTemp.
//
// Its runs are bounded by the client's JobTimeout (a run longer than the
// client's RescueAfter would be taken for abandoned and run again); a sweep
// cut short is logged and the next one starts over.
type SweepRecordingsWorker struct {
	river.WorkerDefaults[SweepRecordingsArgs]
	sweeper *app.RecordingSweeper
	temp    TempObjects // nil when the store has no temporary objects to sweep
	cfg     SweepConfig
}

// NewSweepRecordingsWorker returns the worker; temp are the temporary
// objects of the store the sweeper sweeps (nil when it keeps none).
func NewSweepRecordingsWorker(sweeper *app.RecordingSweeper, temp TempObjects, cfg SweepConfig) *SweepRecordingsWorker {
	if cfg.Clock == nil {
		cfg.Clock = wallClock{}
	}
	cfg.Logger = orDiscard(cfg.Logger)
	return &SweepRecordingsWorker{sweeper: sweeper, temp: temp, cfg: cfg}
}

// Work sweeps once.
func (w *SweepRecordingsWorker) Work(ctx context.Context, _ *river.Job[SweepRecordingsArgs]) error {
	_, sweepErr := w.sweeper.Sweep(ctx, w.cfg.Grace)
	var tempErr error
	if w.temp != nil {
		n, err := w.temp.RemoveTemp(ctx, w.cfg.Clock.Now().Add(-sweepTempAge))
		if err != nil {
			tempErr = fmt.Errorf("removing temporary audio objects: %w", err)
		}
		w.cfg.Logger.InfoContext(ctx, "recording sweep: temporary objects removed", slog.Int("removed", n))
	}
	if err := errors.Join(sweepErr, tempErr); err != nil {
		w.cfg.Logger.WarnContext(ctx, "recording sweep failed; the next one tries again", slog.String("error", err.Error()))
		return err
	}
	return nil
}

// wallClock is the system clock, for a SweepConfig without one.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }
