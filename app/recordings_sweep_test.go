package app_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/memory"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

func TestRecordingSweeperDeletesOnlyOldOrphans(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	audio, err := audiostore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(content string) string {
		t.Helper()
		b := []byte(content)
		key := domain.AudioKey(b)
		if err := audio.Put(ctx, key, domain.AudioMPEG, bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
		return key
	}
	oldOrphan := put("an orphan from a callback that failed hours ago")
	referenced := put("a recording whose row committed")
	youngOrphan := put("a recording whose row is about to commit")

	rec, err := domain.NewRecording(domain.RecordingInput{ID: "rec-1", EnvID: "acme", LeadID: "1", SHA256: referenced,
		Size: 31, ContentType: domain.AudioMPEG, CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error { return r.PutRecording(ctx, rec) }); err != nil {
		t.Fatal(err)
	}

	// The FS store reports the files' real write times: the sweeper's clock
	// shows three hours later, so every object is old by an hour's grace
	// except the young one, whose write time is set ten minutes before the
	// clock.
	clock := memory.NewClock(time.Now().Add(3 * time.Hour))
	young := clock.Now().Add(-10 * time.Minute)
	if err := os.Chtimes(filepath.Join(audio.Root(), youngOrphan[:2], youngOrphan[2:4], youngOrphan), young, young); err != nil {
		t.Fatal(err)
	}

	sweeper := app.NewRecordingSweeper(f.store, audio, clock, nil)
	deleted, err := sweeper.Sweep(ctx, time.Hour)
	if err != nil || deleted != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 deleted", deleted, err)
	}
	wantObject := func(key, what string, want bool) {
		t.Helper()
		obj, err := audio.Open(ctx, key)
		if err == nil {
			obj.Close()
		}
		switch {
		case want && err != nil:
			t.Errorf("%s: Open: %v, want it kept", what, err)
		case !want && !errors.Is(err, ports.ErrNotFound):
			t.Errorf("%s: Open: %v, want ErrNotFound (deleted)", what, err)
		}
	}
	wantObject(oldOrphan, "the old orphan", false)
	wantObject(referenced, "the referenced object", true)
	wantObject(youngOrphan, "the young orphan", true)

	// Nothing left to do; once the young orphan has aged, it goes too.
	if deleted, err := sweeper.Sweep(ctx, time.Hour); err != nil || deleted != 0 {
		t.Fatalf("second Sweep = %d, %v; want 0 deleted", deleted, err)
	}
	clock.Advance(time.Hour)
	if deleted, err := sweeper.Sweep(ctx, 0); err != nil || deleted != 1 {
		t.Fatalf("Sweep after an hour = %d, %v; want 1 deleted (the default grace is an hour)", deleted, err)
	}
	wantObject(youngOrphan, "the aged orphan", false)
	wantObject(referenced, "the referenced object", true)
}

// failingDelete is an audio store whose Delete fails.
type failingDelete struct{ ports.AudioStore }

func (failingDelete) Delete(context.Context, string) error { return errors.New("disk on fire") }

func TestRecordingSweeperReportsObjectsItCouldNotDelete(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	audio, err := audiostore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := []byte("an orphan")
	if err := audio.Put(ctx, domain.AudioKey(b), domain.AudioMPEG, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
	sweeper := app.NewRecordingSweeper(f.store, failingDelete{audio}, memory.NewClock(time.Now().Add(2*time.Hour)), nil)
	if deleted, err := sweeper.Sweep(ctx, time.Hour); err == nil || deleted != 0 {
		t.Fatalf("Sweep = %d, %v; want 0 deleted and an error", deleted, err)
	}
}
