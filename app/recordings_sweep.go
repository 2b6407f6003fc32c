package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"callconnect/ports"
)

// DefaultRecordingSweepGrace is how old an object must be before a sweep
// may delete it. A callback writes its recording before the row that refers
// to it commits; an object younger than this may be such a recording, its
// row still to come.
const DefaultRecordingSweepGrace = time.Hour

// RecordingSweeper deletes the audio objects that no recording refers to:
// those of callbacks whose transaction failed after the object was written,
// when the callback's own clean-up (best effort) did not run or failed.
type RecordingSweeper struct {
	store  ports.Store
	audio  ports.AudioStore
	clock  ports.Clock
	logger *slog.Logger
}

// NewRecordingSweeper builds the sweeper.
func NewRecordingSweeper(store ports.Store, audio ports.AudioStore, clock ports.Clock, logger *slog.Logger) *RecordingSweeper {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &RecordingSweeper{store: store, audio: audio, clock: clock, logger: logger}
}

// Sweep lists the audio store and deletes every object written more than
// grace ago (DefaultRecordingSweepGrace when grace <= 0) whose SHA-256 no
// recording row references. It returns how many it deleted.
//
// An object that cannot be checked or deleted is logged and skipped; the
// sweep goes on, and returns an error naming how many were skipped, so that
// the next sweep tries them again. A re-sent recording rewrites its object
// (Put moves its write time), so an old orphan whose content arrives again
// is protected too, except within the instant between this sweep reading
// its time and deleting it.
func (s *RecordingSweeper) Sweep(ctx context.Context, grace time.Duration) (deleted int, err error) {
	if grace <= 0 {
		grace = DefaultRecordingSweepGrace
	}
	began := time.Now()
	cutoff := s.clock.Now().Add(-grace)
	var (
		seen, failed int
		firstErr     error
	)
	fail := func(key, what string, err error) {
		failed++
		if firstErr == nil {
			firstErr = fmt.Errorf("%s %s: %w", what, key, err)
		}
		s.logger.WarnContext(ctx, "recording sweep: "+what+" failed; the next sweep tries again",
			slog.String("sha256", key), slog.String("error", err.Error()))
	}
	listErr := s.audio.List(ctx, func(key string, written time.Time) error {
		seen++
		if !written.Before(cutoff) {
			return nil // its row may be about to commit
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		ok, err := deleteUnreferencedAudio(ctx, s.store, s.audio, key)
		if err != nil {
			fail(key, "deleting", err)
			return nil
		}
		if !ok {
			return nil
		}
		deleted++
		s.logger.InfoContext(ctx, "recording sweep: deleted an object no recording refers to",
			slog.String("sha256", key), slog.Time("written", written))
		return nil
	})
	s.logger.InfoContext(ctx, "recording sweep done",
		slog.Int("objects", seen), slog.Int("deleted", deleted), slog.Int("failed", failed),
		slog.Duration("grace", grace), slog.Int64("duration_ms", time.Since(began).Milliseconds()))
	if listErr != nil {
		return deleted, fmt.Errorf("recording sweep: listing the audio store: %w", listErr)
	}
	if failed > 0 {
		return deleted, fmt.Errorf("recording sweep: %d objects skipped, the first: %w", failed, firstErr)
	}
	return deleted, nil
}
