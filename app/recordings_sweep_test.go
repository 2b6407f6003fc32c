package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// sweepStore counts the reads and transactions the sweep makes, records the
// batches it asks ReferencedAudio about, and can fail one of those reads or
// run something once a read is over.
type sweepStore struct {
	ports.Store
	reads, txs int
	batches    [][]string
	failBatch  int    // the batch (counting from 1) whose read fails; 0: none
	afterRead  func() // run after every Read
}

func (s *sweepStore) Read(ctx context.Context, fn func(ctx context.Context, r ports.Repositories) error) error {
	s.reads++
	err := s.Store.Read(ctx, func(ctx context.Context, r ports.Repositories) error {
		r.History = batchRecorder{r.History, s}
		return fn(ctx, r)
	})
	if s.afterRead != nil {
		s.afterRead()
	}
	return err
}

func (s *sweepStore) Tx(ctx context.Context, fn func(ctx context.Context, r ports.Repositories) error) error {
	s.txs++
	return s.Store.Tx(ctx, fn)
}

type batchRecorder struct {
	ports.History
	s *sweepStore
}

func (b batchRecorder) ReferencedAudio(ctx context.Context, sha256s []string) ([]string, error) {
	b.s.batches = append(b.s.batches, slices.Clone(sha256s))
	if len(b.s.batches) == b.s.failBatch {
		return nil, errors.New("replica gone")
	}
	return b.History.ReferencedAudio(ctx, sha256s)
}

// sweepObjects is an FS audio store whose objects' write times are set
// against clock, and the recordings of the fixture's store that refer to
// them.
type sweepObjects struct {
	t     *testing.T
	f     *fixture
	audio *audiostore.FS
	clock *memory.Clock
	recs  int
}

func newSweepObjects(t *testing.T, f *fixture) *sweepObjects {
	t.Helper()
	audio, err := audiostore.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &sweepObjects{t: t, f: f, audio: audio, clock: memory.NewClock(time.Now())}
}

// put stores content as if written age before the clock, and returns its key.
func (o *sweepObjects) put(content string, age time.Duration) string {
	o.t.Helper()
	b := []byte(content)
	key := domain.AudioKey(b)
	if err := o.audio.Put(context.Background(), key, domain.AudioMPEG, bytes.NewReader(b), int64(len(b))); err != nil {
		o.t.Fatal(err)
	}
	at := o.clock.Now().Add(-age)
	if err := os.Chtimes(filepath.Join(o.audio.Root(), key[:2], key[2:4], key), at, at); err != nil {
		o.t.Fatal(err)
	}
	return key
}

// reference commits a recording of key.
func (o *sweepObjects) reference(key string) {
	o.t.Helper()
	o.recs++
	rec, err := domain.NewRecording(domain.RecordingInput{ID: fmt.Sprintf("rec-%d", o.recs), EnvID: "acme", LeadID: "1",
		SHA256: key, Size: 1, ContentType: domain.AudioMPEG, CreatedAt: o.clock.Now()})
	if err != nil {
		o.t.Fatal(err)
	}
	if err := o.f.store.Tx(context.Background(), func(ctx context.Context, r ports.Repositories) error { return r.PutRecording(ctx, rec) }); err != nil {
		o.t.Fatal(err)
	}
}

// listed is the store's keys in its listing order.
func (o *sweepObjects) listed() []string {
	o.t.Helper()
	var keys []string
	if err := o.audio.List(context.Background(), func(key string, _ time.Time) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		o.t.Fatal(err)
	}
	return keys
}

func (o *sweepObjects) exists(key string) bool {
	o.t.Helper()
	obj, err := o.audio.Open(context.Background(), key)
	if err == nil {
		obj.Close()
		return true
	}
	if !errors.Is(err, ports.ErrNotFound) {
		o.t.Fatal(err)
	}
	return false
}

func TestRecordingSweeperChecksOldObjectsInBatches(t *testing.T) {
	f := newFixture(t)
	o := newSweepObjects(t, f)
	young := map[string]bool{}
	for i := range 7 {
		o.put(fmt.Sprintf("old object %d", i), 2*time.Hour)
	}
	for i := range 2 {
		young[o.put(fmt.Sprintf("young object %d", i), 10*time.Minute)] = true
	}
	var old []string // in listing order, the young ones wherever they fall
	for _, key := range o.listed() {
		if !young[key] {
			old = append(old, key)
		}
	}
	// With 3 a batch: [0 1 2] [3 4 5] [6]. Referenced are the last of the
	// first batch, the first of the second, and the one of the short last.
	referenced := map[string]bool{old[2]: true, old[3]: true, old[6]: true}
	for key := range referenced {
		o.reference(key)
	}

	store := &sweepStore{Store: f.store}
	sweeper := app.NewRecordingSweeper(store, o.audio, o.clock, nil)
	app.SetRecordingSweepBatch(sweeper, 3)
	deleted, err := sweeper.Sweep(context.Background(), time.Hour)
	if err != nil || deleted != 4 {
		t.Fatalf("Sweep = %d, %v; want 4 deleted", deleted, err)
	}
	if want := [][]string{old[0:3], old[3:6], old[6:7]}; !slices.EqualFunc(store.batches, want, slices.Equal) {
		t.Errorf("ReferencedAudio was asked about %q, want the old objects in listing order, 3 a batch: %q", store.batches, want)
	}
	if store.reads != 3 || store.txs != 4 {
		t.Errorf("the sweep made %d reads and %d transactions; want 3 reads (one a batch) and 4 transactions (one an orphan)", store.reads, store.txs)
	}
	for i, key := range old {
		if got, want := o.exists(key), referenced[key]; got != want {
			t.Errorf("old object %d (referenced: %t): exists = %t", i, referenced[key], got)
		}
	}
	for key := range young {
		if !o.exists(key) {
			t.Errorf("young orphan %s… deleted; its row may be about to commit", key[:8])
		}
	}
}

