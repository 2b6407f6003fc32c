package jobs_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"callconnect/adapters/audiostore"
	"callconnect/adapters/jobs"
	"callconnect/adapters/postgres"
	"callconnect/adapters/postgres/pgtest"
	"callconnect/adapters/system"
	"callconnect/app"
	"callconnect/domain"
	"callconnect/ports"
)

// sweepFixture is an audio store with, written at the given ages: an
// object no recording refers to (orphan), one a committed recording refers
// to (referenced), a fresh orphan whose row may be about to commit (young),
// and a temporary file a crashed Put left behind (temp).
type sweepFixture struct {
	audio                     *audiostore.FS
	orphan, referenced, young string
	tempPath                  string
}

func newSweepFixture(t *testing.T, store ports.Store, dir string, age time.Duration) *sweepFixture {
	t.Helper()
	ctx := context.Background()
	audio, err := audiostore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := &sweepFixture{audio: audio}
	put := func(content string, age time.Duration) string {
		t.Helper()
		b := []byte(content)
		key := domain.AudioKey(b)
		if err := audio.Put(ctx, key, domain.AudioMPEG, bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
		setAge(t, f.path(key), age)
		return key
	}
	f.orphan = put("the recording of a callback whose transaction failed", age)
	f.referenced = put("a recording whose row committed", age)
	f.young = put("a recording whose row is about to commit", 0)
	f.tempPath = filepath.Join(filepath.Dir(f.path(f.orphan)), "."+f.orphan+".tmp-12345")
	if err := os.WriteFile(f.tempPath, []byte("half a recording"), 0o600); err != nil {
		t.Fatal(err)
	}
	setAge(t, f.tempPath, 2*time.Hour)

	conf := app.NewConfiguration(store)
	if _, err := conf.PutEnvironment(ctx, domain.EnvironmentInput{ID: envID, Name: "Acme Imóveis",
		PublicBaseURL: "https://acme.crm.example.com", CallConnectEnabled: true}); err != nil {
		t.Fatal(err)
	}
	rec, err := domain.NewRecording(domain.RecordingInput{ID: "rec-1", EnvID: envID, LeadID: leadID, SHA256: f.referenced,
		Size: 31, ContentType: domain.AudioMPEG, CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error { return r.PutRecording(ctx, rec) }); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *sweepFixture) path(key string) string {
	return filepath.Join(f.audio.Root(), key[:2], key[2:4], key)
}

func setAge(t *testing.T, path string, age time.Duration) {
	t.Helper()
	at := time.Now().Add(-age)
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

// check waits for a completed sweep job, then checks what it left.
func (f *sweepFixture) check(t *testing.T, ctx context.Context, pool *pgxpool.Pool) {
	t.Helper()
	for {
		var completed int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'sweep_recordings' AND state = 'completed'`).Scan(&completed)
		if err != nil {
			t.Fatal(err)
		}
		if completed > 0 {
			break
		}
		select {
		case <-ctx.Done():
			var states []string
			rows, _ := pool.Query(context.Background(), `SELECT state::text || ' ' || coalesce(errors::text, '') FROM river_job WHERE kind = 'sweep_recordings'`)
			for rows.Next() {
				var s string
				_ = rows.Scan(&s)
				states = append(states, s)
			}
			rows.Close()
			t.Fatalf("no sweep_recordings job completed; jobs: %v", states)
		case <-time.After(20 * time.Millisecond):
		}
	}
	for key, want := range map[string]bool{f.orphan: false, f.referenced: true, f.young: true} {
		obj, err := f.audio.Open(ctx, key)
		if err == nil {
			obj.Close()
		}
		if want && err != nil {
			t.Errorf("object %s…: Open: %v, want it kept", key[:8], err)
		}
		if !want && !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("object %s… (an old orphan): Open: %v, want it deleted", key[:8], err)
		}
	}
	if _, err := os.Stat(f.tempPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file of a crashed Put: Stat: %v, want it removed", err)
	}
}

// TestSweepRecordingsRunsOnStart: a client with the sweep's periodic job
// runs it as soon as it is leader, and the sweep deletes an orphan older
// than the grace, keeps a referenced object and a young orphan, and removes
// an hour-old temporary file.
func TestSweepRecordingsRunsOnStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	pool := newPool(t, pgtest.NewPool(t), 0)
	store, err := postgres.NewStore(pool, testSecretsKey)
	if err != nil {
		t.Fatal(err)
	}
	f := newSweepFixture(t, store, t.TempDir(), 2*time.Minute)

	sweeper := app.NewRecordingSweeper(store, f.audio, system.Clock{}, testLogger(t))
	sweep := jobs.NewSweepRecordingsWorker(sweeper, f.audio, jobs.SweepConfig{Grace: time.Minute, Logger: testLogger(t)})
	workers, err := jobs.NewWorkers(jobs.NewDeliverCallWorker(nil, jobs.WorkerConfig{}), sweep)
	if err != nil {
		t.Fatal(err)
	}
	client, err := jobs.NewClient(pool, workers, jobs.Config{Logger: testLogger(t),
		PeriodicJobs: []*river.PeriodicJob{jobs.SweepRecordingsPeriodicJob()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := client.Stop(stopCtx); err != nil {
			t.Errorf("stopping the client: %v", err)
		}
	})
	f.check(t, ctx, pool)
}
