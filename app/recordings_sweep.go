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

// DefaultRecordingSweepBatch is how many old objects the sweep checks
// against the recordings in one read: a run over hundreds of thousands of
// objects makes a few hundred reads, each an index scan of a batch.
const DefaultRecordingSweepBatch = 500

// RecordingSweeper deletes the audio objects that no recording refers to:
// those of callbacks whose transaction failed after the object was written,
// when the callback's own clean-up (best effort) did not run or failed.
type RecordingSweeper struct {
	store  ports.Store
	audio  ports.AudioStore
	clock  ports.Clock
	logger *slog.Logger
	batch  int // old objects per ReferencedAudio read
}

// NewRecordingSweeper builds the sweeper.
func NewRecordingSweeper(store ports.Store, audio ports.AudioStore, clock ports.Clock, logger *slog.Logger) *RecordingSweeper {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &RecordingSweeper{store: store, audio: audio, clock: clock, logger: logger, batch: DefaultRecordingSweepBatch}
}

// oldObject is an object of the listing past the grace period.
type oldObject struct {
	key     string
	written time.Time
}

// Sweep lists the audio store and deletes every object written more than
// grace ago (DefaultRecordingSweepGrace when grace <= 0) whose SHA-256 no
// recording row references. It returns how many it deleted.
//
// The old objects are checked a batch at a time (DefaultRecordingSweepBatch),
// in one read per batch: the referenced ones, nearly all of them, are left
// there and then. Only those the read found unreferenced go through
// deleteUnreferencedAudio, which counts the references again under the
// content lock before it deletes, so a callback whose row commits after the
// batch's read still keeps its object. The read takes no lock and decides
// no deletion: it only spares the referenced objects a transaction each.
//
// An object that cannot be checked or deleted is logged and skipped (a
// batch whose read fails, every object of it); the sweep goes on, and
// returns an error naming how many were skipped, so that the next sweep
// tries them again. A re-sent recording rewrites its object (Put moves its
// write time), so an old orphan whose content arrives again is protected
// too, except between this sweep listing it and deleting it (at most a
// batch of listing later): there the content lock and the callback's
// ensureStored keep it.
func (s *RecordingSweeper) Sweep(ctx context.Context, grace time.Duration) (deleted int, err error) {
	if grace <= 0 {
		grace = DefaultRecordingSweepGrace
	}
	began := time.Now()
	cutoff := s.clock.Now().Add(-grace)
	var (
		seen, old, failed, batches int
		firstErr                   error
	)
	// fail skips objects: one, or a batch whose read failed (logged once,
	// by its first key and its size, not a line per object).
	fail := func(keys []string, what string, err error) {
		failed += len(keys)
		if firstErr == nil {
			firstErr = fmt.Errorf("%s %s: %w", what, keys[0], err)
		}
		attrs := []any{slog.String("sha256", keys[0]), slog.String("error", err.Error())}
		if len(keys) > 1 {
			attrs = append(attrs, slog.Int("objects", len(keys)))
		}
		s.logger.WarnContext(ctx, "recording sweep: "+what+" failed; the next sweep tries again", attrs...)
	}
	batch := make([]oldObject, 0, s.batch)
	// sweepBatch checks the batch in one read and deletes the unreferenced
	// objects of it. It returns an error only when ctx has ended.
	sweepBatch := func() error {
		if len(batch) == 0 {
			return nil
		}
		defer func() { batch = batch[:0] }()
		if err := ctx.Err(); err != nil {
			return err
		}
		batches++
		keys := make([]string, len(batch))
		for i, o := range batch {
			keys[i] = o.key
		}
		var refs []string
		err := s.store.Read(ctx, func(ctx context.Context, r ports.Repositories) (err error) {
			refs, err = r.ReferencedAudio(ctx, keys)
			return err
		})
		if err != nil {
			fail(keys, "checking", err)
			return nil
		}
		referenced := make(map[string]bool, len(refs))
		for _, key := range refs {
			referenced[key] = true
		}
		for _, o := range batch {
			if referenced[o.key] {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			ok, err := deleteUnreferencedAudio(ctx, s.store, s.audio, o.key)
			if err != nil {
				fail([]string{o.key}, "deleting", err)
				continue
			}
			if !ok {
				continue // referenced since the batch's read
			}
			deleted++
			s.logger.InfoContext(ctx, "recording sweep: deleted an object no recording refers to",
				slog.String("sha256", o.key), slog.Time("written", o.written))
		}
		return nil
	}
	listErr := s.audio.List(ctx, func(key string, written time.Time) error {
		seen++
		if !written.Before(cutoff) {
			return nil // its row may be about to commit
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		old++
		batch = append(batch, oldObject{key: key, written: written})
		if len(batch) < s.batch {
			return nil
		}
		return sweepBatch()
	})
	var lastErr error
	if listErr == nil {
		lastErr = sweepBatch() // the listing's last, short batch
	}
	s.logger.InfoContext(ctx, "recording sweep done",
		slog.Int("objects", seen), slog.Int("old", old), slog.Int("batches", batches),
		slog.Int("deleted", deleted), slog.Int("failed", failed),
		slog.Duration("grace", grace), slog.Int64("duration_ms", time.Since(began).Milliseconds()))
	if listErr != nil {
		return deleted, fmt.Errorf("recording sweep: listing the audio store: %w", listErr)
	}
	if lastErr != nil {
		return deleted, fmt.Errorf("recording sweep: %w", lastErr)
	}
	if failed > 0 {
		return deleted, fmt.Errorf("recording sweep: %d objects skipped, the first: %w", failed, firstErr)
	}
	return deleted, nil
}