func TestRecordingSweeperReadsPerBatchNotPerObject(t *testing.T) {
	for _, tc := range []struct {
		objects, batch, wantReads int
	}{
		{objects: 0, batch: 3, wantReads: 0},
		{objects: 3, batch: 3, wantReads: 1},
		{objects: 7, batch: 3, wantReads: 3},
		{objects: 9, batch: 3, wantReads: 3},
		{objects: 10, batch: 3, wantReads: 4},
		{objects: 25, batch: 20, wantReads: 2},
		{objects: 25, wantReads: 1}, // the default batch
	} {
		name := fmt.Sprintf("%d objects by %d", tc.objects, tc.batch)
		if tc.batch == 0 {
			name = fmt.Sprintf("%d objects by the default batch", tc.objects)
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			o := newSweepObjects(t, f)
			for i := range tc.objects {
				o.reference(o.put(fmt.Sprintf("referenced object %d", i), 2*time.Hour))
			}
			store := &sweepStore{Store: f.store}
			sweeper := app.NewRecordingSweeper(store, o.audio, o.clock, nil)
			if tc.batch > 0 {
				app.SetRecordingSweepBatch(sweeper, tc.batch)
			}
			if deleted, err := sweeper.Sweep(context.Background(), time.Hour); err != nil || deleted != 0 {
				t.Fatalf("Sweep = %d, %v; want 0 deleted", deleted, err)
			}
			if store.reads != tc.wantReads || store.txs != 0 {
				t.Errorf("%d referenced objects: %d reads, %d transactions; want %d reads, no transaction",
					tc.objects, store.reads, store.txs, tc.wantReads)
			}
			for _, key := range o.listed() {
				if !o.exists(key) {
					t.Errorf("referenced object %s… deleted", key[:8])
				}
			}
			if n := len(o.listed()); n != tc.objects {
				t.Errorf("%d objects left, want %d", n, tc.objects)
			}
		})
	}
}

// A callback's row that commits after the batch's read, before the sweep's
// locked check, keeps its object: the read decides no deletion.
func TestRecordingSweeperRechecksUnderTheContentLock(t *testing.T) {
	f := newFixture(t)
	o := newSweepObjects(t, f)
	late := o.put("a recording whose row commits while the sweep runs", 2*time.Hour)
	orphan := o.put("an orphan", 2*time.Hour)
	store := &sweepStore{Store: f.store}
	store.afterRead = func() {
		if o.recs == 0 {
			o.reference(late)
		}
	}
	deleted, err := app.NewRecordingSweeper(store, o.audio, o.clock, nil).Sweep(context.Background(), time.Hour)
	if err != nil || deleted != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 deleted", deleted, err)
	}
	if len(store.batches) != 1 || len(store.batches[0]) != 2 {
		t.Fatalf("batches %q: want one of both objects", store.batches)
	}
	if !o.exists(late) {
		t.Error("the object whose row committed after the batch's read was deleted")
	}
	if o.exists(orphan) {
		t.Error("the orphan was kept")
	}
}

// A batch whose read fails is skipped whole, and counted; the others are swept.
func TestRecordingSweeperSkipsABatchItCannotCheck(t *testing.T) {
	f := newFixture(t)
	o := newSweepObjects(t, f)
	for i := range 7 {
		o.put(fmt.Sprintf("orphan %d", i), 2*time.Hour)
	}
	store := &sweepStore{Store: f.store, failBatch: 2}
	sweeper := app.NewRecordingSweeper(store, o.audio, o.clock, nil)
	app.SetRecordingSweepBatch(sweeper, 3)
	deleted, err := sweeper.Sweep(context.Background(), time.Hour)
	if deleted != 4 || err == nil || !strings.Contains(err.Error(), "3 objects skipped") || !strings.Contains(err.Error(), "replica gone") {
		t.Fatalf("Sweep = %d, %v; want 4 deleted and an error naming 3 objects skipped", deleted, err)
	}
	left := o.listed()
	if len(store.batches) != 3 || !slices.Equal(left, store.batches[1]) {
		t.Errorf("left %q; want the second batch, %q, whole", left, store.batches)
	}
	if deleted, err := sweeper.Sweep(context.Background(), time.Hour); err != nil || deleted != 3 {
		t.Errorf("the next Sweep = %d, %v; want the 3 skipped deleted", deleted, err)
	}
}
