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
	refs    unitOfWork[audioReads] // the batches' reads
	content unitOfWork[audioRefs]  // the deletions
	audio   ports.AudioStore
	clock   ports.Clock
	logger  *slog.Logger
	batch   int // old objects per ReferencedAudio read
}

// NewRecordingSweeper builds the sweeper.
func NewRecordingSweeper(store ports.Store, audio ports.AudioStore, clock ports.Clock, logger *slog.Logger) *RecordingSweeper {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &RecordingSweeper{
		refs:    narrow(store, func(r ports.Repositories) audioReads { return r }),
		content: narrow(store, func(r ports.Repositories) audioRefs { return r }),
		audio:   audio, clock: clock, logger: logger, batch: DefaultRecordingSweepBatch}
}

// audioReads tells, in one read, which audio objects recordings refer to.
type audioReads interface {
	ReferencedAudio(ctx context.Context, sha256s []string) ([]string, error)
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
	run := &sweepRun{s: s, cutoff: s.clock.Now().Add(-grace), batch: make([]oldObject, 0, s.batch)}
	listErr := s.audio.List(ctx, func(key string, written time.Time) error { return run.see(ctx, key, written) })
	var lastErr error
	if listErr == nil {
		lastErr = run.sweepBatch(ctx) // the listing's last, short batch
	}
	s.logger.InfoContext(ctx, "recording sweep done",
		slog.Int("objects", run.seen), slog.Int("old", run.old), slog.Int("batches", run.batches),
		slog.Int("deleted", run.deleted), slog.Int("failed", run.failed),
		slog.Duration("grace", grace), slog.Int64("duration_ms", time.Since(began).Milliseconds()))
	switch {
	case listErr != nil:
		return run.deleted, fmt.Errorf("recording sweep: listing the audio store: %w", listErr)
	case lastErr != nil:
		return run.deleted, fmt.Errorf("recording sweep: %w", lastErr)
	case run.failed > 0:
		return run.deleted, fmt.Errorf("recording sweep: %d objects skipped, the first: %w", run.failed, run.firstErr)
	}
	return run.deleted, nil
}

// sweepRun is one Sweep under way: the batch of old objects being
// gathered, and what it counted.
type sweepRun struct {
	s      *RecordingSweeper
	cutoff time.Time // objects written before it are old
	batch  []oldObject

	seen, old, batches, deleted, failed int
	firstErr                            error // of the first object skipped
}

// see takes one object of the listing: an old one joins the batch, which
// is swept once full.
func (r *sweepRun) see(ctx context.Context, key string, written time.Time) error {
	r.seen++
	if !written.Before(r.cutoff) {
		return nil // its row may be about to commit
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.old++
	r.batch = append(r.batch, oldObject{key: key, written: written})
	if len(r.batch) < r.s.batch {
		return nil
	}
	return r.sweepBatch(ctx)
}

// sweepBatch checks the batch in one read and deletes the unreferenced
// objects of it. It returns an error only when ctx has ended.
func (r *sweepRun) sweepBatch(ctx context.Context) error {
	if len(r.batch) == 0 {
		return nil
	}
	defer func() { r.batch = r.batch[:0] }()
	if err := ctx.Err(); err != nil {
		return err
	}
	r.batches++
	keys := make([]string, len(r.batch))
	for i, o := range r.batch {
		keys[i] = o.key
	}
	referenced, err := r.s.referenced(ctx, keys)
	if err != nil {
		r.fail(ctx, keys, "checking", err)
		return nil
	}
	for _, o := range r.batch {
		if referenced[o.key] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		r.delete(ctx, o)
	}
	return nil
}

// delete deletes the object if no recording refers to it still.
func (r *sweepRun) delete(ctx context.Context, o oldObject) {
	ok, err := deleteUnreferencedAudio(ctx, r.s.content, r.s.audio, o.key)
	if err != nil {
		r.fail(ctx, []string{o.key}, "deleting", err)
		return
	}
	if !ok {
		return // referenced since the batch's read
	}
	r.deleted++
	r.s.logger.InfoContext(ctx, "recording sweep: deleted an object no recording refers to",
		slog.String("sha256", o.key), slog.Time("written", o.written))
}

// fail skips objects: one, or a batch whose read failed (logged once, by
// its first key and its size, not a line per object).
func (r *sweepRun) fail(ctx context.Context, keys []string, what string, err error) {
	r.failed += len(keys)
	if r.firstErr == nil {
		r.firstErr = fmt.Errorf("%s %s: %w", what, keys[0], err)
	}
	attrs := []any{slog.String("sha256", keys[0]), slog.String("error", err.Error())}
	if len(keys) > 1 {
		attrs = append(attrs, slog.Int("objects", len(keys)))
	}
	r.s.logger.WarnContext(ctx, "recording sweep: "+what+" failed; the next sweep tries again", attrs...)
}

// referenced says which of keys some recording refers to, in one read that
// takes no lock.
func (s *RecordingSweeper) referenced(ctx context.Context, keys []string) (map[string]bool, error) {
	var refs []string
	err := s.refs.Read(ctx, func(ctx context.Context, r audioReads) (err error) {
		refs, err = r.ReferencedAudio(ctx, keys)
		return err
	})
	if err != nil {
		return nil, err
	}
	referenced := make(map[string]bool, len(refs))
	for _, key := range refs {
		referenced[key] = true
	}
	return referenced, nil
}
